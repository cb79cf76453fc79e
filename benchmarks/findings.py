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

`--study=evaluator` is study 1 of issue 13: re-ranking against voting as
the evaluator improves. Per seed one base run trains SSFT, samples the
evaluator's training problems (the most any sweep point uses) and the
test problems (greedy and N samples). Every sweep point (training
problems x pairs per problem x loss, steps scaled to `EPOCHS` passes over
its pairs or examples) then trains its own evaluator from the base SSFT
weights on the first problems of the base's samples, scores the base's
test samples and reports (see `_run_point`). A finished point is one JSON
file (`<run_root>/<size>/points/<point>/seed<k>.json`), and an unfinished
one resumes from its stages, so a killed study continues where it was.
It writes its section of `--markdown` (tables and PNG figures beside it).

`--study=style` is study 2: SSFT on the embedded task's `detailed`
solutions (one operation a line), its `coarse` ones (operations combined,
like MATH's) and `both` together, at an equal token budget: each style's
SSFT steps are the detailed run's scaled by the ratio of mean tokens per
training example, so every run trains on about as many tokens. Each
(style, seed) run is the recipe's generator stages only; its result is
one JSON file (`<run_root>/<size>/style/<style>/seed<k>.json`).

`--study=multitask` is study 3: per seed and evaluation length E, SSFT
for S + E + G steps against generation (S), evaluation (E) and
generation (G) in one model, which then scores its own samples. Each E
shares its seed's first generation phase and evaluator data; its result
is one JSON file (`<run_root>/<size>/multitask/points/e<E>/seed<k>.json`).

    # The sizes that fit about 2 hours of a 2-core CPU for all three:
    KERAS_BACKEND=jax python benchmarks/findings.py --study=evaluator \\
        --size=cpu --seeds=0,1,2 --markdown=benchmarks/findings.md
    KERAS_BACKEND=jax python benchmarks/findings.py --study=style \\
        --size=cpu --seeds=0,1,2 --markdown=benchmarks/findings.md
    KERAS_BACKEND=jax python benchmarks/findings.py --study=multitask \\
        --size=cpu --seeds=0,1,2 --markdown=benchmarks/findings.md
    # The issue's full sizes (default recipe, 16 samples per evaluator
    # training problem; a GPU's worth): the same with --size=study.
    # About a minute on CPU each, the machinery only (untrained decoders):
    python benchmarks/findings.py --study=evaluator --size=micro \\
        --seeds=0 --markdown=/tmp/findings.md
    python benchmarks/findings.py --study=style --size=micro \\
        --seeds=0 --markdown=/tmp/findings.md

Each study replaces only its own section of `--markdown` (between
`<!-- study:NAME -->` markers), so the studies share one file.
"""

import functools
import json
import math
import os
import platform
import re
import shutil
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_mathft import grading  # noqa: E402
from keras_mathft import models  # noqa: E402
from keras_mathft import sampling  # noqa: E402
from keras_mathft._files import read_json  # noqa: E402
from keras_mathft._files import write_json_atomic  # noqa: E402
from keras_mathft.recipes import RecipeConfig  # noqa: E402
from keras_mathft.recipes import load_problems  # noqa: E402
from keras_mathft.recipes import pipeline  # noqa: E402
from keras_mathft.recipes import pipeline_stages  # noqa: E402
from keras_mathft.recipes import run_pipeline  # noqa: E402

flags.DEFINE_enum(
    "study",
    "seeds",
    ["seeds", "evaluator", "style", "multitask"],
    "The three findings over seeds, or a study of issue 13: the evaluator "
    "sweep (1), solution style at an equal token budget (2), multi-task "
    "fine-tuning at matched compute (3).",
)
flags.DEFINE_enum(
    "size",
    "quick",
    ["micro", "quick", "default", "study", "cpu"],
    "Recipe size; `micro`, `study` and `cpu` size the issue 13 studies only.",
)
flags.DEFINE_string(
    "markdown", "benchmarks/findings.md", "Evaluator study: its report."
)
flags.DEFINE_integer(
    "bootstrap", 1000, "Evaluator study: bootstrap rounds of the intervals."
)
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

# The evaluator sweep. `base`: recipe settings of each seed's base run,
# fixed before any result (the embedded task at the default size's
# difficulty); `points`: (evaluator training problems, most pairs per
# problem, loss); an evaluator trains for `EPOCHS` passes over its pairs
# (margin) or examples (xent), at least `min_steps`; its within-problem
# AUC on its training data is measured on the first `train_auc_problems`.
# The paper's setting is 12K problems x 64 samples, 10 pairs per problem.
# The `cpu` size of every study: what fits about 2 hours of a 2-core CPU
# for all three studies, written down before any of its results (the
# embedded task and decoder of the earlier single-budget findings run:
# the `quick` size's 2-layer, 96-wide decoder, 900 SSFT steps of 32 on
# 30,000 problems of levels 1 to 3), with the 300 test problems
# at N = 64, 8 samples on each of 2,000 evaluator training problems.
# The three studies share it, so each seed's base run (SSFT, training
# and test samples) serves them all (`_shared_run`).
CPU_BASE = dict(
    size="quick",
    num_train_problems=30000,
    sft_steps=900,
    num_test_problems=300,
    num_samples=64,
    num_train_samples=8,
    num_eval_train_problems=2000,
)
EVALUATOR_STUDY = {
    "micro": dict(
        base=dict(
            size="quick",
            num_train_problems=64,
            num_test_problems=6,
            num_samples=4,
            num_train_samples=4,
            top_k_clusters=2,
            hidden_dim=16,
            num_layers=1,
            batch_size=8,
            evaluator_batch_size=4,
            sft_steps=4,
            max_new_tokens=16,
            checkpoint_every=2,
            max_level=1,
        ),
        points=[(3, 10, "margin"), (6, 10, "xent")],
        min_steps=2,
        train_auc_problems=6,
    ),
    "study": dict(
        base=dict(
            size="default",
            num_test_problems=300,
            num_samples=64,
            num_train_samples=16,
        ),
        points=[
            (problems, 10, loss)
            for loss in ("margin", "xent")
            for problems in (200, 1000, 4000)
        ]
        # The spread of a fixed number of pairs over problems.
        + [(5000, 2, "margin"), (10000, 1, "margin")],
        min_steps=50,
        train_auc_problems=300,
    ),
    # The data axis at 10 pairs per problem (both losses at 1,000), and
    # 2,000 pairs spread over 200, 1,000 and 2,000 problems.
    "cpu": dict(
        base=CPU_BASE,
        points=[(problems, 10, "margin") for problems in (200, 1000, 2000)]
        + [(1000, 10, "xent"), (1000, 2, "margin"), (2000, 1, "margin")],
        min_steps=50,
        train_auc_problems=200,
    ),
}
EPOCHS = 2
# Study 2. `base`: the recipe settings of every run, fixed before any
# result; the detailed run trains `sft_steps` (the size's), the others
# as many tokens.
STYLE_STUDY = {
    "micro": dict(
        base={
            k: v
            for k, v in EVALUATOR_STUDY["micro"]["base"].items()
            if k not in ("num_train_samples", "evaluator_batch_size")
        },
        styles=("detailed", "coarse", "both"),
    ),
    "study": dict(
        base=dict(size="default", num_test_problems=300, num_samples=64),
        styles=("detailed", "coarse", "both"),
    ),
    "cpu": dict(base=CPU_BASE, styles=("detailed", "coarse", "both")),
}
STYLE_STAGES = ("ssft", "test_greedy", "test_samples")
# Study 3. Per seed and evaluation phase length E: SSFT for S + E + G
# steps against generation (S) -> evaluation (E) -> generation (G) in one
# model, which then also scores its own samples. `base` as above.
MULTITASK_STUDY = {
    "micro": dict(
        base=EVALUATOR_STUDY["micro"]["base"],
        generation_steps=4,
        regeneration_steps=2,
        evaluation_steps=(2, 4),
    ),
    "study": dict(
        base=EVALUATOR_STUDY["study"]["base"],
        generation_steps=2000,
        regeneration_steps=150,
        evaluation_steps=(150, 300, 600),
    ),
    "cpu": dict(
        base=CPU_BASE,
        generation_steps=900,
        regeneration_steps=100,
        evaluation_steps=(100, 300),
    ),
}
# Within-problem AUCs of the synthetic evaluators that re-rank each base
# run's test samples: what quality re-ranking needs on those clusters.
SYNTHETIC_AUCS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99)
# What each seed's base run does; every point reads its artifacts.
BASE_STAGES = ("ssft", "train_samples", "test_greedy", "test_samples")
POINT_STAGES = ("evaluator_data", "evaluator", "test_scores", "report")
# Per-problem outcomes of a point, bootstrapped for the intervals.
ACCURACY = ("maj1@N", *METHODS[1:], "majK@N", "pass@N")


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

    def samples(stage):
        return _aligned(os.path.join(config.run_dir, stage, "store"), test)

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


# === Evaluator sweep (issue 13, study 1) ===


def _point_name(point):
    problems, pairs, loss = point
    return f"p{problems}_pairs{pairs}_{loss}"


def _base_config(study, seed, overrides):
    most = max(problems for problems, _, _ in study["points"])
    return RecipeConfig(
        run_dir=os.path.join(FLAGS.run_root, FLAGS.size, f"base_seed{seed}"),
        seed=seed,
        **{**study["base"], "num_eval_train_problems": most, **overrides},
    )


def _shared_run(config, overrides):
    """The evaluator study's base run of `config`'s seed when `config` is
    the same run under another folder, else `config`: a run that the
    studies share is trained and sampled once."""
    if FLAGS.size not in EVALUATOR_STUDY:
        return config
    base = _base_config(EVALUATOR_STUDY[FLAGS.size], config.seed, overrides)
    return base if config.replace(run_dir=base.run_dir) == base else config


def _aligned(store_dir, problems):
    """A store's samples as one list per problem, in problem order."""
    groups = sampling.SampleStore(store_dir).by_problem()
    return [
        groups[sampling.records.problem_id(p, i)]
        for i, p in enumerate(problems)
    ]


def _run_point(base, point, study, run_dir):
    """Trains one sweep point's evaluator and measures it on one seed.

    The point is a recipe run of its own (`run_dir`) whose first stages
    are the base run's: their files (SSFT weights, the training and test
    samples) are copied in without their `DONE` markers, which the
    point's other evaluator settings would not match, and only the
    evaluator's stages run there, each resumable as in any run.
    """
    problems, pairs_per_problem, loss = point
    train, test = load_problems(base)
    train = train[:problems]
    labels = read_json(
        os.path.join(base.run_dir, "train_samples", "labels.json")
    )[:problems]
    train_samples = _aligned(
        os.path.join(base.run_dir, "train_samples", "store"), train
    )
    # Steps follow from the data: count it as the evaluator_data stage will.
    built = models.build_evaluator_examples(
        train,
        [[x.text for x in group] for group in train_samples],
        labels,
        max_pairs_per_problem=pairs_per_problem,
        seed=base.seed,
    )
    count = len(built.pairs if loss == "margin" else built.examples)
    batch = base.resolved("evaluator_batch_size")
    steps = max(study["min_steps"], math.ceil(EPOCHS * count / batch))
    config = base.replace(
        run_dir=run_dir,
        num_eval_train_problems=problems,
        max_pairs_per_problem=pairs_per_problem,
        evaluator_loss=loss,
        evaluator_steps=steps,
    )
    stages = {s.name: s for s in pipeline_stages(config)}
    # Opened first: it writes the point's config.json, then takes inputs.
    run = pipeline._Run(config, list(stages.values()), verbose=1)
    try:
        for stage in BASE_STAGES:
            shutil.copytree(
                os.path.join(base.run_dir, stage),
                os.path.join(run_dir, stage),
                ignore=shutil.ignore_patterns("DONE.json", "checkpoint"),
                dirs_exist_ok=True,
            )
        write_json_atomic(run.path("train.labels"), labels)
        for name in POINT_STAGES:
            run.run_stage(stages[name])
        report = read_json(run.path("report"))
        # Within-problem AUC on the evaluator's own training problems:
        # high here and low on test means it memorised answers.
        k = min(problems, study["train_auc_problems"])
        flat = [
            (p.problem, x.text)
            for p, g in zip(train, train_samples[:k])
            for x in g
        ]
        scores = run.solver("evaluator").score_solutions(
            [q for q, _ in flat],
            [t for _, t in flat],
            batch_size=2 * batch,
            sequence_length=config.resolved("sequence_length"),
        )
        nested, i = [], 0
        for group in train_samples[:k]:
            nested.append([float(v) for v in scores[i : i + len(group)]])
            i += len(group)
    finally:
        run.run.close()
    recipe = report["recipe"]
    greedy = [g[0] for g in _aligned(run.path("test.greedy"), test)]
    samples = _aligned(run.path("test.samples"), test)
    test_scores = read_json(run.path("test.scores"))
    return {
        "point": list(point),
        "seed": base.seed,
        "steps": steps,
        "examples": len(built.examples),
        "pairs": len(built.pairs),
        "train_correct_fraction": float(
            np.mean([v for g in labels for v in g])
        ),
        "auc": recipe["evaluator_auc"],
        "within_problem_auc_test": recipe["evaluator_within_problem_auc"],
        "within_problem_auc_train": sampling.within_problem_auc(
            labels[:k], nested
        ),
        "auc_train": sampling.evaluator_auc(labels[:k], nested),
        "ece": recipe["evaluator_ece"],
        "per_problem": _per_problem(config, test, samples, greedy, test_scores),
        "curves": {
            m: report["curves"][m] for m in ("maj1", "rr_top_k", "pass@n")
        },
    }


def _synthetic_scores(correct, auc, rng):
    """Scores whose right-over-wrong AUC is `auc` in expectation: sigmoids
    of logits N(d, 1) for right samples and N(0, 1) for wrong ones, with
    Phi(d / sqrt(2)) = auc (the difference of the two is N(d, 2))."""
    shift = math.sqrt(2) * statistics.NormalDist().inv_cdf(auc)
    logits = [
        shift * np.asarray(row, "float64") + rng.normal(size=len(row))
        for row in correct
    ]
    return [(1 / (1 + np.exp(-x))).tolist() for x in logits]


def _between_cluster_share(clusters, correct, scores):
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


def _graded_test_samples(base):
    """`(test problems, their samples, each sample's correctness)`."""
    test = load_problems(base)[1]
    samples = _aligned(
        os.path.join(base.run_dir, "test_samples", "store"), test
    )
    correct = [
        [grading.answers_equivalent(x.answer, p.answer) for x in group]
        for p, group in zip(test, samples)
    ]
    return test, samples, correct


def _error_clustering(base, study):
    """`_between_cluster_share` of each trained evaluator of one seed,
    and of independent errors (`_synthetic_scores`) on the same clusters.
    """
    _, samples, correct = _graded_test_samples(base)
    clusters = [grading.cluster_answers([x.answer for x in g]) for g in samples]
    points = os.path.join(FLAGS.run_root, FLAGS.size, "points")
    out = {}
    for point in study["points"]:
        run = os.path.join(points, _point_name(point), f"run_seed{base.seed}")
        scores = read_json(os.path.join(run, "test_scores", "scores.json"))
        out[_point_name(point)] = _between_cluster_share(
            clusters, correct, scores
        )
    rng = np.random.default_rng(base.seed)
    out["independent"] = _between_cluster_share(
        clusters, correct, _synthetic_scores(correct, 0.65, rng)
    )
    return out


def _synthetic_evaluators(base):
    """Every re-ranker on a base run's test samples, with the scores of
    synthetic evaluators of set quality.

    One per AUC of `SYNTHETIC_AUCS` (`_synthetic_scores`), its errors
    independent of the sample. This separates what re-ranking can do
    on these clusters from how well an evaluator is trained.
    """
    test, samples, correct = _graded_test_samples(base)
    greedy = [
        g[0]
        for g in _aligned(
            os.path.join(base.run_dir, "test_greedy", "store"), test
        )
    ]
    rng = np.random.default_rng(base.seed)
    out = []
    for auc in SYNTHETIC_AUCS:
        scores = _synthetic_scores(correct, auc, rng)
        out.append(
            {
                "target_auc": auc,
                "within_problem_auc_test": sampling.within_problem_auc(
                    correct, scores
                ),
                "per_problem": _per_problem(
                    base, test, samples, greedy, scores
                ),
            }
        )
    return out


def _per_problem(config, test, samples, greedy, scores):
    """Each accuracy metric's value on each test problem (their mean is
    the report's), for the bootstrap over problems."""
    n, k = config.resolved("num_samples"), config.top_k_clusters
    out = {name: [] for name in ACCURACY}
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
            **{m: o["methods"][m]["accuracy"] for m in METHODS[1:]},
        }
        for name in ACCURACY:
            out[name].append(values[name])
    return out


