"""Study 1's figures: accuracy against evaluator data, against N, and
against within-problem AUC."""

import os

import numpy as np
import sizes
import stats

from keras_mathft import sampling


def evaluator_figures(rows, results, synthetic, base, directory):
    """Accuracy against evaluator data, against N at the best point, and
    against within-problem AUC (synthetic and trained evaluators).

    Returns:
        The names of the PNG files written in `directory`; none without
        matplotlib.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "matplotlib is not installed: no figures (pip install "
            "'keras_mathft[benchmarks]')"
        )
        return []
    return [
        _against_data(plt, rows, base, directory),
        _against_n(plt, rows, results, base, directory),
        _against_within_auc(plt, rows, synthetic, base, directory),
    ]


def _against_data(plt, rows, base, directory):
    k = base.sampling.top_k_clusters
    fig, ax = plt.subplots(figsize=(6, 4))
    for loss in sorted({r["point"][2] for r in rows}):
        for metric in ("maj1@N", "rr_top_k", "weighted_rr_top_k"):
            line = sorted(
                (r["point"][0], r[metric])
                for r in rows
                if r["point"][2] == loss and r["point"][1] == 10
            )
            if not line:
                continue
            x = [p for p, _ in line]
            mean = np.asarray([100 * v[0] for _, v in line])
            low = mean - [100 * v[1] for _, v in line]
            high = [100 * v[2] for _, v in line] - mean
            label = (
                "Maj1@N"
                if metric == "maj1@N"
                else sampling.RERANKERS[metric].display_name(k)
            )
            ax.errorbar(
                x,
                mean,
                yerr=[low, high],
                marker="o",
                capsize=3,
                label=f"{label} ({loss})",
            )
    ax.set_xscale("log")
    ax.set_xlabel("evaluator training problems (10 pairs / problem max)")
    return _save(plt, fig, ax, directory, "evaluator_data")


def _against_n(plt, rows, results, base, directory):
    k = base.sampling.top_k_clusters
    best = max(
        rows,
        key=lambda r: (r["within_problem_auc_test"] or (-1, 0))[0],
    )
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, label in (
        ("maj1", "Maj1"),
        ("rr_top_k", sampling.RERANKERS["rr_top_k"].display_name(k)),
        ("pass@n", "Pass@n"),
    ):
        curves = [r["curves"][method] for r in results[best["point"]]]
        mean = 100 * np.mean([c["mean"] for c in curves], axis=0)
        ax.plot(curves[0]["n"], mean, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("samples per test problem (n)")
    ax.set_title(
        f"best evaluator: {sizes.point_name(best['point'])}", fontsize=9
    )
    return _save(plt, fig, ax, directory, "n")


def _against_within_auc(plt, rows, synthetic, base, directory):
    labels = stats.labels(base)
    fig, ax = plt.subplots(figsize=(6, 4))
    x = [r["target_auc"] for r in synthetic]
    for metric in ("maj1@N", "rr_all", "rr_top_k", "weighted_rr_top_k"):
        mean = [100 * r[metric][0] for r in synthetic]
        ax.plot(x, mean, marker="o", label=f"{labels[metric]} (synthetic)")
    trained = [r for r in rows if r["within_problem_auc_test"] is not None]
    ax.scatter(
        [r["within_problem_auc_test"][0] for r in trained],
        [100 * r["rr_top_k"][0] for r in trained],
        color="black",
        marker="x",
        label=f"{labels['rr_top_k']} (trained evaluators)",
    )
    ax.set_xlabel("within-problem AUC on test (synthetic: as set)")
    return _save(plt, fig, ax, directory, "within_auc")


def _save(plt, fig, ax, directory, against):
    """Labels, saves and closes an accuracy figure; returns its name."""
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    name = f"findings_accuracy_vs_{against}.png"
    fig.savefig(os.path.join(directory, name), dpi=120)
    plt.close(fig)
    return name
