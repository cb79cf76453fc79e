"""Issue 29's section of the report: tables, the verdict and a figure."""

import os

import common
import numpy as np
import process_arms
import sizes
import stats

FLAGS = common.FLAGS
NAMES = {
    "outcome": "outcome (paper pairs)",
    "outcome_hard": "outcome, hard pairs",
    "process_exact": "process, exact labels",
    "process_mc": "process, Monte-Carlo labels",
}
ACCURACY = ("maj1@N", "rr_all", "rr_top_k", "weighted_rr_top_k", "pass@N")


def rows(results):
    """One row per (arm, score variant): quality mean ± std over seeds,
    accuracy mean and two-level bootstrap interval."""
    out = []
    for arm, per_seed in results.items():
        for variant in per_seed[0]["variants"]:
            cells = [r["variants"][variant] for r in per_seed]
            row = {"arm": arm, "variant": variant, "seeds": len(per_seed)}
            for name in (
                "within_problem_auc_test",
                "within_problem_auc_train",
                "auc_test",
                "between_cluster_share",
            ):
                row[name] = stats.mean_std([c[name] for c in cells])
            for name in ("steps", "pairs", "step_auc_test"):
                row[name] = stats.mean_std([r.get(name) for r in per_seed])
            for name in sizes.ACCURACY:
                row[name] = stats.mean_interval(
                    [c["per_problem"][name] for c in cells], FLAGS.bootstrap
                )
            out.append(row)
    return out


def markdown(results, labels, synthetic_results, table, base, seeds, wall):
    """The study's section of `--markdown`."""
    table_rows = rows(results)
    names = stats.labels(base)
    figure = figure_within_auc(table_rows, synthetic_results, base)
    lines = [
        "# Issue 29: an evaluator that checks instead of guessing the answer",
        "",
        f"Command: {common.command('process', seeds)}, "
        f"{common.wall_text(wall)}.",
        "",
        *_settings(table, base),
        *_label_lines(labels, table),
        *_quality_table(table_rows),
        *_accuracy_table(table_rows, names),
        "",
        verdict(table_rows, names),
        "",
    ]
    if figure:
        lines += [f"![{figure}]({figure})", ""]
    return "\n".join(lines)


def _settings(table, base):
    settings = base.resolved_settings()
    return [
        "Settings (written down before any result): every seed reuses the "
        f"evaluator study's base run (resolved `{settings}`), and every "
        f"arm trains from its SSFT weights: `{table}`. An arm trains "
        f"{process_arms.EPOCHS} passes over its pairs, at least `min_steps` "
        "and at most the paper arm's steps, with the recipe's evaluation phase "
        "(learning rate, batch, schedule). Outcome arms use the margin "
        "loss; process arms the cross-entropy on every labelled step plus "
        "the margin between a good and a bad step of the same problem "
        "(equal weights), and a solution's score is the minimum or the "
        "product of its step scores. Accuracy (%) is the mean over "
        "seeds with a 95% interval from the two-level bootstrap of study 1 "
        f"({FLAGS.bootstrap} rounds: seeds, then test problems); quality "
        "is mean ± std over seeds.",
        "",
    ]


def _label_lines(labels, table):
    mean = {
        key: np.mean([x[key] for x in labels])
        for key in (
            "steps",
            "all_right",
            "first_step_wrong",
            "right_answer_wrong_step",
        )
    }
    cost = labels[0]["mc_cost"]
    agree = labels[0]["mc_agreement"]
    per = cost["seconds"] / max(1, cost["solutions"])
    return [
        "**Step labels of the training samples** (exact): "
        f"{mean['steps']:.2f} steps a sample; {100 * mean['all_right']:.1f}% "
        f"right throughout, {100 * mean['first_step_wrong']:.1f}% wrong "
        "from the first step, and "
        f"{100 * mean['right_answer_wrong_step']:.1f}% of the samples with "
        "the right answer reach it through a wrong step.",
        "",
        f"**Monte-Carlo labels** (seed {labels[0].get('seed', 'first')}: "
        f"k = {table['num_rollouts']}, a step good with "
        f"{table['min_right']} right rollout(s)): {cost['solutions']} "
        f"samples of the first {table['mc_problems']} problems, "
        f"{cost['steps']} steps, {cost['rollouts']} rollouts, "
        f"{cost['tokens']} tokens in {cost['seconds']:.0f} s "
        f"({per:.2f} s a sample). Against the exact labels of the same "
        f"steps ({agree['steps']} compared): agreement "
        f"{_share(agree['agreement'])}, right steps labelled wrong "
        f"{_share(agree['right_as_wrong'])}, wrong steps labelled right "
        f"{_share(agree['wrong_as_right'])}.",
        "",
    ]