def _mean_interval(per_seed, rounds, seed=0):
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


def _summarise(results, rounds):
    """Per point: the mean and interval of each accuracy metric, and the
    mean and std over seeds of the evaluator's quality."""
    out = []
    for point, per_seed in results.items():
        row = {"point": point, "seeds": len(per_seed)}
        for name in ACCURACY:
            row[name] = _mean_interval(
                [r["per_problem"][name] for r in per_seed], rounds
            )
        for name in (
            "auc",
            "auc_train",
            "within_problem_auc_train",
            "within_problem_auc_test",
            "ece",
            "steps",
            "pairs",
            "examples",
        ):
            values = [r[name] for r in per_seed if r[name] is not None]
            row[name] = (
                (float(np.mean(values)), float(np.std(values)))
                if values
                else None
            )
        out.append(row)
    return out


def _wall_text(wall):
    return (
        f"{wall / 60:.1f} min for its last invocation on {os.cpu_count()} "
        f"CPUs ({platform.node()}), which reads finished points back "
        "instead of computing them again"
    )


def _quality(value, digits=3):
    """`(mean, std)` or `None` as a table cell."""
    if value is None:
        return "n/a"
    return f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def _labels(base):
    """Each accuracy metric's display name."""
    n, k = base.resolved("num_samples"), base.top_k_clusters
    return {
        "maj1@N": f"Maj1@{n}",
        "majK@N": f"Maj{k}@{n}",
        "pass@N": f"Pass@{n}",
        **{m: sampling.RERANKERS[m].display_name(k) for m in METHODS[1:]},
    }


