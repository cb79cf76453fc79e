"""Accuracy metrics: pass@k, maj1@N, majK@N, re-rankers, curves over N."""

import functools

import numpy as np

from keras_mathft.sampling.rerankers import DEFAULT_TOP_K
from keras_mathft.sampling.rerankers import RERANKERS


def pass_at_k(n, c, k):
    """Unbiased pass@k (Chen et al., 2021): `1 - C(n - c, k) / C(n, k)`.

    Args:
        n: int. Samples drawn.
        c: int. Correct samples among them.
        k: int. Budget, `1 <= k <= n`.

    Returns:
        float: the probability that at least one of k samples drawn without
        replacement from the n is correct.

    Example:

    >>> round(pass_at_k(4, 1, 2), 3)
    0.5
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(
            f"Need 0 <= c <= n and 1 <= k <= n. Received: n={n}, c={c}, k={k}"
        )
    if n - c < k:
        return 1.0
    # Product form avoids huge binomials.
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _restrict(clusters, subset):
    """Clusters of a subset of solutions, in the subset's own indices."""
    from keras_mathft.grading import AnswerCluster

    local = {g: i for i, g in enumerate(subset)}
    out = []
    for c in clusters:
        members = tuple(sorted(local[m] for m in c.members if m in local))
        if members:
            out.append(AnswerCluster(c.representative, members))
    out.sort(key=lambda c: (-len(c.members), c.members[0]))
    return out


def _majk(correct, clusters, k):
    return float(any(correct[min(c.members)] for c in clusters[:k]))


def _methods(top_k, top_n, with_scores):
    """`name -> fn(answers, clusters, scores)` of every usable re-ranker."""
    return {
        name: functools.partial(reranker, top_k=top_k, top_n=top_n)
        for name, reranker in RERANKERS.items()
        if with_scores or not reranker.needs_scores
    }


def evaluate(
    problems,
    samples,
    greedy=None,
    scores=None,
    top_k=DEFAULT_TOP_K,
    top_n=DEFAULT_TOP_K,
    n_values=(1, 2, 4, 8, 16, 32, 64),
    trials=32,
    seed=0,
    equivalent=None,
    cluster_fn=None,
    bootstrap=0,
):
    """Accuracy of every metric and re-ranker, overall, per level and subject.

    Correctness of a solution is `equivalent(answer, problem.answer)`.
    Clusters are computed once over all N answers; a subset of n solutions
    uses those clusters restricted to it (re-sorted by size), which keeps
    curves cheap and consistent with the full-N result.

    Args:
        problems: list of `MathProblem`.
        samples: list (aligned with `problems`) of lists of `Sample`.
        greedy: optional list of one greedy `Sample` per problem (pass@1).
        scores: optional list of N evaluator scores per problem; defaults
            to `Sample.score` when every sample has one.
        top_k: int. K of majK@N, `rr_top_k` and `weighted_rr_top_k`.
        top_n: int. N of `maj1_top_n`.
        n_values: sample counts of the curves (those above N are dropped).
        trials: int. Random subsets per n for the curves.
        seed: int. Seed of the subset draws.
        equivalent: optional `(a, b) -> bool`; defaults to
            `grading.answers_equivalent`.
        cluster_fn: optional `answers -> clusters`; defaults to
            `grading.cluster_answers`.
        bootstrap: int. When positive, `overall["intervals"]` gives each
            metric's 95% percentile interval over this many resamplings
            of the problems (with replacement); metric names as in
            `pass@k`, `maj1@N`, and re-ranker names. With scores,
            `overall["against_voting"]` gives each re-ranker's paired
            difference to `maj1@N` on the same resamplings:
            `{"difference": float, "interval": [low, high]}`.

    Returns:
        A JSON-ready dict with `overall`, `by_level`, `by_subject` and
        `curves` (`{method: {"n": [...], "mean": [...], "std": [...]}}`).
    """
    items, num, methods, with_scores = _graded_items(
        problems, samples, greedy, scores, top_k, top_n, equivalent, cluster_fn
    )
    ks = [k for k in n_values if k <= num]
    for it in items:
        it["outcomes"] = _outcomes(it, methods, ks, num, top_k)
    summarize = functools.partial(
        _summarize, methods, ks, num, top_k, greedy is not None
    )
    report = {
        "num_problems": len(problems),
        "num_samples": num,
        "top_k": top_k,
        "top_n": top_n,
        "overall": summarize(items),
        "by_level": _grouped(items, lambda p: str(p.level), summarize),
        "by_subject": _grouped(items, lambda p: p.subject, summarize),
        "curves": _curves(items, methods, num, n_values, trials, seed, top_k),
    }
    if bootstrap:
        _add_intervals(report, items, methods, bootstrap, seed, with_scores)
    return report