def _share(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _quality_table(table_rows):
    q = stats.quality
    lines = [
        "**Evaluator quality**",
        "",
        "| Evaluator | Score | Steps | Pairs | Within-problem AUC train | "
        "Within-problem AUC test | AUC test | Between-cluster share | "
        "Step AUC test |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in table_rows:
        lines.append(
            f"| {NAMES[r['arm']]} | {r['variant']} | {q(r['steps'], 0)} | "
            f"{q(r['pairs'], 0)} | {q(r['within_problem_auc_train'])} | "
            f"{q(r['within_problem_auc_test'])} | {q(r['auc_test'])} | "
            f"{q(r['between_cluster_share'])} | {q(r['step_auc_test'])} |"
        )
    return lines + [""]


def _accuracy_table(table_rows, names):
    lines = [
        "**Accuracy on the test problems (%)**",
        "",
        "| Evaluator | Score | "
        + " | ".join(names[m] for m in ACCURACY)
        + " |",
        "| --- | --- |" + " ---: |" * len(ACCURACY),
    ]
    for r in table_rows:
        cells = " | ".join(stats.percent(r[m]) for m in ACCURACY)
        lines.append(f"| {NAMES[r['arm']]} | {r['variant']} | {cells} |")
    return lines


def verdict(table_rows, names):
    """Whether RR.Top-K or W.RR.Top-K beats Maj1@N by 3 points with
    non-overlapping intervals, for any evaluator."""
    wins = []
    for r in table_rows:
        for m in ("rr_top_k", "weighted_rr_top_k"):
            mean, low, _ = r[m]
            vote, _, high = r["maj1@N"]
            if mean - vote >= 0.03 and low > high:
                wins.append(f"{names[m]} of {NAMES[r['arm']]} ({r['variant']})")
    best = max(table_rows, key=lambda r: r["rr_top_k"][0] - r["maj1@N"][0])
    gap = 100 * (best["rr_top_k"][0] - best["maj1@N"][0])
    if wins:
        return "Re-ranking beats voting (>= 3 points, intervals apart): " + (
            "; ".join(wins) + "."
        )
    return (
        (
            "No evaluator's RR.Top-K or W.RR.Top-K beats Maj1@N by 3 points "
            f"with intervals apart; the best RR.Top-K is {NAMES[best['arm']]} "
            f"({best['variant']}), {gap:+.1f} points from Maj1@N."
        )
        .replace("RR.Top-K", names["rr_top_k"])
        .replace("Maj1@N", names["maj1@N"])
    )


def figure_within_auc(table_rows, synthetic_results, base):
    """Accuracy against within-problem AUC: the synthetic evaluators'
    curves and each trained evaluator; the PNG's name, or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import synthetic

    curve = synthetic.rows(synthetic_results, FLAGS.bootstrap)
    names = stats.labels(base)
    fig, ax = plt.subplots(figsize=(6, 4))
    x = [r["target_auc"] for r in curve]
    for metric in ("maj1@N", "rr_top_k", "weighted_rr_top_k"):
        ax.plot(
            x,
            [100 * r[metric][0] for r in curve],
            marker="o",
            label=f"{names[metric]} (synthetic)",
        )
    for marker, metric in (("x", "rr_top_k"), ("+", "weighted_rr_top_k")):
        for r in table_rows:
            if r["within_problem_auc_test"] is None:
                continue
            ax.scatter(
                r["within_problem_auc_test"][0],
                100 * r[metric][0],
                marker=marker,
                color="black",
            )
            ax.annotate(
                f"{r['arm']}/{r['variant']}",
                (r["within_problem_auc_test"][0], 100 * r[metric][0]),
                fontsize=5,
            )
    ax.set_xlabel("within-problem AUC on test (synthetic: as set)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    name = "findings_process_vs_within_auc.png"
    directory = os.path.dirname(os.path.abspath(FLAGS.markdown))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(os.path.join(directory, name), dpi=120)
    plt.close(fig)
    return name