def _evaluator_markdown(rows, study, base, seeds, total, wall, figures):
    n, k = base.resolved("num_samples"), base.top_k_clusters
    labels = _labels(base)

    def key(row):
        problems, pairs, loss = row["point"]
        return f"| {problems} | {pairs} | {loss} |"

    lines = [
        "# Issue 13, study 1: re-ranking against voting as the evaluator "
        "improves",
        "",
        f"Command: `KERAS_BACKEND={keras.config.backend()} python "
        f"benchmarks/findings.py --study=evaluator --size={FLAGS.size} "
        f"--seeds={','.join(map(str, seeds))}`. {len(rows)} of {total} "
        f"points finished, {_wall_text(wall)}.",
        "",
        "Settings of the base runs (fixed before any result; every point "
        f"reuses its seed's SSFT model and samples): `{study['base']}`, "
        f"resolved `{base.resolved_settings()}`. Each evaluator trains "
        f"from the SSFT weights for {EPOCHS} passes over its pairs "
        "(margin) or examples (xent), at least "
        f"{study['min_steps']} steps. Test: "
        f"{base.resolved('num_test_problems')} problems, N = {n}, K = {k}.",
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
            f"{key(row)} {_quality(row['steps'], 0)} | "
            f"{_quality(row['pairs'], 0)} | {_quality(row['auc_train'])} | "
            f"{_quality(row['auc'])} | "
            f"{_quality(row['within_problem_auc_train'])} | "
            f"{_quality(row['within_problem_auc_test'])} | "
            f"{_quality(row['ece'])} |"
        )
    lines += [
        "",
        "**Accuracy on the test problems (%)**",
        "",
        "| Problems | Pairs / problem (max) | Loss | "
        + " | ".join(labels[m] for m in ACCURACY)
        + " |",
        "| ---: | ---: | --- |" + " ---: |" * len(ACCURACY),
    ]
    for row in rows:
        lines.append(
            key(row)
            + " "
            + " | ".join(_percent(row[m]) for m in ACCURACY)
            + " |"
        )
    passing = [r for r in rows if r["rr_top_k"][0] > r["maj1@N"][0]]
    lines.append("")
    if passing:
        best = min(passing, key=lambda r: (r["auc"] or (1, 0))[0])
        lines.append(
            f"{labels['rr_top_k']} passes {labels['maj1@N']} (in the mean) "
            f"first at a test AUC of {_quality(best['auc'])} (within-problem "
            f"{_quality(best['within_problem_auc_test'])}), at "
            "{} problems, at most {} pairs each, {} loss.".format(
                *best["point"]
            )
        )
    else:
        lines.append(
            f"{labels['rr_top_k']} does not pass {labels['maj1@N']} at any "
            "point of the sweep."
        )
    lines += ["", *(f"![{name}]({name})" for name in figures), ""]
    return "\n".join(lines)


