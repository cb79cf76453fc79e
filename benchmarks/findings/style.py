"""Study 2: solution style at an equal token budget.

SSFT on the embedded task's `detailed` solutions (one operation a line),
its `coarse` ones (operations combined, like MATH's) and `both`
together. Each style's SSFT steps are the detailed run's scaled by the
ratio of mean tokens per training example, so every run trains on about
as many tokens. Each (style, seed) run is the recipe's generator stages
only.
"""

import os
import time

import common
import numpy as np
import sentencepiece
import sizes
import stats

from keras_mathft import data
from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import load_problems
from keras_mathft.recipes import run_pipeline

FLAGS = common.FLAGS


def tokens_per_example(config):
    """Mean tokens of a run's SSFT examples (prompt and solution)."""
    sp = sentencepiece.SentencePieceProcessor(
        model_proto=data.embedded_tokenizer_proto()
    )
    # Every example: a strided sample aliases with the problem generator's
    # periodic order (it read 51.5 tokens for `both`, whose mean is 57.8).
    texts = [
        config.prompt_template().generation_prompt(p.problem) + p.solution
        for p in load_problems(config)[0]
    ]
    return float(np.mean([len(ids) for ids in sp.encode(texts)]))


def run_config(study, style, seed, overrides):
    """The recipe run of one style and seed (at the size's SSFT steps)."""
    return RecipeConfig(
        run_dir=common.size_root("style", style, f"run_seed{seed}"),
        seed=seed,
        style=style,
        **{**study["base"], **overrides},
    )


def run_style(study, style, seed, overrides):
    """One style's SSFT at the detailed run's token budget, and its test."""
    detailed = run_config(study, "detailed", seed, overrides)
    config = run_config(study, style, seed, overrides)
    tokens = tokens_per_example(config)
    budget = detailed.training.sft_steps * tokens_per_example(detailed)
    steps = max(1, round(budget / tokens))
    config = sizes.shared_run(config.replace(sft_steps=steps), overrides)
    start = time.perf_counter()
    run_pipeline(config, verbose=1, stages=list(sizes.STYLE_STAGES))
    per_problem, samples = stats.outcomes(config)
    return {
        "style": style,
        "seed": seed,
        "sft_steps": steps,
        "tokens_per_example": tokens,
        "trained_tokens": steps * config.training.batch_size * tokens,
        "mean_sample_tokens": float(
            np.mean([x.num_tokens for g in samples for x in g])
        ),
        "per_problem": per_problem,
        "seconds": time.perf_counter() - start,
    }


def study(seeds, overrides):
    """Runs (or reads back) every style of every seed, and reports."""
    table = common.study_size(sizes.STYLE_STUDY, "style")
    root = common.size_root("style")
    start = time.perf_counter()
    results = {}
    for seed in seeds:
        for style in table["styles"]:
            result = common.finished(
                os.path.join(root, style, f"seed{seed}.json"),
                f"style {style} seed {seed}",
                lambda: run_style(table, style, seed, overrides),
            )
            results.setdefault(style, []).append(result)
    wall = time.perf_counter() - start
    example = run_config(table, "detailed", seeds[0], overrides)
    text = markdown(results, table, example, seeds, wall)
    common.write_section(FLAGS.markdown, "style", text)
    print(text)


def markdown(results, study, example, seeds, wall):
    """The study's section of the report."""
    n = example.sampling.num_samples
    names = {"pass@1": "Pass@1", "maj1@N": f"Maj1@{n}", "pass@N": f"Pass@{n}"}
    lines = [
        "# Issue 13, study 2: solution style at an equal token budget",
        "",
        f"Command: {common.command('style', seeds)}, {common.wall_text(wall)}.",
        "",
        f"Settings of every run (fixed before any result): "
        f"`{study['base']}`, resolved `{example.resolved_settings()}`. "
        "The detailed run trains the size's SSFT steps; each other style "
        "trains as many tokens (steps scaled by the ratio of mean tokens "
        "per training example, prompt included). Test: "
        f"{example.data.num_test_problems} problems, N = {n}. "
        "Accuracy (%) is the mean over seeds with a 95% interval from the "
        "two-level bootstrap of study 1 "
        f"({FLAGS.bootstrap} rounds: seeds, then test problems).",
        "",
        "| SSFT solutions | Seeds | Steps | Tokens / example | Sample tokens "
        "| " + " | ".join(names.values()) + " |",
        "| --- | ---: | ---: | ---: | ---: |" + " ---: |" * len(names),
    ]
    for style, per_seed in results.items():
        cells = [stats.accuracy_cell(per_seed, "per_problem", m) for m in names]
        steps = np.mean([r["sft_steps"] for r in per_seed])
        tokens = np.mean([r["tokens_per_example"] for r in per_seed])
        length = np.mean([r["mean_sample_tokens"] for r in per_seed])
        lines.append(
            f"| {style} | {len(per_seed)} | {steps:.0f} | {tokens:.1f} | "
            f"{length:.1f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)
