"""The pipeline's stages, declared: what each reads, writes and does.

A `Stage` names the artifacts (files or folders in the run directory) it
reads and writes, and holds the function that runs it. `pipeline_stages`
lists a run's stages in order; `run_pipeline` runs them and, for a subset
(`stages=`), checks first that every artifact a stage reads is written by
a stage that is done or runs earlier. To add a stage, write its function
(next to its kind: `training_stages`, `sampling_stages`, `report_stage`)
and declare it in `pipeline_stages`: nothing else names its files.
"""

import dataclasses
from typing import Callable

from keras_mathft.recipes import report_stage
from keras_mathft.recipes import sampling_stages
from keras_mathft.recipes import training_stages
from keras_mathft.recipes.stage_common import evaluator_stage
from keras_mathft.recipes.stage_common import generator_stage

WEIGHTS_FILE = "model.weights.h5"


@dataclasses.dataclass(frozen=True)
class Stage:
    """One resumable step of the pipeline.

    Args:
        name: str, also the name of the stage's folder.
        run: `fn(context) -> dict`, does the work and returns the summary
            kept in the stage's `DONE.json`. `context` gives the config,
            problems, models and artifact paths (a
            `recipes.StageContext`).
        reads: tuple of artifact names the stage needs.
        writes: dict from artifact name to its path inside the stage's
            folder.
        ignores: tuple of `RecipeConfig` fields that neither this stage
            nor the stages it reads from depend on. Its folder may be
            copied into a run that differs only in them.
        writer_only: bool. With one process per host, process 0 runs the
            stage alone (it uses no model) and the others wait for it.
            Otherwise every process runs it (training spans every host;
            sampling shards the problems), and `context.writes` tells
            whether this process writes the files besides its samples.
    """

    name: str
    run: Callable
    reads: tuple = ()
    writes: dict = dataclasses.field(default_factory=dict)
    ignores: tuple = ()
    writer_only: bool = False


# What only the stages after `evaluator_data` read. A multi-task run and a
# plain one with the same other settings share their first three stages:
# copy those folders into the second run's directory and they are skipped.
_LATER_SETTINGS = (
    "multitask",
    "evaluator",
    # The evaluator data holds both examples and pairs, whatever the loss.
    "evaluator_loss",
    "margin",
    "evaluator_steps",
    "evaluator_learning_rate",
    "final_sft_steps",
    "top_k_clusters",
)


def pipeline_stages(config):
    """The stages `run_pipeline` runs for `config`, in order.

    Returns:
        A list of `Stage`.
    """
    return [
        *_generator_data_stages(config),
        *_evaluator_training_stages(config),
        *_test_stages(config),
    ]


def _generator_data_stages(config):
    """SSFT and what the evaluator learns from: the model's own samples."""
    stages = [
        _training_stage("ssft", "generation", None, ignores=_LATER_SETTINGS),
        Stage(
            "train_samples",
            sampling_stages.train_samples,
            reads=("ssft.weights",),
            writes={"train.store": "store", "train.labels": "labels.json"},
            ignores=_LATER_SETTINGS,
        ),
        Stage(
            "evaluator_data",
            sampling_stages.evaluator_data,
            reads=("train.store", "train.labels"),
            writes={
                "evaluator.examples": "examples.jsonl",
                "evaluator.pairs": "pairs.jsonl",
            },
            ignores=_LATER_SETTINGS,
            writer_only=True,
        ),
    ]
    if config.evaluator.evaluator == "process":
        stages.append(
            Stage(
                "step_labels",
                sampling_stages.step_labels,
                reads=("ssft.weights", "train.store"),
                writes={"evaluator.steps": "steps.jsonl"},
            )
        )
    return stages


def _evaluator_training_stages(config):
    """The evaluator apart, or evaluation then generation (multi-task)."""
    data = _evaluator_training_data(config)
    if not config.training.multitask:
        return [_training_stage("evaluator", "evaluation", "ssft", data=data)]
    return [
        _training_stage(
            "multitask_evaluation", "evaluation", "ssft", data=data
        ),
        _training_stage(
            "multitask_generation", "regeneration", "multitask_evaluation"
        ),
    ]


def _test_stages(config):
    """The test problems: greedy and N samples, their scores, the report."""
    generator = generator_stage(config)
    return [
        Stage(
            "test_greedy",
            sampling_stages.sampling_stage("test.greedy", greedy=True),
            reads=(f"{generator}.weights",),
            writes={"test.greedy": "store"},
        ),
        Stage(
            "test_samples",
            sampling_stages.sampling_stage("test.samples", greedy=False),
            reads=(f"{generator}.weights",),
            writes={"test.samples": "store"},
        ),
        Stage(
            "test_scores",
            sampling_stages.test_scores,
            reads=("test.samples", f"{evaluator_stage(config)}.weights"),
            writes=_score_files(config),
        ),
        Stage(
            "report",
            report_stage.report,
            reads=("test.samples", "test.greedy", *_score_files(config)),
            writes={"report": "report.json"},
            writer_only=True,
        ),
    ]


def _evaluator_training_data(config):
    """The artifacts the evaluation phase trains on."""
    if config.evaluator.evaluator == "process":
        return ("evaluator.steps",)
    return ("evaluator.examples", "evaluator.pairs")


def _score_files(config):
    """The test scores' artifacts: a process evaluator's step scores too."""
    files = {"test.scores": "scores.json"}
    if config.evaluator.evaluator == "process":
        files["test.step_scores"] = "step_scores.json"
    return files


def check_prerequisites(stages, selected, is_done):
    """Raises unless every artifact the selected stages read will exist.

    Args:
        stages: every `Stage` of the run, in order.
        selected: the names to run, in order.
        is_done: `fn(stage name) -> bool`, whether a stage is done.

    Raises:
        ValueError: naming the stages to run first.
    """
    writer = {a: s.name for s in stages for a in s.writes}
    reads = {s.name: s.reads for s in stages}
    available = {s.name for s in stages if is_done(s.name)}
    missing = []

    def need(name):
        if name in available or name in missing:
            return
        for artifact in reads[name]:
            need(writer[artifact])
        missing.append(name)

    for name in selected:
        if name not in available:
            for artifact in reads[name]:
                if writer[artifact] not in available:
                    need(writer[artifact])
        available.add(name)
    if missing:
        order = [s.name for s in stages]
        missing.sort(key=order.index)
        raise ValueError(
            f"Stages {selected} read artifacts of stages that have not run "
            f"in this run directory. Run {missing} first (or add them to "
            f"`stages`). Received: stages={selected}"
        )


def _training_stage(name, phase, start_from, ignores=(), data=()):
    """A stage that trains the phase `phase` of `config.training_phases()`.

    It starts from a fresh model (`start_from=None`) or from the weights of
    the stage `start_from`, and saves its weights and checkpoints. `data`
    names the artifacts its training data comes from, beside the weights.
    """
    reads = () if start_from is None else (f"{start_from}.weights",)
    reads += data

    def run(context):
        if start_from is None:
            solver = context.new_solver()
        else:
            solver = context.copy_of(start_from)
        return training_stages.train(context, name, solver, phase)

    return Stage(
        name,
        run,
        reads=reads,
        writes={f"{name}.weights": WEIGHTS_FILE},
        ignores=ignores,
    )
