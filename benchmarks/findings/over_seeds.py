"""The paper's three findings over seeds (`--study=seeds`).

For each seed this runs the recipe three times and reads the reports:
`detailed` (SSFT on step-by-step solutions, the evaluator and every
re-ranker: finding 2), `terse` (SSFT on answer-only solutions, generator
only: finding 1) and `multitask` (generation -> evaluation -> generation
in one model, sharing the detailed run's SSFT, samples and evaluator
data: finding 3).
"""

import json
import os
import platform
import time

import common
import keras
import numpy as np
import sizes
import stats
from absl import app

from keras_mathft import sampling
from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import run_pipeline

FLAGS = common.FLAGS
METHODS = sizes.METHODS


def study(seeds, overrides):
    """Runs every seed, prints the table, writes `--output`."""
    if FLAGS.size in sizes.EVALUATOR_STUDY:
        raise app.UsageError(
            f"--size={FLAGS.size} sizes --study=evaluator only."
        )
    example = RecipeConfig(size=FLAGS.size, **overrides)
    settings = example.resolved_settings()
    print(
        f"machine={platform.node()} cpus={os.cpu_count()} "
        f"backend={keras.config.backend()} keras={keras.__version__} "
        f"size={FLAGS.size} seeds={seeds} overrides={overrides}"
    )
    print(f"settings={settings}", flush=True)
    start = time.perf_counter()
    per_seed = []
    for seed in seeds:
        per_seed.append(run_seed(seed, overrides))
        print(f"seed {seed}: {json.dumps(per_seed[-1])}", flush=True)
    wall = time.perf_counter() - start
    n = example.sampling.num_samples
    text = table(per_seed, n, example.sampling.top_k_clusters)
    print()
    print(text)
    print(f"\nwall time {wall / 60:.1f} min")
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(
                {
                    "size": FLAGS.size,
                    "seeds": seeds,
                    "overrides": overrides,
                    "settings": settings,
                    "backend": keras.config.backend(),
                    "per_seed": per_seed,
                    "wall_seconds": wall,
                    "table": text,
                },
                f,
                indent=1,
            )


def run_seed(seed, overrides):
    """The three runs of one seed: their headline numbers and times."""
    detailed = RecipeConfig(
        run_dir=common.size_root(f"detailed_seed{seed}"),
        size=FLAGS.size,
        seed=seed,
        **overrides,
    )
    out, times = {}, {}
    start = time.perf_counter()
    out.update(_detailed(detailed))
    times["detailed"] = time.perf_counter() - start

    start = time.perf_counter()
    terse = detailed.replace(
        style="terse", run_dir=common.size_root(f"terse_seed{seed}")
    )
    run_pipeline(terse, verbose=1, stages=list(sizes.STYLE_STAGES))
    times["terse"] = time.perf_counter() - start
    out["terse"] = _generator_metrics(terse)

    start = time.perf_counter()
    out.update(_multitask(detailed, seed))
    times["multitask"] = time.perf_counter() - start
    out["seconds"] = times
    return out


def _detailed(config):
    """SSFT on detailed solutions, its evaluator and every re-ranker."""
    report = run_pipeline(config, verbose=1)
    o = report["overall"]
    return {
        "detailed": stats.headline(report),
        "rerank": {m: o["methods"][m]["accuracy"] for m in METHODS},
        "evaluator_calls": {
            m: o["methods"][m]["evaluator_calls"] for m in METHODS
        },
        "evaluator_auc": report["recipe"]["evaluator_auc"],
        "majK@N": o[f"maj{report['top_k']}@{report['num_samples']}"],
    }


def _multitask(detailed, seed):
    """Multi-task fine-tuning from the detailed run's first stages."""
    multitask = detailed.replace(
        multitask=True, run_dir=common.size_root(f"multitask_seed{seed}")
    )
    with common.opened(detailed) as source, common.opened(multitask) as run:
        common.copy_stages(source, run, sizes.SHARED_STAGES)
    report = run_pipeline(multitask, verbose=1)
    return {
        "multitask": stats.headline(report),
        "multitask_rerank": {
            m: report["overall"]["methods"][m]["accuracy"] for m in METHODS
        },
    }


def _generator_metrics(config):
    """pass@1, maj1@N and pass@N of a run's generator (no evaluator)."""
    test, greedy, samples, _ = stats.read_test_stages(config)
    result = sampling.evaluate(
        test,
        samples,
        greedy=greedy,
        n_values=(config.sampling.num_samples,),
        trials=1,
    )
    return stats.headline(result)


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    a = 100 * np.asarray(values, "float64")
    return f"{a.mean():.1f} ± {a.std():.1f}"


def table(per_seed, n, k):
    """The three findings' tables: mean ± std over seeds."""

    def cells(path):
        out = []
        for r in per_seed:
            v = r
            for key in path:
                v = v[key]
            out.append(v)
        return _mean_std(out)

    return "\n".join(
        [
            f"Mean ± std over {len(per_seed)} seeds, accuracy in % on the "
            f"held-out test problems (N = {n}, K = {k}).",
            *_finding1(cells),
            *_finding2(cells, per_seed, k),
            *_finding3(cells),
        ]
    )


def _finding1(cells):
    lines = [
        "",
        "**Finding 1: SSFT on detailed vs terse solutions**",
        "",
        "| SSFT solutions | Pass@1 | Maj1@N | Pass@N |",
        "| --- | ---: | ---: | ---: |",
    ]
    for style in ("detailed", "terse"):
        lines.append(
            f"| {style} | {cells([style, 'pass@1'])} | "
            f"{cells([style, 'maj1@N'])} | {cells([style, 'pass@N'])} |"
        )
    return lines


def _finding2(cells, per_seed, k):
    lines = [
        "",
        "**Finding 2: re-ranking the detailed SSFT generator's samples**",
        "",
        "| Method | Accuracy | Evaluator calls / problem |",
        "| --- | ---: | ---: |",
        f"| Pass@1 (greedy) | {cells(['detailed', 'pass@1'])} | 0 |",
        f"| Pass@N (oracle) | {cells(['detailed', 'pass@N'])} | 0 |",
        f"| Maj{k}@N (oracle) | {cells(['majK@N'])} | 0 |",
    ]
    for m in METHODS:
        calls = np.mean([r["evaluator_calls"][m] for r in per_seed])
        label = sampling.RERANKERS[m].display_name(k)
        lines.append(f"| {label} | {cells(['rerank', m])} | {calls:.1f} |")
    auc = [r["evaluator_auc"] for r in per_seed if r["evaluator_auc"]]
    auc_text = f"{np.mean(auc):.3f} ± {np.std(auc):.3f}" if auc else "n/a"
    return lines + [
        "",
        f"Evaluator AUC (right vs wrong test samples): {auc_text}",
    ]


def _finding3(cells):
    return [
        "",
        "**Finding 3: SSFT vs multi-task sequential fine-tuning**",
        "",
        "| Generator | Pass@1 | Maj1@N | Pass@N | RR.Top-K |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| SSFT | {cells(['detailed', 'pass@1'])} | "
        f"{cells(['detailed', 'maj1@N'])} | {cells(['detailed', 'pass@N'])} "
        f"| {cells(['rerank', 'rr_top_k'])} |",
        f"| multi-task | {cells(['multitask', 'pass@1'])} | "
        f"{cells(['multitask', 'maj1@N'])} | "
        f"{cells(['multitask', 'pass@N'])} | "
        f"{cells(['multitask_rerank', 'rr_top_k'])} |",
    ]