def _synthetic_rows(synthetic, rounds):
    """Per synthetic AUC: each accuracy metric's mean and interval over
    seeds, and the measured within-problem AUC's mean and std."""
    rows = []
    for i, auc in enumerate(SYNTHETIC_AUCS):
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
        for name in ACCURACY:
            row[name] = _mean_interval(
                [r["per_problem"][name] for r in per_seed], rounds
            )
        rows.append(row)
    return rows


def _synthetic_markdown(synthetic, trained, clustering, base, figure):
    labels = _labels(base)
    names = ("maj1@N", "rr_all", "rr_top_k", "weighted_rr_top_k")
    lines = [
        "",
        "**Synthetic evaluators: the quality re-ranking needs**",
        "",
        "The same test samples of each seed's base run, re-ranked with "
        "the scores of synthetic evaluators of set within-problem AUC: a "
        "right sample's logit is drawn from N(d, 1), a wrong one's from "
        "N(0, 1), independently of the sample (`_synthetic_evaluators`). "
        "Intervals as above.",
        "",
        "| Within-problem AUC (set) | measured | "
        + " | ".join(labels[m] for m in (*names, "majK@N"))
        + " |",
        "| ---: | ---: |" + " ---: |" * (len(names) + 1),
    ]
    for row in synthetic:
        lines.append(
            f"| {row['target_auc']} | {_quality(row['measured'])} | "
            + " | ".join(_percent(row[m]) for m in (*names, "majK@N"))
            + " |"
        )
    passing = [r for r in synthetic if r["rr_top_k"][0] > r["maj1@N"][0]]
    within = [
        r["within_problem_auc_test"][0]
        for r in trained
        if r["within_problem_auc_test"] is not None
    ]
    lines += [
        "",
        (
            f"With synthetic scores {labels['rr_top_k']} passes "
            f"{labels['maj1@N']} (in the mean) from a within-problem AUC of "
            f"{passing[0]['target_auc']}."
            if passing
            else f"{labels['rr_top_k']} does not pass {labels['maj1@N']} "
            "with any synthetic evaluator."
        )
        + (
            " The trained evaluators' within-problem test AUC ranges from "
            f"{min(within):.3f} to {max(within):.3f}."
            if within
            else ""
        ),
    ]
    if figure:
        lines += ["", f"![{figure}]({figure})"]

    def share(name):
        values = [c[name] for c in clustering if c[name] is not None]
        return _quality((np.mean(values), np.std(values)) if values else None)

    lines += [
        "",
        "Where the trained evaluators' mistakes lie: the share of the wrong "
        "test samples' score variance (log-odds) that is between their "
        "answer clusters (`_between_cluster_share`; mean ± std over "
        "seeds), against independent errors on the same clusters "
        f"(synthetic, AUC 0.65): {share('independent')}.",
        "",
        "| Problems | Pairs / problem (max) | Loss | Between-cluster share |",
        "| ---: | ---: | --- | ---: |",
        *(
            "| {} | {} | {} | ".format(*row["point"])
            + share(_point_name(row["point"]))
            + " |"
            for row in trained
        ),
    ]
    return "\n".join(lines + [""])


