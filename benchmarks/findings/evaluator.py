"""Study 1: re-ranking against voting as the evaluator improves.

Per seed one base run trains SSFT, samples the evaluator's training
problems (the most any sweep point uses) and the test problems (greedy
and N samples). Every sweep point (training problems x pairs per problem
x loss, steps scaled to `EPOCHS` passes over its pairs or examples) then
trains its own evaluator from the base SSFT weights on the first
problems of the base's samples, scores the base's test samples and
reports (`run_point`).
"""

import math
import os
import shutil
import time

import common
import evaluator_tables
import figures
import numpy as np
import sizes
import stats
import synthetic

from keras_mathft import models
from keras_mathft import sampling
from keras_mathft.recipes import load_problems
from keras_mathft.recipes import pipeline_stages
from keras_mathft.recipes import run_pipeline
from keras_mathft.recipes import write_json_atomic

FLAGS = common.FLAGS
# The evaluator's quality over seeds: a mean and std per point.
QUALITY = (
    "auc",
    "auc_train",
    "within_problem_auc_train",
    "within_problem_auc_test",
    "ece",
    "steps",
    "pairs",
    "examples",
)


def run_point(base, point, study):
    """Trains one sweep point's evaluator and measures it on one seed.

    The point is a recipe run of its own (`sizes.point_config`) whose
    first stages are the base run's: their files (SSFT weights, the
    training and test samples) are copied in without their `DONE`
    markers, which the point's other evaluator settings would not match,
    and only the evaluator's stages run there, each resumable as in any
    run.
    """
    problems = point[0]
    train = load_problems(base)[0][:problems]
    with common.opened(base) as source:
        labels = common.read_json(source.path("train.labels"))[:problems]
        train_samples = common.aligned(source.store("train.store"), train)
        built, steps = _evaluator_data(
            base, point, study, train, train_samples, labels
        )
        config = sizes.point_config(base, point, steps)
        # Opened first: it writes the point's config.json, then takes inputs.
        with common.opened(config) as run:
            common.copy_stages(
                source,
                run,
                sizes.BASE_STAGES,
                ignore=shutil.ignore_patterns("DONE.json", "checkpoint"),
            )
            write_json_atomic(run.path("train.labels"), labels)
            _run_point_stages(run, config)
            report = common.read_json(run.path("report"))
            # Within-problem AUC on the evaluator's own training problems:
            # high here and low on test means it memorised answers.
            k = min(problems, study["train_auc_problems"])
            nested = _training_scores(run, config, train, train_samples[:k])
    test, greedy, samples, scores = stats.read_test_stages(config, True)
    recipe = report["recipe"]
    return {
        "point": list(point),
        "seed": base.run.seed,
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
        "per_problem": stats.per_problem(config, test, samples, greedy, scores),
        "curves": {
            m: report["curves"][m] for m in ("maj1", "rr_top_k", "pass@n")
        },
    }


def _evaluator_data(base, point, study, train, train_samples, labels):
    """`(examples, steps)`: the point's evaluator data, counted as the
    `evaluator_data` stage will build it, and the training steps that
    follow from it."""
    _, pairs_per_problem, loss = point
    built = models.build_evaluator_examples(
        train,
        [[x.text for x in group] for group in train_samples],
        labels,
        max_pairs_per_problem=pairs_per_problem,
        seed=base.run.seed,
    )
    count = len(built.pairs if loss == "margin" else built.examples)
    batch = base.evaluator.evaluator_batch_size
    steps = max(study["min_steps"], math.ceil(sizes.EPOCHS * count / batch))
    return built, steps


def _run_point_stages(run, config):
    """Runs (or resumes) the evaluator's stages of a point's run."""
    stages = {stage.name: stage for stage in pipeline_stages(config)}
    for name in sizes.POINT_STAGES:
        run.run_stage(stages[name])


def _training_scores(run, config, train, groups):
    """The point's evaluator's scores of its training samples `groups`
    (one list per problem of `train`)."""
    flat = [(p.problem, x.text) for p, g in zip(train, groups) for x in g]
    scores = run.solver("evaluator").score_solutions(
        [q for q, _ in flat],
        [t for _, t in flat],
        batch_size=2 * config.evaluator.evaluator_batch_size,
        sequence_length=config.model.sequence_length,
    )
    nested, i = [], 0
    for group in groups:
        nested.append([float(v) for v in scores[i : i + len(group)]])
        i += len(group)
    return nested


def study(seeds, overrides):
    """Runs (or reads back) every point of every seed, and reports."""
    table = common.study_size(sizes.EVALUATOR_STUDY, "evaluator")
    start = time.perf_counter()
    results, synthetic_results, clustering = {}, [], []
    for seed in seeds:
        base = sizes.base_config(table, seed, overrides)
        steps = {}
        for point in table["points"]:
            result = _finished_point(base, point, table)
            results.setdefault(tuple(point), []).append(result)
            steps[tuple(point)] = result["steps"]
        folder = common.size_root("synthetic")
        synthetic_results.append(
            common.finished(
                os.path.join(folder, f"seed{seed}.json"),
                f"synthetic evaluators seed {seed}",
                lambda: synthetic.evaluators(base),
            )
        )
        clustering.append(
            common.finished(
                os.path.join(folder, f"clustering_seed{seed}.json"),
                f"error clustering seed {seed}",
                lambda: synthetic.error_clustering(base, table, steps),
            )
        )
    wall = time.perf_counter() - start
    _report(table, base, seeds, wall, results, synthetic_results, clustering)


def _finished_point(base, point, table):
    """One point's result on `base`'s seed: read back, or computed."""
    folder = common.size_root("points", sizes.point_name(point))

    def compute():
        # Cheap when done: every base stage is skipped.
        run_pipeline(base, verbose=1, stages=list(sizes.BASE_STAGES))
        return run_point(base, point, table)

    return common.finished(
        os.path.join(folder, f"seed{base.run.seed}.json"),
        f"point {sizes.point_name(point)} seed {base.run.seed}",
        compute,
    )


def _report(table, base, seeds, wall, results, synthetic_results, clustering):
    """Writes the study's section of `--markdown` and its figures."""
    rows = summarise(results, FLAGS.bootstrap)
    synthetic_rows = synthetic.rows(synthetic_results, FLAGS.bootstrap)
    directory = os.path.dirname(os.path.abspath(FLAGS.markdown))
    os.makedirs(directory, exist_ok=True)
    names = figures.evaluator_figures(
        rows, results, synthetic_rows, base, directory
    )
    text = evaluator_tables.evaluator_markdown(
        rows, table, base, seeds, wall, names[:2]
    ) + evaluator_tables.synthetic_markdown(
        synthetic_rows,
        rows,
        clustering,
        base,
        names[2] if names else None,
    )
    common.write_section(FLAGS.markdown, "evaluator", text)
    print(text)


def summarise(results, rounds):
    """Per point: the mean and interval of each accuracy metric, and the
    mean and std over seeds of the evaluator's quality."""
    out = []
    for point, per_seed in results.items():
        row = {"point": point, "seeds": len(per_seed)}
        for name in sizes.ACCURACY:
            row[name] = stats.mean_interval(
                [r["per_problem"][name] for r in per_seed], rounds
            )
        for name in QUALITY:
            values = [r[name] for r in per_seed if r[name] is not None]
            row[name] = (
                (float(np.mean(values)), float(np.std(values)))
                if values
                else None
            )
        out.append(row)
    return out
