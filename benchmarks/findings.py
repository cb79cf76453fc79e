"""The paper's three findings, measured on the embedded task over seeds.

For each seed this runs the recipe (`keras_mathft.recipes.run_pipeline`)
three times and reads the reports:

- `detailed`: SSFT on detailed (step-by-step) solutions, the evaluator and
  every re-ranker (finding 2: maj1@N vs RR.All vs RR.Top-K vs weighted
  variants, all from the same samples and scores);
- `terse`: SSFT on terse (answer-only) solutions of the same problems,
  generator only (finding 1: solution style matters for fine-tuning);
- `multitask`: generation -> evaluation -> generation in one model,
  sharing the `detailed` run's SSFT, samples and evaluator data (finding
  3: multi-task sequential fine-tuning vs SSFT).

It prints the machine, backend and settings, a markdown table of mean +-
standard deviation over seeds, and writes every per-seed number to JSON.
Run directories are kept, so a stopped benchmark resumes.

    KERAS_BACKEND=jax python benchmarks/findings.py --size=quick \\
        --seeds=0,1,2 --output=benchmarks/findings_quick.json
"""

import json
import os
import platform
import shutil
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_mathft import sampling  # noqa: E402
from keras_mathft.recipes import RecipeConfig  # noqa: E402
from keras_mathft.recipes import load_problems  # noqa: E402
from keras_mathft.recipes import run_pipeline  # noqa: E402

flags.DEFINE_enum("size", "quick", ["quick", "default"], "Recipe size.")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds (data, weights, samples).")
flags.DEFINE_string("run_root", "runs/findings", "Folder of the runs.")
flags.DEFINE_string("output", None, "JSON file for every per-seed number.")
flags.DEFINE_list(
    "set",
    [],
    "Config overrides for every run, name=value (e.g. sft_steps=600).",
)
FLAGS = flags.FLAGS

METHODS = tuple(sampling.RERANKERS)
SHARED_STAGES = ("ssft", "train_samples", "evaluator_data")


def _overrides():
    out = {}
    for item in FLAGS.set:
        name, _, value = item.partition("=")
        field = RecipeConfig.__dataclass_fields__.get(name)
        if field is None:
            raise app.UsageError(f"--set: unknown config field {name!r}")
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        if value in ("True", "False"):
            value = value == "True"
        out[name] = value
    return out


def _generator_metrics(config):
    """pass@1, maj1@N and pass@N of a run's generator (no evaluator)."""
    test = load_problems(config)[1]
    root = config.run_dir

    def samples(stage):
        store = sampling.SampleStore(os.path.join(root, stage, "store"))
        groups = store.by_problem()
        return [
            groups[sampling.records.problem_id(p, i)]
            for i, p in enumerate(test)
        ]

    result = sampling.evaluate(
        test,
        samples("test_samples"),
        greedy=[g[0] for g in samples("test_greedy")],
        n_values=(config.resolved("num_samples"),),
        trials=1,
    )
    return _headline(result)


def _headline(result):
    o, n = result["overall"], result["num_samples"]
    return {
        "pass@1": o["pass@1"],
        "maj1@N": o[f"maj1@{n}"],
        "pass@N": o["pass@k"][str(n)],
    }


def _run_seed(seed, overrides):
    base = dict(size=FLAGS.size, seed=seed, **overrides)
    root = os.path.join(FLAGS.run_root, FLAGS.size)
    out, times = {}, {}

    start = time.perf_counter()
    detailed = RecipeConfig(
        run_dir=os.path.join(root, f"detailed_seed{seed}"), **base
    )
    report = run_pipeline(detailed, verbose=1)
    times["detailed"] = time.perf_counter() - start
    out["detailed"] = _headline(report)
    o = report["overall"]
    out["rerank"] = {m: o["methods"][m]["accuracy"] for m in METHODS}
    out["evaluator_calls"] = {
        m: o["methods"][m]["evaluator_calls"] for m in METHODS
    }
    out["evaluator_auc"] = report["recipe"]["evaluator_auc"]
    out["majK@N"] = o[f"maj{report['top_k']}@{report['num_samples']}"]

    start = time.perf_counter()
    terse = detailed.replace(
        style="terse", run_dir=os.path.join(root, f"terse_seed{seed}")
    )
    run_pipeline(
        terse, verbose=1, stages=["ssft", "test_greedy", "test_samples"]
    )
    times["terse"] = time.perf_counter() - start
    out["terse"] = _generator_metrics(terse)

    start = time.perf_counter()
    multitask = detailed.replace(
        multitask=True, run_dir=os.path.join(root, f"multitask_seed{seed}")
    )
    for stage in SHARED_STAGES:
        shutil.copytree(
            os.path.join(detailed.run_dir, stage),
            os.path.join(multitask.run_dir, stage),
            dirs_exist_ok=True,
        )
    report = run_pipeline(multitask, verbose=1)
    times["multitask"] = time.perf_counter() - start
    out["multitask"] = _headline(report)
    out["multitask_rerank"] = {
        m: report["overall"]["methods"][m]["accuracy"] for m in METHODS
    }
    out["seconds"] = times
    return out


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    a = 100 * np.asarray(values, "float64")
    return f"{a.mean():.1f} ± {a.std():.1f}"


def _table(per_seed, n, k):
    def cells(path):
        out = []
        for r in per_seed:
            v = r
            for key in path:
                v = v[key]
            out.append(v)
        return _mean_std(out)

    lines = [
        f"Mean ± std over {len(per_seed)} seeds, accuracy in % on the "
        f"held-out test problems (N = {n}, K = {k}).",
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
    lines += [
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
    lines += [
        "",
        f"Evaluator AUC (right vs wrong test samples): {auc_text}",
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
    return "\n".join(lines)


def main(argv):
    del argv
    overrides = _overrides()
    seeds = [int(s) for s in FLAGS.seeds]
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
        per_seed.append(_run_seed(seed, overrides))
        print(f"seed {seed}: {json.dumps(per_seed[-1])}", flush=True)
    wall = time.perf_counter() - start
    n = example.resolved("num_samples")
    table = _table(per_seed, n, example.top_k_clusters)
    print()
    print(table)
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
                    "table": table,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    app.run(main)