def _evaluator_figures(rows, results, synthetic, base, directory):
    """Accuracy against evaluator data, against N at the best point, and
    against within-problem AUC (synthetic and trained evaluators)."""
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
    k = base.top_k_clusters
    names = []
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
    names.append(_save(fig, ax, directory, "evaluator_data"))

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
    ax.set_title(f"best evaluator: {_point_name(best['point'])}", fontsize=9)
    names.append(_save(fig, ax, directory, "n"))

    labels = _labels(base)
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
    names.append(_save(fig, ax, directory, "within_auc"))
    return names


def _save(fig, ax, directory, against):
    """Labels, saves and closes an accuracy figure; returns its name."""
    import matplotlib.pyplot as plt

    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    name = f"findings_accuracy_vs_{against}.png"
    fig.savefig(os.path.join(directory, name), dpi=120)
    plt.close(fig)
    return name


def _evaluator_study(seeds, overrides):
    study = _study(EVALUATOR_STUDY, "evaluator")
    root = os.path.join(FLAGS.run_root, FLAGS.size)
    start = time.perf_counter()
    results, synthetic, clustering = {}, [], []
    for seed in seeds:
        base = _base_config(study, seed, overrides)
        for point in study["points"]:
            folder = os.path.join(root, "points", _point_name(point))

            def compute():  # called at once, in this iteration
                # Cheap when done: every base stage is skipped.
                run_pipeline(base, verbose=1, stages=list(BASE_STAGES))
                return _run_point(
                    base, point, study, os.path.join(folder, f"run_seed{seed}")
                )

            result = _finished(
                os.path.join(folder, f"seed{seed}.json"),
                f"point {_point_name(point)} seed {seed}",
                compute,
            )
            results.setdefault(tuple(point), []).append(result)
        synthetic.append(
            _finished(
                os.path.join(root, "synthetic", f"seed{seed}.json"),
                f"synthetic evaluators seed {seed}",
                lambda: _synthetic_evaluators(base),
            )
        )
        clustering.append(
            _finished(
                os.path.join(root, "synthetic", f"clustering_seed{seed}.json"),
                f"error clustering seed {seed}",
                lambda: _error_clustering(base, study),
            )
        )
    wall = time.perf_counter() - start
    rows = _summarise(results, FLAGS.bootstrap)
    synthetic = _synthetic_rows(synthetic, FLAGS.bootstrap)
    directory = os.path.dirname(os.path.abspath(FLAGS.markdown))
    os.makedirs(directory, exist_ok=True)
    figures = _evaluator_figures(rows, results, synthetic, base, directory)
    text = _evaluator_markdown(
        rows, study, base, seeds, len(study["points"]), wall, figures[:2]
    ) + _synthetic_markdown(
        synthetic, rows, clustering, base, figures[2] if figures else None
    )
    _write_section(FLAGS.markdown, "evaluator", text)
    print(text)