def _graded_items(
    problems, samples, greedy, scores, top_k, top_n, equivalent, cluster_fn
):
    """Grades and clusters every problem's first N answers.

    Returns `(items, N, methods, with_scores)`: one dict per problem (its
    answers, correctness, clusters, scores and greedy correctness), the
    sample count N used (the smallest group's), the re-rankers to run and
    whether evaluator scores are known.
    """
    if equivalent is None or cluster_fn is None:
        from keras_mathft import grading

        equivalent = equivalent or grading.answers_equivalent
        cluster_fn = cluster_fn or grading.cluster_answers
    if len(samples) != len(problems):
        raise ValueError(
            "`samples` must hold one list per problem. Received: "
            f"{len(samples)} lists for {len(problems)} problems"
        )
    num = min(len(s) for s in samples) if samples else 0
    if scores is None and all(
        x.score is not None for group in samples for x in group
    ):
        scores = [[x.score for x in group] for group in samples]
    methods = _methods(top_k, top_n, with_scores=scores is not None)
    items = []
    for i, (p, group) in enumerate(zip(problems, samples)):
        answers = [s.answer for s in group[:num]]
        correct = np.asarray(
            [a is not None and bool(equivalent(a, p.answer)) for a in answers]
        )
        item = {
            "problem": p,
            "answers": answers,
            "correct": correct,
            "clusters": list(cluster_fn(answers)),
            "scores": None if scores is None else np.asarray(scores[i])[:num],
        }
        if greedy is not None:
            a = greedy[i].answer
            item["greedy"] = a is not None and bool(equivalent(a, p.answer))
        items.append(item)
    return items, num, methods, scores is not None


def _summarize(methods, ks, num, top_k, with_greedy, subset):
    """The metrics of a subset of items: means of their outcomes."""
    out = {"num_problems": len(subset)}
    if not subset:
        return out

    def mean(name):
        return float(np.mean([it["outcomes"][name] for it in subset]))

    if with_greedy:
        out["pass@1"] = mean("pass@1")
    out["pass@k"] = {str(k): mean(f"pass@{k}") for k in ks}
    out[f"maj1@{num}"] = mean(f"maj1@{num}")
    out[f"maj{top_k}@{num}"] = mean(f"maj{top_k}@{num}")
    out["methods"] = {
        name: {
            "accuracy": mean(name),
            "evaluator_calls": mean(f"{name}:calls"),
        }
        for name in methods
    }
    return out


def _add_intervals(report, items, methods, bootstrap, seed, with_scores):
    """Adds bootstrap intervals (and, with scores, each re-ranker's paired
    difference to voting) to `report["overall"]`."""
    num = report["num_samples"]
    means = _bootstrap_means(items, bootstrap, seed)
    overall = report["overall"]
    overall["intervals"] = {n: _interval(m) for n, m in means.items()}
    if with_scores:
        voting = means[f"maj1@{num}"]
        overall["against_voting"] = {
            name: {
                "difference": overall["methods"][name]["accuracy"]
                - overall[f"maj1@{num}"],
                "interval": _interval(means[name] - voting),
            }
            for name in methods
            if RERANKERS[name].needs_scores
        }


