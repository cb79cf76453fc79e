"""Synthetic evaluators of set quality, and where real ones err.

Synthetic scores re-rank a base run's test samples at set within-problem
AUCs (`evaluators`): what re-ranking can do on those clusters, apart from
how well an evaluator is trained. `error_clustering` measures how the
trained evaluators' mistakes lie over answer clusters.
"""

import math
import statistics

import common
import numpy as np
import sizes
import stats

from keras_mathft import grading
from keras_mathft import sampling


def draw_scores(correct, auc, rng):
    """Scores whose right-over-wrong AUC is `auc` in expectation: sigmoids
    of logits N(d, 1) for right samples and N(0, 1) for wrong ones, with
    Phi(d / sqrt(2)) = auc (the difference of the two is N(d, 2))."""
    shift = math.sqrt(2) * statistics.NormalDist().inv_cdf(auc)
    logits = [
        shift * np.asarray(row, "float64") + rng.normal(size=len(row))
        for row in correct
    ]
    return [(1 / (1 + np.exp(-x))).tolist() for x in logits]


def between_cluster_share(clusters, correct, scores):
    """Share of the wrong samples' score variance that lies between their
    answer clusters, pooled over problems (log-odds of the scores).

    Near the independent-error baseline, an evaluator's mistakes are
    spread over samples; well above it, it scores the wrong samples of
    one answer alike, so a plausible wrong answer is lifted whole.
    """
    between = total = 0.0
    for groups, right, values in zip(clusters, correct, scores):
        p = np.clip(np.asarray(values, "float64"), 1e-6, 1 - 1e-6)
        logits = np.log(p / (1 - p))
        wrong = [list(c.members) for c in groups if not right[c.members[0]]]
        if len(wrong) < 2:
            continue
        mean = np.mean(logits[[i for m in wrong for i in m]])
        for members in wrong:
            total += float(np.sum((logits[members] - mean) ** 2))
            between += len(members) * (np.mean(logits[members]) - mean) ** 2
    return between / total if total else None


def graded_test_samples(base):
    """`(test problems, greedy solutions, samples, each sample's
    correctness)` of a base run."""
    test, greedy, samples, _ = stats.read_test_stages(base)
    correct = [
        [grading.answers_equivalent(x.answer, p.answer) for x in group]
        for p, group in zip(test, samples)
    ]
    return test, greedy, samples, correct


def error_clustering(base, study, steps):
    """`between_cluster_share` of each trained evaluator of one seed,
    and of independent errors (`draw_scores`) on the same clusters.

    Args:
        base: the seed's base run.
        study: the evaluator study's size entry.
        steps: `{point: evaluator steps}` of the seed's finished points.
    """
    _, _, samples, correct = graded_test_samples(base)
    clusters = [grading.cluster_answers([x.answer for x in g]) for g in samples]
    out = {}
    for point in study["points"]:
        config = sizes.point_config(base, point, steps[tuple(point)])
        with common.opened(config) as run:
            trained = common.read_json(run.path("test.scores"))
        out[sizes.point_name(point)] = between_cluster_share(
            clusters, correct, trained
        )
    rng = np.random.default_rng(base.run.seed)
    out["independent"] = between_cluster_share(
        clusters, correct, draw_scores(correct, 0.65, rng)
    )
    return out


def evaluators(base):
    """Every re-ranker on a base run's test samples, with the scores of
    synthetic evaluators of set quality.

    One per AUC of `SYNTHETIC_AUCS` (`draw_scores`), its errors independent
    of the sample. This separates what re-ranking can do on these
    clusters from how well an evaluator is trained.
    """
    test, greedy, samples, correct = graded_test_samples(base)
    rng = np.random.default_rng(base.run.seed)
    out = []
    for auc in sizes.SYNTHETIC_AUCS:
        synthetic = draw_scores(correct, auc, rng)
        out.append(
            {
                "target_auc": auc,
                "within_problem_auc_test": sampling.within_problem_auc(
                    correct, synthetic
                ),
                "per_problem": stats.per_problem(
                    base, test, samples, greedy, synthetic
                ),
            }
        )
    return out


def rows(synthetic, rounds):
    """Per synthetic AUC: each accuracy metric's mean and interval over
    seeds, and the measured within-problem AUC's mean and std."""
    out = []
    for i, auc in enumerate(sizes.SYNTHETIC_AUCS):
        per_seed = [seed[i] for seed in synthetic]
        measured = [
            r["within_problem_auc_test"]
            for r in per_seed
            if r["within_problem_auc_test"] is not None
        ]
        row = {
            "target_auc": auc,
            "measured": (float(np.mean(measured)), float(np.std(measured)))
            if measured
            else None,
        }
        for name in sizes.ACCURACY:
            row[name] = stats.mean_interval(
                [r["per_problem"][name] for r in per_seed], rounds
            )
        out.append(row)
    return out