def _finished(path, label, compute):
    """The JSON result at `path`: computed and written once, then read."""
    if os.path.exists(path):
        print(f"{label} reused", flush=True)
    else:
        write_json_atomic(path, compute())
        print(f"{label} done", flush=True)
    return read_json(path)


def _write_section(path, name, text):
    """Replaces study `name`'s section of the markdown file `path`."""
    start, end = f"<!-- study:{name} -->", f"<!-- /study:{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    pattern = re.compile(
        re.escape(start) + ".*?" + re.escape(end) + "\n?", re.S
    )
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


# === Solution style at an equal token budget (issue 13, study 2) ===


def _tokens_per_example(config):
    """Mean tokens of a run's SSFT examples (prompt and solution)."""
    import sentencepiece

    from keras_mathft.data.embedded_tokenizer import embedded_tokenizer_proto

    sp = sentencepiece.SentencePieceProcessor(
        model_proto=embedded_tokenizer_proto()
    )
    # Every example: a strided sample aliases with the problem generator's
    # periodic order (it read 51.5 tokens for `both`, whose mean is 57.8).
    texts = [
        config.prompt_template().generation_prompt(p.problem) + p.solution
        for p in load_problems(config)[0]
    ]
    return float(np.mean([len(ids) for ids in sp.encode(texts)]))


def _style_config(study, style, seed, overrides):
    root = os.path.join(FLAGS.run_root, FLAGS.size, "style")
    return RecipeConfig(
        run_dir=os.path.join(root, style, f"run_seed{seed}"),
        seed=seed,
        style=style,
        **{**study["base"], **overrides},
    )