def _outcomes(item, methods, ks, num, top_k):
    """Each metric's value on one problem; a metric is their mean."""
    correct = item["correct"]
    out = {f"pass@{k}": pass_at_k(num, int(correct.sum()), k) for k in ks}
    if "greedy" in item:
        out["pass@1"] = float(item["greedy"])
    out[f"maj1@{num}"] = _pick(item, methods["maj1"])[0]
    out[f"maj{top_k}@{num}"] = _majk(correct, item["clusters"], top_k)
    for name, fn in methods.items():
        out[name], out[f"{name}:calls"] = _pick(item, fn)
    return out


def _bootstrap_means(items, rounds, seed):
    """Each metric's mean over `rounds` resamplings of the problems; the
    same draws for every metric, so differences between them are paired."""
    names = [n for n in items[0]["outcomes"] if not n.endswith(":calls")]
    values = np.asarray([[it["outcomes"][n] for n in names] for it in items])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(items), size=(rounds, len(items)))
    means = values[draws].mean(axis=1)
    return dict(zip(names, means.T))


def _interval(means, level=0.95):
    """The percentile interval of bootstrap means."""
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return [float(low), float(high)]


def _pick(item, fn):
    sel = fn(item["answers"], item["clusters"], item["scores"])
    ok = sel.index is not None and bool(item["correct"][sel.index])
    return float(ok), sel.evaluator_calls


def _grouped(items, key, summarize):
    groups = {}
    for it in items:
        groups.setdefault(key(it["problem"]), []).append(it)
    return {k: summarize(v) for k, v in sorted(groups.items())}


def _curves(items, methods, num, n_values, trials, seed, top_k):
    rng = np.random.default_rng(seed)
    ns = [n for n in n_values if n <= num]
    names = ["pass@n", f"maj{top_k}@n"] + list(methods)
    curves = {name: {"n": ns, "mean": [], "std": []} for name in names}
    for n in ns:
        # pass@n is exact (unbiased estimator), no resampling needed.
        exact = np.mean(
            [pass_at_k(num, int(it["correct"].sum()), n) for it in items]
        )
        curves["pass@n"]["mean"].append(float(exact))
        curves["pass@n"]["std"].append(0.0)
        runs = 1 if n == num else trials
        acc = {name: np.zeros(runs) for name in names[1:]}
        for t in range(runs):
            for it in items:
                subset = np.sort(rng.choice(num, size=n, replace=False))
                correct = it["correct"][subset]
                clusters = _restrict(it["clusters"], subset)
                answers = [it["answers"][j] for j in subset]
                s = None if it["scores"] is None else it["scores"][subset]
                acc[names[1]][t] += _majk(correct, clusters, top_k)
                for name, fn in methods.items():
                    sel = fn(answers, clusters, s)
                    if sel.index is not None and correct[sel.index]:
                        acc[name][t] += 1
        for name in names[1:]:
            values = acc[name] / max(len(items), 1)
            curves[name]["mean"].append(float(values.mean()))
            curves[name]["std"].append(float(values.std()))
    return curves


def evaluator_auc(correct, scores):
    """Area under the ROC curve of evaluator scores for right vs wrong.

    The chance that a random right sample scores above a random wrong one
    (ties count half), over every sample; `None` without both kinds.

    Args:
        correct: list (one per problem) of lists of bools.
        scores: list (one per problem) of lists of evaluator scores.

    Returns:
        float in [0, 1], or `None`.

    Example:

    >>> evaluator_auc([[True, False], [False]], [[0.9, 0.2], [0.9]])
    0.75
    """
    flat_c, flat_s = _flat(correct, scores)
    wins, pairs = _pair_wins(flat_c, flat_s)
    return float(wins / pairs) if pairs else None


