"""Study 1's section of the report: the sweep's and the synthetic
evaluators' tables."""

import common
import numpy as np
import sizes
import stats

FLAGS = common.FLAGS


def evaluator_markdown(rows, study, base, seeds, wall, figures):
    """The sweep's part: settings, evaluator quality, accuracy, figures."""
    labels = stats.labels(base)
    lines = [
        *_intro(rows, study, base, seeds, wall),
        *_quality_table(rows),
        *_accuracy_table(rows, labels),
        "",
        _first_passing(rows, labels),
        "",
        *(f"![{name}]({name})" for name in figures),
        "",
    ]
    return "\n".join(lines)


def _key(row):
    problems, pairs, loss = row["point"]
    return f"| {problems} | {pairs} | {loss} |"


def _intro(rows, study, base, seeds, wall):
    n, k = base.sampling.num_samples, base.sampling.top_k_clusters
    return [
        "# Issue 13, study 1: re-ranking against voting as the evaluator "
        "improves",
        "",
        f"Command: {common.command('evaluator', seeds)}. {len(rows)} of "
        f"{len(study['points'])} points finished, {common.wall_text(wall)}.",
        "",
        "Settings of the base runs (fixed before any result; every point "
        f"reuses its seed's SSFT model and samples): `{study['base']}`, "
        f"resolved `{base.resolved_settings()}`. Each evaluator trains "
        f"from the SSFT weights for {sizes.EPOCHS} passes over its pairs "
        "(margin) or examples (xent), at least "
        f"{study['min_steps']} steps. Test: "
        f"{base.data.num_test_problems} problems, N = {n}, K = {k}.",
        "",
        "Accuracy (%) is the mean over seeds, with a 95% interval from a "
        "two-level bootstrap: each round resamples the seeds, then each "
        "seed's test problems, with replacement "
        f"({FLAGS.bootstrap} rounds), so it holds both the test set's "
        "sampling and the spread over seeds. Evaluator quality is the mean "
        "± std over seeds. The within-problem AUC compares right and wrong "
        "samples of the same problem (what re-ranking uses); on train it "
        "is measured on the evaluator's own training problems (the first "
        f"{study['train_auc_problems']} at most).",
        "",
    ]


def _quality_table(rows):
    quality = stats.quality
    lines = [
        "**Evaluator quality**",
        "",
        "| Problems | Pairs / problem (max) | Loss | Steps | Pairs | AUC "
        "train | AUC test | Within-problem AUC train | Within-problem AUC "
        "test | ECE test |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: |",
    ]
    for row in rows:
        lines.append(
            f"{_key(row)} {quality(row['steps'], 0)} | "
            f"{quality(row['pairs'], 0)} | {quality(row['auc_train'])} | "
            f"{quality(row['auc'])} | "
            f"{quality(row['within_problem_auc_train'])} | "
            f"{quality(row['within_problem_auc_test'])} | "
            f"{quality(row['ece'])} |"
        )
    return lines


def _accuracy_table(rows, labels):
    lines = [
        "",
        "**Accuracy on the test problems (%)**",
        "",
        "| Problems | Pairs / problem (max) | Loss | "
        + " | ".join(labels[m] for m in sizes.ACCURACY)
        + " |",
        "| ---: | ---: | --- |" + " ---: |" * len(sizes.ACCURACY),
    ]
    for row in rows:
        lines.append(
            _key(row)
            + " "
            + " | ".join(stats.percent(row[m]) for m in sizes.ACCURACY)
            + " |"
        )
    return lines


def _first_passing(rows, labels):
    """Where re-ranking first passes voting, as a sentence."""
    passing = [r for r in rows if r["rr_top_k"][0] > r["maj1@N"][0]]
    if not passing:
        return (
            f"{labels['rr_top_k']} does not pass {labels['maj1@N']} at any "
            "point of the sweep."
        )
    best = min(passing, key=lambda r: (r["auc"] or (1, 0))[0])
    return (
        f"{labels['rr_top_k']} passes {labels['maj1@N']} (in the mean) "
        f"first at a test AUC of {stats.quality(best['auc'])} "
        "(within-problem "
        f"{stats.quality(best['within_problem_auc_test'])}), at "
        "{} problems, at most {} pairs each, {} loss.".format(*best["point"])
    )


def synthetic_markdown(synthetic, trained, clustering, base, figure):
    """The synthetic evaluators' part, and where trained ones err."""
    labels = stats.labels(base)
    lines = [
        *_synthetic_table(synthetic, labels),
        "",
        _synthetic_verdict(synthetic, trained, labels),
    ]
    if figure:
        lines += ["", f"![{figure}]({figure})"]
    lines += _clustering_table(trained, clustering)
    return "\n".join(lines + [""])


def _synthetic_table(synthetic, labels):
    names = ("maj1@N", "rr_all", "rr_top_k", "weighted_rr_top_k", "majK@N")
    lines = [
        "",
        "**Synthetic evaluators: the quality re-ranking needs**",
        "",
        "The same test samples of each seed's base run, re-ranked with "
        "the scores of synthetic evaluators of set within-problem AUC: a "
        "right sample's logit is drawn from N(d, 1), a wrong one's from "
        "N(0, 1), independently of the sample (`synthetic.evaluators`). "
        "Intervals as above.",
        "",
        "| Within-problem AUC (set) | measured | "
        + " | ".join(labels[m] for m in names)
        + " |",
        "| ---: | ---: |" + " ---: |" * len(names),
    ]
    for row in synthetic:
        lines.append(
            f"| {row['target_auc']} | {stats.quality(row['measured'])} | "
            + " | ".join(stats.percent(row[m]) for m in names)
            + " |"
        )
    return lines


def _synthetic_verdict(synthetic, trained, labels):
    """Where synthetic re-ranking passes voting, against the trained
    evaluators' quality, as a sentence."""
    passing = [r for r in synthetic if r["rr_top_k"][0] > r["maj1@N"][0]]
    within = [
        r["within_problem_auc_test"][0]
        for r in trained
        if r["within_problem_auc_test"] is not None
    ]
    return (
        f"With synthetic scores {labels['rr_top_k']} passes "
        f"{labels['maj1@N']} (in the mean) from a within-problem AUC of "
        f"{passing[0]['target_auc']}."
        if passing
        else f"{labels['rr_top_k']} does not pass {labels['maj1@N']} "
        "with any synthetic evaluator."
    ) + (
        " The trained evaluators' within-problem test AUC ranges from "
        f"{min(within):.3f} to {max(within):.3f}."
        if within
        else ""
    )


def _clustering_table(trained, clustering):
    def share(name):
        values = [c[name] for c in clustering if c[name] is not None]
        return stats.quality(
            (np.mean(values), np.std(values)) if values else None
        )

    return [
        "",
        "Where the trained evaluators' mistakes lie: the share of the wrong "
        "test samples' score variance (log-odds) that is between their "
        "answer clusters (`synthetic.between_cluster_share`; mean ± std "
        "over seeds), against independent errors on the same clusters "
        f"(synthetic, AUC 0.65): {share('independent')}.",
        "",
        "| Problems | Pairs / problem (max) | Loss | Between-cluster share |",
        "| ---: | ---: | --- | ---: |",
        *(
            "| {} | {} | {} | ".format(*row["point"])
            + share(sizes.point_name(row["point"]))
            + " |"
            for row in trained
        ),
    ]