def _run_style(study, style, seed, overrides):
    """One style's SSFT at the detailed run's token budget, and its test."""
    detailed = _style_config(study, "detailed", seed, overrides)
    config = _style_config(study, style, seed, overrides)
    tokens = _tokens_per_example(config)
    budget = detailed.resolved("sft_steps") * _tokens_per_example(detailed)
    steps = max(1, round(budget / tokens))
    config = _shared_run(config.replace(sft_steps=steps), overrides)
    start = time.perf_counter()
    run_pipeline(config, verbose=1, stages=list(STYLE_STAGES))
    per_problem, samples = _test_outcomes(config)
    return {
        "style": style,
        "seed": seed,
        "sft_steps": steps,
        "tokens_per_example": tokens,
        "trained_tokens": steps * config.resolved("batch_size") * tokens,
        "mean_sample_tokens": float(
            np.mean([x.num_tokens for g in samples for x in g])
        ),
        "per_problem": per_problem,
        "seconds": time.perf_counter() - start,
    }


def _test_outcomes(config, with_scores=False):
    """`(per_problem, samples)` of a run's test stages: each problem's
    Pass@1, Maj1@N and Pass@N (and, `with_scores`, every re-ranker's),
    for the bootstrap over problems."""
    test = load_problems(config)[1]
    path = functools.partial(os.path.join, config.run_dir)
    greedy = [g[0] for g in _aligned(path("test_greedy", "store"), test)]
    samples = _aligned(path("test_samples", "store"), test)
    n = config.resolved("num_samples")
    out = {"pass@1": [], "maj1@N": [], "pass@N": []}
    for problem, group, first in zip(test, samples, greedy):
        o = sampling.evaluate(
            [problem], [group], greedy=[first], n_values=(n,), trials=1
        )
        for name, value in _headline(o).items():
            out[name].append(value)
    if with_scores:
        scores = read_json(path("test_scores", "scores.json"))
        out.update(_per_problem(config, test, samples, greedy, scores))
    return out, samples


def _style_study(seeds, overrides):
    study = _study(STYLE_STUDY, "style")
    root = os.path.join(FLAGS.run_root, FLAGS.size, "style")
    start = time.perf_counter()
    results = {}
    for seed in seeds:
        for style in study["styles"]:
            result = _finished(
                os.path.join(root, style, f"seed{seed}.json"),
                f"style {style} seed {seed}",
                lambda: _run_style(study, style, seed, overrides),
            )
            results.setdefault(style, []).append(result)
    wall = time.perf_counter() - start
    example = _style_config(study, "detailed", seeds[0], overrides)
    text = _style_markdown(results, study, example, seeds, wall)
    _write_section(FLAGS.markdown, "style", text)
    print(text)


