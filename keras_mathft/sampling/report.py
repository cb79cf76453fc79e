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
        re-ranker with its accuracy and mean evaluator calls per problem.
    """
    o = result["overall"]
    n, k = result["num_samples"], result["top_k"]
    lines = [
        f"| Method (N = {n}, K = {k}) | Accuracy (%) | Evaluator calls |",
        "| --- | ---: | ---: |",
    ]
    if "pass@1" in o:
        lines.append(f"| Pass@1 (greedy) | {100 * o['pass@1']:.1f} | 0 |")
    if str(n) in o.get("pass@k", {}):
        lines.append(f"| Pass@{n} | {100 * o['pass@k'][str(n)]:.1f} | 0 |")
    lines.append(f"| Maj{k}@{n} (oracle) | {100 * o[f'maj{k}@{n}']:.1f} | 0 |")
    for name, m in o.get("methods", {}).items():
        label = _label(name, k)
        lines.append(
            f"| {label} | {100 * m['accuracy']:.1f} | "
            f"{m['evaluator_calls']:.1f} |"
        )
    return "\n".join(lines) + "\n"


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
        "## By level\n",
        _breakdown(result, "by_level", "level"),
        "## By subject\n",
        _breakdown(result, "by_subject", "subject"),
        f"![accuracy vs N]({paths['png'].name})\n",
    ]
    paths["markdown"].write_text("\n".join(md), encoding="utf-8")
    plot_curves(result, paths["png"])
    return paths
