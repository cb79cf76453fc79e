"""Study 3: multi-task sequential fine-tuning at matched compute.

Per seed and evaluation length E: SSFT for S + E + G steps against
generation (S), evaluation (E) and generation (G) in one model, which
then scores its own samples. Each E shares its seed's first generation
phase and evaluator data.
"""

import os
import time

import common
import numpy as np
import sizes
import stats

from keras_mathft import sampling
from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import run_pipeline

FLAGS = common.FLAGS


def run_configs(study, seed, e, overrides):
    """`(ssft, multitask)` configs of one seed and evaluation length E."""
    root = common.size_root("multitask")
    s, g = study["generation_steps"], study["regeneration_steps"]
    base = RecipeConfig(seed=seed, **{**study["base"], **overrides})
    ssft = base.replace(
        run_dir=os.path.join(root, f"ssft_{s + e + g}_seed{seed}"),
        sft_steps=s + e + g,
    )
    multitask = base.replace(
        run_dir=os.path.join(root, f"multitask_e{e}_seed{seed}"),
        multitask=True,
        sft_steps=s,
        evaluator_steps=e,
        final_sft_steps=g,
    )
    return ssft, multitask


def run_point(study, seed, e, overrides):
    """Both runs of one seed and E, and their test outcomes."""
    ssft, multitask = run_configs(study, seed, e, overrides)
    start = time.perf_counter()
    run_pipeline(ssft, verbose=1, stages=list(sizes.STYLE_STAGES))
    # Every E shares its seed's first generation phase and evaluator
    # data: those stages ignore the later phases' settings, so their
    # copies pass the run's checks (`Stage.ignores`).
    shared = sizes.shared_run(
        ssft.replace(
            run_dir=os.path.join(
                os.path.dirname(ssft.run.run_dir), f"seed{seed}"
            ),
            sft_steps=study["generation_steps"],
        ),
        overrides,
    )
    run_pipeline(shared, verbose=1, stages=list(sizes.SHARED_STAGES))
    with common.opened(shared) as source, common.opened(multitask) as run:
        common.copy_stages(source, run, sizes.SHARED_STAGES)
    report = run_pipeline(multitask, verbose=1)
    recipe = report["recipe"]
    return {
        "evaluation_steps": e,
        "seed": seed,
        "ssft": stats.outcomes(ssft)[0],
        "multitask": stats.outcomes(multitask, with_scores=True)[0],
        "auc": recipe["evaluator_auc"],
        "within_problem_auc": recipe["evaluator_within_problem_auc"],
        "seconds": time.perf_counter() - start,
    }


def study(seeds, overrides):
    """Runs (or reads back) every E of every seed, and reports."""
    table = common.study_size(sizes.MULTITASK_STUDY, "multitask")
    root = common.size_root("multitask", "points")
    start = time.perf_counter()
    results = {}
    for seed in seeds:
        for e in table["evaluation_steps"]:
            result = common.finished(
                os.path.join(root, f"e{e}", f"seed{seed}.json"),
                f"E={e} seed {seed}",
                lambda: run_point(table, seed, e, overrides),
            )
            results.setdefault(e, []).append(result)
    wall = time.perf_counter() - start
    first = table["evaluation_steps"][0]
    example = run_configs(table, seeds[0], first, overrides)[1]
    text = markdown(results, table, example, seeds, wall)
    common.write_section(FLAGS.markdown, "multitask", text)
    print(text)


def markdown(results, study, example, seeds, wall):
    """The study's section of the report."""
    n, k = example.sampling.num_samples, example.sampling.top_k_clusters
    s, g = study["generation_steps"], study["regeneration_steps"]
    rr = sampling.RERANKERS["rr_top_k"].display_name(k)
    lines = [
        "# Issue 13, study 3: multi-task sequential fine-tuning at "
        "matched compute",
        "",
        f"Command: {common.command('multitask', seeds)}, "
        f"{common.wall_text(wall)}.",
        "",
        f"Settings (fixed before any result): `{study['base']}`. Per seed "
        f"and evaluation length E: SSFT for {s} + E + {g} steps, against "
        f"generation ({s} steps) -> evaluation (E steps, the recipe's "
        f"evaluator data) -> generation ({g} steps) in one model, which "
        f"then scores its own test samples ({rr}). Test: "
        f"{example.data.num_test_problems} problems, N = {n}. "
        "Accuracy (%): mean over seeds, 95% interval from the two-level "
        f"bootstrap of study 1 ({FLAGS.bootstrap} rounds).",
        "",
        f"| E | Seeds | SSFT Pass@1 | Multi-task Pass@1 | SSFT Maj1@{n} | "
        f"Multi-task Maj1@{n} | SSFT Pass@{n} | Multi-task Pass@{n} | "
        f"Multi-task {rr} | Its AUC (within-problem) |",
        "| ---: | ---: |" + " ---: |" * 8,
    ]
    for e, per_seed in sorted(results.items()):
        lines.append(
            f"| {e} | {len(per_seed)} | " + " | ".join(_cells(per_seed)) + " |"
        )
    return "\n".join(lines)


def _cells(per_seed):
    """One E's cells: SSFT against multi-task, re-ranking, its AUC."""
    cells = [
        stats.accuracy_cell(per_seed, key, name)
        for name in ("pass@1", "maj1@N", "pass@N")
        for key in ("ssft", "multitask")
    ]
    cells.append(stats.accuracy_cell(per_seed, "multitask", "rr_top_k"))
    auc = [r["auc"] for r in per_seed if r["auc"] is not None]
    within = [
        r["within_problem_auc"]
        for r in per_seed
        if r["within_problem_auc"] is not None
    ]
    cells.append(
        f"{np.mean(auc):.3f} ({np.mean(within):.3f})" if auc else "n/a"
    )
    return cells