def _style_markdown(results, study, example, seeds, wall):
    n = example.resolved("num_samples")
    names = {"pass@1": "Pass@1", "maj1@N": f"Maj1@{n}", "pass@N": f"Pass@{n}"}
    lines = [
        "# Issue 13, study 2: solution style at an equal token budget",
        "",
        f"Command: `KERAS_BACKEND={keras.config.backend()} python "
        f"benchmarks/findings.py --study=style --size={FLAGS.size} "
        f"--seeds={','.join(map(str, seeds))}`, {_wall_text(wall)}.",
        "",
        f"Settings of every run (fixed before any result): "
        f"`{study['base']}`, resolved `{example.resolved_settings()}`. "
        "The detailed run trains the size's SSFT steps; each other style "
        "trains as many tokens (steps scaled by the ratio of mean tokens "
        "per training example, prompt included). Test: "
        f"{example.resolved('num_test_problems')} problems, N = {n}. "
        "Accuracy (%) is the mean over seeds with a 95% interval from the "
        "two-level bootstrap of study 1 "
        f"({FLAGS.bootstrap} rounds: seeds, then test problems).",
        "",
        "| SSFT solutions | Seeds | Steps | Tokens / example | Sample tokens "
        "| " + " | ".join(names.values()) + " |",
        "| --- | ---: | ---: | ---: | ---: |" + " ---: |" * len(names),
    ]
    for style, per_seed in results.items():
        cells = [_accuracy_cell(per_seed, "per_problem", m) for m in names]
        steps = np.mean([r["sft_steps"] for r in per_seed])
        tokens = np.mean([r["tokens_per_example"] for r in per_seed])
        length = np.mean([r["mean_sample_tokens"] for r in per_seed])
        lines.append(
            f"| {style} | {len(per_seed)} | {steps:.0f} | {tokens:.1f} | "
            f"{length:.1f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


# === Multi-task sequential fine-tuning at matched compute (study 3) ===


def _multitask_configs(study, seed, e, overrides):
    """`(ssft, multitask)` configs of one seed and evaluation length E."""
    root = os.path.join(FLAGS.run_root, FLAGS.size, "multitask")
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


def _run_multitask(study, seed, e, overrides):
    ssft, multitask = _multitask_configs(study, seed, e, overrides)
    start = time.perf_counter()
    run_pipeline(ssft, verbose=1, stages=list(STYLE_STAGES))
    # Every E shares its seed's first generation phase and evaluator
    # data: those stages ignore the later phases' settings, so their
    # copies pass the run's checks (`Stage.ignores`).
    shared = _shared_run(
        ssft.replace(
            run_dir=os.path.join(os.path.dirname(ssft.run_dir), f"seed{seed}"),
            sft_steps=study["generation_steps"],
        ),
        overrides,
    )
    run_pipeline(shared, verbose=1, stages=list(SHARED_STAGES))
    for stage in SHARED_STAGES:
        shutil.copytree(
            os.path.join(shared.run_dir, stage),
            os.path.join(multitask.run_dir, stage),
            dirs_exist_ok=True,
        )
    report = run_pipeline(multitask, verbose=1)
    recipe = report["recipe"]
    return {
        "evaluation_steps": e,
        "seed": seed,
        "ssft": _test_outcomes(ssft)[0],
        "multitask": _test_outcomes(multitask, with_scores=True)[0],
        "auc": recipe["evaluator_auc"],
        "within_problem_auc": recipe["evaluator_within_problem_auc"],
        "seconds": time.perf_counter() - start,
    }


def _multitask_study(seeds, overrides):
    study = _study(MULTITASK_STUDY, "multitask")
    root = os.path.join(FLAGS.run_root, FLAGS.size, "multitask", "points")
    start = time.perf_counter()
    results = {}
    for seed in seeds:
        for e in study["evaluation_steps"]:
            result = _finished(
                os.path.join(root, f"e{e}", f"seed{seed}.json"),
                f"E={e} seed {seed}",
                lambda: _run_multitask(study, seed, e, overrides),
            )
            results.setdefault(e, []).append(result)
    wall = time.perf_counter() - start
    first = study["evaluation_steps"][0]
    example = _multitask_configs(study, seeds[0], first, overrides)[1]
    text = _multitask_markdown(results, study, example, seeds, wall)
    _write_section(FLAGS.markdown, "multitask", text)
    print(text)


def _accuracy_cell(per_seed, key, name):
    values = [r[key][name] for r in per_seed]
    return _percent(_mean_interval(values, FLAGS.bootstrap))


def _percent(value):
    """`(mean, low, high)` as a table cell in %."""
    mean, low, high = (100 * v for v in value)
    return f"{mean:.1f} [{low:.1f}, {high:.1f}]"


def _multitask_markdown(results, study, example, seeds, wall):
    n, k = example.resolved("num_samples"), example.top_k_clusters
    s, g = study["generation_steps"], study["regeneration_steps"]
    rr = sampling.RERANKERS["rr_top_k"].display_name(k)
    lines = [
        "# Issue 13, study 3: multi-task sequential fine-tuning at "
        "matched compute",
        "",
        f"Command: `KERAS_BACKEND={keras.config.backend()} python "
        f"benchmarks/findings.py --study=multitask --size={FLAGS.size} "
        f"--seeds={','.join(map(str, seeds))}`, {_wall_text(wall)}.",
        "",
        f"Settings (fixed before any result): `{study['base']}`. Per seed "
        f"and evaluation length E: SSFT for {s} + E + {g} steps, against "
        f"generation ({s} steps) -> evaluation (E steps, the recipe's "
        f"evaluator data) -> generation ({g} steps) in one model, which "
        f"then scores its own test samples ({rr}). Test: "
        f"{example.resolved('num_test_problems')} problems, N = {n}. "
        "Accuracy (%): mean over seeds, 95% interval from the two-level "
        f"bootstrap of study 1 ({FLAGS.bootstrap} rounds).",
        "",
        f"| E | Seeds | SSFT Pass@1 | Multi-task Pass@1 | SSFT Maj1@{n} | "
        f"Multi-task Maj1@{n} | SSFT Pass@{n} | Multi-task Pass@{n} | "
        f"Multi-task {rr} | Its AUC (within-problem) |",
        "| ---: | ---: |" + " ---: |" * 8,
    ]
    for e, per_seed in sorted(results.items()):
        cells = [
            _accuracy_cell(per_seed, key, name)
            for name in ("pass@1", "maj1@N", "pass@N")
            for key in ("ssft", "multitask")
        ]
        cells.append(_accuracy_cell(per_seed, "multitask", "rr_top_k"))
        auc = [r["auc"] for r in per_seed if r["auc"] is not None]
        within = [
            r["within_problem_auc"]
            for r in per_seed
            if r["within_problem_auc"] is not None
        ]
        cells.append(
            f"{np.mean(auc):.3f} ({np.mean(within):.3f})" if auc else "n/a"
        )
        lines.append(f"| {e} | {len(per_seed)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _study(table, name):
    if FLAGS.size not in table:
        raise app.UsageError(
            f"--study={name} needs --size in {tuple(table)}. "
            f"Received: --size={FLAGS.size}"
        )
    return table[FLAGS.size]


def main(argv):
    del argv
    overrides = _overrides()
    seeds = [int(s) for s in FLAGS.seeds]
    if FLAGS.study == "evaluator":
        _evaluator_study(seeds, overrides)
        return
    if FLAGS.study == "style":
        _style_study(seeds, overrides)
        return
    if FLAGS.study == "multitask":
        _multitask_study(seeds, overrides)
        return
    if FLAGS.size in EVALUATOR_STUDY:
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
