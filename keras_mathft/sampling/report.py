"""Writes an `evaluate` result as JSON, a markdown table and a PNG plot."""

import json
import pathlib

from keras_mathft.sampling.rerankers import RERANKERS


def _label(name, k=None):
    # Re-rankers by their table label; curve names (pass@n, ...) as they are.
    return RERANKERS[name].display_name(k) if name in RERANKERS else name


def markdown_table(result):
    """A markdown table in the layout of the paper's re-ranking table.

    Args:
        result: the dict returned by `metrics.evaluate`.

    Returns:
        str: metric rows (pass@1, pass@N, maj1@N, majK@N) then one row per
        re-ranker with its accuracy and mean evaluator calls per problem;
        a 95% interval column when `result` has bootstrap intervals.
    """
    o = result["overall"]
    n, k = result["num_samples"], result["top_k"]
    intervals = o.get("intervals")
    rows = []
    if "pass@1" in o:
        rows.append(("Pass@1 (greedy)", "pass@1", o["pass@1"], 0))
    if str(n) in o.get("pass@k", {}):
        rows.append((f"Pass@{n}", f"pass@{n}", o["pass@k"][str(n)], 0))
    rows.append((f"Maj{k}@{n} (oracle)", f"maj{k}@{n}", o[f"maj{k}@{n}"], 0))
    for name, m in o.get("methods", {}).items():
        rows.append(
            (_label(name, k), name, m["accuracy"], m["evaluator_calls"])
        )
    header = f"| Method (N = {n}, K = {k}) | Accuracy (%) |"
    rule = "| --- | ---: |"
    if intervals:
        header, rule = header + " 95% interval |", rule + " :---: |"
    lines = [header + " Evaluator calls |", rule + " ---: |"]
    for label, name, accuracy, calls in rows:
        cells = [label, f"{100 * accuracy:.1f}"]
        if intervals:
            cells.append(_percent_interval(intervals[name]))
        cells.append(f"{calls:.1f}" if calls else "0")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _percent_interval(interval):
    low, high = interval
    return f"[{100 * low:.1f}, {100 * high:.1f}]"


def against_voting(result):
    """Says, per scored re-ranker, whether one run tells it from voting.

    A run's test set is small enough that re-ranking and majority voting
    often differ by less than chance: each line gives the difference to
    maj1@N in points, its paired 95% bootstrap interval, and whether the
    two methods' own intervals overlap.

    Args:
        result: the dict returned by `metrics.evaluate` with `bootstrap`
            and scores.

    Returns:
        list of str, one line per re-ranker (empty without intervals).

    Example:

    >>> from keras_mathft.data import MathProblem
    >>> from keras_mathft.sampling import Sample, evaluate
    >>> problem = MathProblem("1+1?", "$\\\\boxed{2}$", "2", unique_id="p")
    >>> samples = [Sample("p", i, "", a, 1) for i, a in enumerate("223")]
    >>> result = evaluate(
    ...     [problem] * 4, [samples] * 4, scores=[[0.2, 0.1, 0.9]] * 4,
    ...     top_k=2, top_n=2, n_values=(3,), bootstrap=100,
    ... )
    >>> against_voting(result)[0]  # doctest: +ELLIPSIS
    'RR.All - Maj1@3: -100.0 points, paired 95% interval [-100.0, -100.0]...'
    """
    o = result["overall"]
    n, k = result["num_samples"], result["top_k"]
    voting = f"maj1@{n}"
    lines = []
    for name, versus in o.get("against_voting", {}).items():
        low, high = versus["interval"]
        overlap = _overlap(o["intervals"][name], o["intervals"][voting])
        if low > 0 or high < 0:
            verdict = "above" if low > 0 else "below"
            verdict = f"{verdict} voting in this run"
        else:
            verdict = "this run cannot tell them apart"
        lines.append(
            f"{_label(name, k)} - Maj1@{n}: "
            f"{100 * versus['difference']:+.1f} points, paired 95% interval "
            f"[{100 * low:+.1f}, {100 * high:+.1f}]; their intervals "
            f"{'overlap' if overlap else 'do not overlap'}: {verdict}."
        )
    return lines


def _overlap(first, second):
    return first[0] <= second[1] and second[0] <= first[1]


def _breakdown(result, key, title):
    groups = result[key]
    if not groups:
        return ""
    names = list(result["overall"].get("methods", {}))
    header = f"| {title} | problems | " + " | ".join(_label(m) for m in names)
    lines = [header + " |", "|" + " --- |" * (len(names) + 2)]
    for g, o in groups.items():
        cells = [f"{100 * o['methods'][m]['accuracy']:.1f}" for m in names]
        lines.append(
            f"| {g} | {o['num_problems']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


# The evaluator's quality, as the recipe reports it (`result["recipe"]`).
_EVALUATOR_QUALITY = (
    ("evaluator_auc", "AUC"),
    ("evaluator_within_problem_auc", "within-problem AUC"),
    ("evaluator_ece", "ECE"),
)


def _evaluator_line(result):
    recipe = result.get("recipe", {})
    if not any(name in recipe for name, _ in _EVALUATOR_QUALITY):
        return None
    cells = [
        f"{label} "
        + ("n/a" if recipe.get(name) is None else f"{recipe[name]:.3f}")
        for name, label in _EVALUATOR_QUALITY
    ]
    return "Evaluator on the test samples: " + ", ".join(cells) + ".\n"


def plot_curves(result, path):
    """Saves accuracy vs N (mean, shaded +- std) for every method as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in result["curves"].items():
        label = _label(name)
        mean = [100 * v for v in c["mean"]]
        std = [100 * v for v in c["std"]]
        ax.plot(c["n"], mean, marker="o", label=label)
        ax.fill_between(
            c["n"],
            [m - s for m, s in zip(mean, std)],
            [m + s for m, s in zip(mean, std)],
            alpha=0.2,
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (samples per problem)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(result, directory, title="Sampling and re-ranking"):
    """Writes `report.json`, `report.md` and `accuracy_vs_n.png`.

    A recipe's report (`result["recipe"]`) also gets a line of the
    evaluator's quality: AUC, within-problem AUC and ECE.

    Args:
        result: the dict returned by `metrics.evaluate`.
        directory: output folder (created when missing).
        title: str. Heading of the markdown report.

    Returns:
        dict of the three written paths.

    Example:

    >>> from keras_mathft.data import MathProblem
    >>> from keras_mathft.sampling import Sample, evaluate
    >>> problem = MathProblem("1+1?", "$\\\\boxed{2}$", "2", unique_id="p")
    >>> samples = [Sample("p", i, "", a, 1) for i, a in enumerate("223")]
    >>> result = evaluate([problem], [samples], n_values=(1, 3))
    >>> sorted(p.name for p in write_report(result, "out").values())
    ['accuracy_vs_n.png', 'report.json', 'report.md']
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": directory / "report.json",
        "markdown": directory / "report.md",
        "png": directory / "accuracy_vs_n.png",
    }
    paths["json"].write_text(json.dumps(result, indent=1), encoding="utf-8")
    md = [
        f"# {title}\n",
        f"{result['num_problems']} problems, N = {result['num_samples']}.\n",
        markdown_table(result),
        *filter(None, [_evaluator_line(result)]),
        *(line + "\n" for line in against_voting(result)),
        "## By level\n",
        _breakdown(result, "by_level", "level"),
        "## By subject\n",
        _breakdown(result, "by_subject", "subject"),
        f"![accuracy vs N]({paths['png'].name})\n",
    ]
    paths["markdown"].write_text("\n".join(md), encoding="utf-8")
    plot_curves(result, paths["png"])
    return paths