def within_problem_auc(correct, scores):
    """AUC of evaluator scores over right/wrong pairs of the same problem.

    The chance that a right sample scores above a wrong sample of the
    same problem (ties count half), pooled over every such (right, wrong)
    pair of every problem: a problem weighs by its number of pairs, and
    problems whose samples are all right or all wrong add none. This is
    what re-ranking one problem's samples uses; `evaluator_auc` also
    compares samples across problems, so an evaluator that only learns
    which problems are easy scores well there and not here. `None` when
    no problem has both kinds.

    Args:
        correct: list (one per problem) of lists of bools.
        scores: list (one per problem) of lists of evaluator scores.

    Returns:
        float in [0, 1], or `None`.

    Example:

    >>> within_problem_auc(
    ...     [[True, False, False], [True, True], [False, True]],
    ...     [[0.9, 0.2, 0.9], [0.1, 0.2], [0.3, 0.1]],
    ... )
    0.5
    """
    if len(correct) != len(scores):
        raise ValueError(
            "`correct` and `scores` must hold one list per problem. "
            f"Received: {len(correct)} and {len(scores)} lists"
        )
    wins = pairs = 0
    for c, s in zip(correct, scores):
        w, p = _pair_wins(*_flat([c], [s]))
        wins, pairs = wins + w, pairs + p
    return float(wins / pairs) if pairs else None


def expected_calibration_error(correct, probabilities, num_bins=10):
    """Expected calibration error of evaluator probabilities P(correct).

    The samples are put in `num_bins` equal-width bins over [0, 1] (a
    probability of exactly 1 goes in the last one); the error is the mean
    over bins of |accuracy - mean probability|, each bin weighted by its
    share of the samples. 0 is perfectly calibrated.

    Args:
        correct: list (one per problem) of lists of bools.
        probabilities: list (one per problem) of lists of probabilities
            in [0, 1], e.g. the evaluator's `score_solutions`.
        num_bins: int, at least 1.

    Returns:
        float in [0, 1], or `None` without samples.

    Raises:
        ValueError: when a probability is outside [0, 1] (or not a
            number), or `num_bins` is not a positive int.

    Example:

    >>> round(expected_calibration_error(
    ...     [[True, False], [True, True]], [[0.9, 0.3], [0.65, 0.75]],
    ...     num_bins=2,
    ... ), 3)
    0.25
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins, int):
        raise ValueError(f"`num_bins` must be an int. Received: {num_bins!r}")
    if num_bins < 1:
        raise ValueError(f"`num_bins` must be at least 1. Received: {num_bins}")
    flat_c, flat_p = _flat(correct, probabilities)
    bad = ~((flat_p >= 0.0) & (flat_p <= 1.0))
    if bad.any():
        raise ValueError(
            "`probabilities` must lie in [0, 1] (evaluator scores that are "
            "not probabilities have no calibration). Received: "
            f"{flat_p[bad][:3].tolist()} among {len(flat_p)} values"
        )
    if not len(flat_p):
        return None
    bins = np.minimum((flat_p * num_bins).astype(int), num_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        gap = flat_c[members].mean() - flat_p[members].mean()
        error += members.sum() * abs(gap)
    return float(error / len(flat_p))


def _flat(correct, scores):
    """Flat bool and float64 arrays of nested per-problem lists."""
    flat_c = np.asarray([c for g in correct for c in g], bool)
    flat_s = np.asarray([s for g in scores for s in g], "float64")
    if flat_c.shape != flat_s.shape:
        raise ValueError(
            "`correct` and the scores must hold one value per sample. "
            f"Received: {len(flat_c)} and {len(flat_s)} values"
        )
    return flat_c, flat_s


def _pair_wins(correct, scores):
    """`(wins, pairs)`: right-over-wrong pairs won (ties half), and all."""
    right, wrong = scores[correct], np.sort(scores[~correct])
    below = np.searchsorted(wrong, right, side="left")
    tied = np.searchsorted(wrong, right, side="right") - below
    return float(below.sum() + tied.sum() / 2), len(right) * len(wrong)
