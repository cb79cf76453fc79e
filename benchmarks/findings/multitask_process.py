"""Issue 29 item 5: multi-task sequential fine-tuning with the process
objective.

Per seed: the evaluator study's base run (SSFT for S steps, its samples
of the evaluator training problems, its test samples) continues as one
model trained generation (S, shared) -> process evaluation (E steps on
exact step labels) -> generation (G), which samples the test problems
and scores its own samples step by step (`--evaluator=process
--multitask`). Against it: the base run's SSFT generator, and study 3's
outcome multi-task row (same settings and seeds) quoted beside the table.
"""

import os
import time

import common
import sizes
import stats

from keras_mathft import sampling
from keras_mathft.recipes import run_pipeline

FLAGS = common.FLAGS
# Study 3's E and G at the `cpu` size; the process evaluator's loss is
# issue 29's study's (cross-entropy on every step plus the step margin).
STUDY = {
    "micro": dict(evaluation_steps=2, regeneration_steps=2),
    "cpu": dict(evaluation_steps=100, regeneration_steps=100),
}
SHARED = ("ssft", "train_samples")


def run_configs(table, seed, overrides):
    """`(base, multitask)`: the seed's base run and its process
    multi-task continuation."""
    base = sizes.base_config(sizes.EVALUATOR_STUDY[FLAGS.size], seed, overrides)
    multitask = base.replace(
        run_dir=common.size_root("multitask_process", f"seed{seed}"),
        multitask=True,
        evaluator="process",
        evaluator_loss="mixture",
        evaluator_steps=table["evaluation_steps"],
        final_sft_steps=table["regeneration_steps"],
    )
    return base, multitask


def run_point(table, seed, overrides):
    """One seed's process multi-task run, against its SSFT base run."""
    base, multitask = run_configs(table, seed, overrides)
    start = time.perf_counter()
    run_pipeline(base, verbose=1, stages=list(sizes.STYLE_STAGES))
    run_pipeline(base, verbose=1, stages=["train_samples"])
    # The shared stages ignore the evaluator's settings (`Stage.ignores`).
    with common.opened(base) as source, common.opened(multitask) as run:
        common.copy_stages(source, run, SHARED)
    recipe = run_pipeline(multitask, verbose=1)["recipe"]
    return {
        "seed": seed,
        "ssft": stats.outcomes(base)[0],
        "multitask": stats.outcomes(multitask, with_scores=True)[0],
        "within_problem_auc": recipe["evaluator_within_problem_auc"],
        "product_within_problem_auc": recipe["process_product"][
            "evaluator_within_problem_auc"
        ],
        "step_pairs": recipe["stages"]["multitask_evaluation"].get(
            "step_pairs", 0
        ),
        "seconds": time.perf_counter() - start,
    }


def study(seeds, overrides):
    """Runs (or reads back) every seed, and reports."""
    table = common.study_size(STUDY, "multitask_process")
    root = common.size_root("multitask_process", "points")
    start = time.perf_counter()
    results = [
        common.finished(
            os.path.join(root, f"seed{seed}.json"),
            f"seed {seed}",
            lambda: run_point(table, seed, overrides),
        )
        for seed in seeds
    ]
    wall = time.perf_counter() - start
    example = run_configs(table, seeds[0], overrides)[1]
    text = markdown(results, table, example, seeds, wall)
    common.write_section(FLAGS.markdown, "multitask_process", text)
    print(text)


def markdown(results, table, example, seeds, wall):
    """The study's section of the report."""
    n, k = example.sampling.num_samples, example.sampling.top_k_clusters
    e, g = table["evaluation_steps"], table["regeneration_steps"]
    s = example.training.sft_steps
    rr = sampling.RERANKERS["rr_top_k"].display_name(k)
    wrr = sampling.RERANKERS["weighted_rr_top_k"].display_name(k)
    cells = [
        stats.accuracy_cell(results, key, name)
        for key, name in (
            ("ssft", "pass@1"),
            ("multitask", "pass@1"),
            ("ssft", "maj1@N"),
            ("multitask", "maj1@N"),
            ("ssft", "pass@N"),
            ("multitask", "pass@N"),
            ("multitask", "rr_top_k"),
            ("multitask", "weighted_rr_top_k"),
        )
    ]
    auc, product = (
        stats.quality(stats.mean_std([r[key] for r in results]))
        for key in ("within_problem_auc", "product_within_problem_auc")
    )
    return "\n".join(
        [
            "# Issue 29, item 5: multi-task fine-tuning with the process "
            "objective",
            "",
            f"Command: {common.command('multitask_process', seeds)}, "
            f"{common.wall_text(wall)}.",
            "",
            f"Settings (fixed before any result): each seed's evaluator "
            f"study base run (SSFT {s} steps), then process evaluation "
            f"({e} steps, exact step labels of its "
            f"{example.sampling.num_train_samples} samples of each "
            f"evaluator training problem, cross-entropy plus step margin) "
            f"and generation ({g} steps) in the same model, which scores "
            f"its own test samples by their weakest step. Test: "
            f"{example.data.num_test_problems} problems, N = {n}. "
            f"Accuracy (%): mean over seeds, 95% two-level bootstrap "
            f"interval ({FLAGS.bootstrap} rounds); AUC within problems, "
            "mean ± std over seeds (min; product of steps).",
            "",
            f"| Seeds | SSFT ({s}) Pass@1 | Multi-task Pass@1 | SSFT "
            f"Maj1@{n} | Multi-task Maj1@{n} | SSFT Pass@{n} | Multi-task "
            f"Pass@{n} | Multi-task {rr} | Multi-task {wrr} | Its AUC "
            "(min; product) |",
            "| ---: |" + " ---: |" * 9,
            f"| {len(results)} | " + " | ".join(cells) + f" | {auc}; "
            f"{product} |",
        ]
    )
