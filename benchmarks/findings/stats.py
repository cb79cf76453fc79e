"""Per-problem outcomes, bootstrap intervals and table cells."""

import common
import numpy as np
import sizes

from keras_mathft import sampling
from keras_mathft.recipes import load_problems


def headline(result):
    """pass@1, maj1@N and pass@N of a `sampling.evaluate` result."""
    o, n = result["overall"], result["num_samples"]
    return {
        "pass@1": o["pass@1"],
        "maj1@N": o[f"maj1@{n}"],
        "pass@N": o["pass@k"][str(n)],
    }


def per_problem(config, test, samples, greedy, scores):
    """Each accuracy metric's value on each test problem (their mean is
    the report's), for the bootstrap over problems."""
    n, k = config.sampling.num_samples, config.sampling.top_k_clusters
    out = {name: [] for name in sizes.ACCURACY}
    for problem, group, first, group_scores in zip(
        test, samples, greedy, scores
    ):
        o = sampling.evaluate(
            [problem],
            [group],
            greedy=[first],
            scores=[group_scores],
            top_k=k,
            top_n=k,
            n_values=(n,),
            trials=1,
        )["overall"]
        values = {
            "maj1@N": o[f"maj1@{n}"],
            "majK@N": o[f"maj{k}@{n}"],
            "pass@N": o["pass@k"][str(n)],
            **{m: o["methods"][m]["accuracy"] for m in sizes.METHODS[1:]},
        }
        for name in sizes.ACCURACY:
            out[name].append(values[name])
    return out


def read_test_stages(config, with_scores=False):
    """`(test problems, greedy solutions, samples, scores)` of a finished
    run, aligned with the problems; `scores` is None unless `with_scores`.
    """
    test = load_problems(config)[1]
    with common.opened(config) as run:
        greedy = [g[0] for g in common.aligned(run.store("test.greedy"), test)]
        samples = common.aligned(run.store("test.samples"), test)
        scores = None
        if with_scores:
            scores = common.read_json(run.path("test.scores"))
    return test, greedy, samples, scores


def outcomes(config, with_scores=False):
    """`(per_problem, samples)` of a run's test stages: each problem's
    Pass@1, Maj1@N and Pass@N (and, `with_scores`, every re-ranker's),
    for the bootstrap over problems."""
    test, greedy, samples, scores = read_test_stages(config, with_scores)
    n = config.sampling.num_samples
    out = {"pass@1": [], "maj1@N": [], "pass@N": []}
    for problem, group, first in zip(test, samples, greedy):
        o = sampling.evaluate(
            [problem], [group], greedy=[first], n_values=(n,), trials=1
        )
        for name, value in headline(o).items():
            out[name].append(value)
    if with_scores:
        out.update(per_problem(config, test, samples, greedy, scores))
    return out, samples


def mean_interval(per_seed, rounds, seed=0):
    """`(mean, low, high)`: the mean over seeds of each seed's mean over
    test problems, and its 95% interval.

    Two-level bootstrap: each round draws the seeds with replacement,
    then each drawn seed's test problems with replacement, and averages;
    the interval holds the middle 95% of the rounds' means. It so counts
    both the test set's sampling and the spread over seeds (training
    data, initialisation and samples).
    """
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(v, "float64") for v in per_seed]
    means = np.empty(rounds)
    for r in range(rounds):
        drawn = [arrays[j] for j in rng.integers(0, len(arrays), len(arrays))]
        means[r] = np.mean(
            [a[rng.integers(0, len(a), len(a))].mean() for a in drawn]
        )
    low, high = np.percentile(means, [2.5, 97.5])
    mean = np.mean([a.mean() for a in arrays])
    return float(mean), float(low), float(high)


def percent(value):
    """`(mean, low, high)` as a table cell in %."""
    mean, low, high = (100 * v for v in value)
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"


def accuracy_cell(per_seed, key, name):
    """The bootstrap cell of metric `name` of the results' `key`."""
    values = [r[key][name] for r in per_seed]
    return percent(mean_interval(values, common.FLAGS.bootstrap))


def mean_std(values):
    """`(mean, std)` over the values that are not None, or None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values))


def quality(value, digits=3):
    """`(mean, std)` or `None` as a table cell."""
    if value is None:
        return "n/a"
    return f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def labels(base):
    """Each accuracy metric's display name."""
    n, k = base.sampling.num_samples, base.sampling.top_k_clusters
    return {
        "maj1@N": f"Maj1@{n}",
        "majK@N": f"Maj{k}@{n}",
        "pass@N": f"Pass@{n}",
        **{m: sampling.RERANKERS[m].display_name(k) for m in sizes.METHODS[1:]},
    }
