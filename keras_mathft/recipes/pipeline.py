"""The paper's pipeline end to end, one resumable stage at a time.

Stages, in order (`stage_names(config)`; declared in `recipes.stages`):

1. `ssft`: solution fine-tuning of the generator on the reference
   solutions (a from-scratch decoder on the embedded task by default).
2. `train_samples`: N samples for each of `num_eval_train_problems`
   training problems from the SSFT generator, graded against the
   references.
3. `evaluator_data`: classification examples and right/wrong pairs.
4. `evaluator` (a copy of the SSFT model fine-tuned with the evaluator
   loss) or, with `multitask=True`, `multitask_evaluation` then
   `multitask_generation` (generation -> evaluation -> generation in one
   model; the first generation phase is stage 1).
5. `test_greedy`, `test_samples` (greedy decoding and N samples per test
   problem from the final generator) and `test_scores` (evaluator scores).
6. `report`: every metric and re-ranker, `report.json`, `report.md` and
   `accuracy_vs_n.png`; the table is printed.

Every stage reads its inputs from the run directory and writes its outputs
there, then a `DONE.json` marker; a stage with a marker is skipped, so a
stopped run restarts at the first unfinished stage. Training stages run
the public phase API (`models.fit_phases` on `config.training_phases()`),
which saves the trainable weights and optimizer state every
`checkpoint_every` steps and resumes from the last save on the same batch
sequence; sampling resumes through the sample store. Data, weight
initialisation, batch order and sampling are all seeded, so a resumed run
gives the same report as an uninterrupted one.

One process per host (a TPU pod slice, after `initialize_distributed`)
runs the same stages on every process: training steps span every host,
each process samples its share of the problems into its own namespace
of the stores, and process 0 alone writes the run directory's other
files (and runs the stages that need no model), while the others wait
for it at the end of each stage; see `keras_mathft.runtime.processes`.
"""

import contextlib
import os

import keras

from keras_mathft import sampling
from keras_mathft.atomic_files import read_json
from keras_mathft.models import sharding
from keras_mathft.recipes.config import SCRATCH_FAMILY
from keras_mathft.recipes.config import RecipeConfig
from keras_mathft.recipes.context import StageContext
from keras_mathft.recipes.interrupts import InterruptWatch
from keras_mathft.recipes.preflight import check_backend
from keras_mathft.recipes.preflight import check_files_and_packages
from keras_mathft.recipes.problems import load_problems
from keras_mathft.recipes.run_dir import RunDirectory
from keras_mathft.recipes.stages import check_prerequisites
from keras_mathft.recipes.stages import pipeline_stages
from keras_mathft.runtime.processes import is_writer


def stage_names(config):
    """The stages `run_pipeline` runs for `config`, in order."""
    return [stage.name for stage in pipeline_stages(config)]


def run_pipeline(config, *, verbose=1, stop_after=None, stages=None):
    """Runs (or resumes) the whole pipeline for `config`.

    The Python API behind `examples/train.py`; notebooks call it too.

    Args:
        config: a `RecipeConfig`.
        verbose: int. 0 is silent, 1 logs stages and prints the table, 2
            also shows Keras and sampling progress bars.
        stop_after: optional stage name (see `stage_names`). Stop once it
            is done, e.g. to run a long pipeline in several sessions.
        stages: optional list of stage names to run, in pipeline order,
            instead of all of them (e.g. `["ssft", "test_greedy",
            "test_samples"]` to measure a generator alone). What each
            reads must be in the run directory or come from an earlier
            stage of the list; this is checked before anything runs.

    Returns:
        The report dict (what `report.json` holds), or `None` when the run
        stopped before the report. With one process per host, every
        process returns it; only process 0 prints.

    Raises:
        ValueError: when the Keras backend is not one of
            `SUPPORTED_BACKENDS`, a file or package the config names is
            missing (`check_files_and_packages`), the run directory holds
            a run with other settings (a changed setting, backend, data
            file or local model file), `stop_after` or `stages` name
            unknown stages, a selected stage's inputs are missing (the
            message says which stages to run first), or, with
            `data="math"`, test problems are also training problems
            (`data.find_overlap`) and `allow_contamination` is not set,
            or `config.run.mesh` does not cover the devices. Nothing is
            written before these checks.
        KeyboardInterrupt: on Ctrl-C (SIGINT): at once or, where a library
            would drop it, after the current training step. The stage it
            stopped is not marked done, its last checkpoint or sample
            shard is kept, and the same call resumes the run.

    Example:

    >>> from keras_mathft.recipes import RecipeConfig, run_pipeline
    >>> report = run_pipeline(RecipeConfig(size="quick", run_dir="runs/q"))
    ... # doctest: +SKIP
    >>> report["overall"]["pass@1"]  # doctest: +SKIP
    """
    if not isinstance(config, RecipeConfig):
        raise ValueError(
            "`config` must be a `RecipeConfig`. "
            f"Received: {type(config).__name__}"
        )
    check_backend()
    check_files_and_packages(config)
    if not is_writer():
        verbose = 0  # One process per host: process 0 speaks for all.
    all_stages = pipeline_stages(config)
    selected = _selected_stages(config, all_stages, stop_after, stages)
    # Preflight: files are read and checked before the run directory is.
    distribution = mesh_distribution(config)
    problems = load_problems(config) if config.data.data == "math" else None
    with contextlib.ExitStack() as scopes:
        interrupts = scopes.enter_context(InterruptWatch())
        if distribution is not None:
            scopes.enter_context(distribution.scope())
        context = StageContext(
            config, all_stages, verbose, problems, interrupts
        )
        for stage in selected:
            context.run_stage(stage)
            if stage.name == stop_after:
                return None
    if selected[-1].name != "report":
        return None
    report = read_json(context.path("report"))
    if verbose:
        print(format_report(report), flush=True)
    return report


def _selected_stages(config, all_stages, stop_after, stages):
    """The stages to run, checked: known names, inputs available."""
    names = [stage.name for stage in all_stages]
    if stop_after is not None and stop_after not in names:
        raise ValueError(
            f"`stop_after` must be one of {names}. Received: {stop_after!r}"
        )
    if stages is None:
        return all_stages
    unknown = [s for s in stages if s not in names]
    if unknown:
        raise ValueError(
            f"`stages` must be drawn from {names}. Received: {unknown}"
        )
    selected = [stage for stage in all_stages if stage.name in stages]
    check_prerequisites(
        all_stages,
        [stage.name for stage in selected],
        _done_check(config.run.run_dir),
    )
    return selected


def _done_check(run_dir):
    # Read-only: a missing run directory is not created to look into it.
    if not os.path.isdir(run_dir):
        return lambda stage: False
    return RunDirectory(run_dir).is_done


def initialize_distributed(
    coordinator_address=None, num_processes=None, process_id=None
):
    """Joins JAX's distributed runtime to run the pipeline on every host.

    Call it first, in every process: one process per host, all running the
    same code (on a TPU pod slice, the same command on every host). It
    calls `keras.distribution.initialize` and sets a
    `keras.distribution.DataParallel` over every host's devices, so each
    training step spans all hosts; `run_pipeline` then feeds each process
    its share of every global batch, samples each process's share of the
    problems on its own devices, and has process 0 write the run
    directory (which every host must see: NFS, a GCS FUSE mount).

    Args:
        coordinator_address: optional str, `host:port` of process 0. On a
            TPU pod slice (or under SLURM) JAX finds it and the two below;
            elsewhere pass them or set `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
            `KERAS_DISTRIBUTION_NUM_PROCESSES` and
            `KERAS_DISTRIBUTION_PROCESS_ID`.
        num_processes: optional int, the number of processes.
        process_id: optional int, this process's index (0 writes).

    Returns:
        The `keras.distribution.DataParallel` it set.

    Raises:
        ValueError: off the JAX backend.

    Example:

    >>> initialize_distributed()  # on each host of a TPU pod slice
    ... # doctest: +SKIP
    >>> report = run_pipeline(RecipeConfig(run_dir="/mnt/shared/run"))
    ... # doctest: +SKIP
    """
    if keras.config.backend() != "jax":
        raise ValueError(
            "One process per host runs on JAX's distributed runtime; set "
            "KERAS_BACKEND=jax. Received: backend "
            f"{keras.config.backend()!r}"
        )
    keras.distribution.initialize(
        coordinator_address, num_processes, process_id
    )
    # Each process feeds its own rows (`context.ProcessRows`): no auto-sharding.
    distribution = keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False
    )
    keras.distribution.set_distribution(distribution)
    return distribution


def mesh_distribution(config):
    """The distribution of `config.run.mesh`, or None when it is unset.

    A `batch`-only mesh is the `DataParallel` that `initialize_distributed`
    sets; with a `model` axis, a `ModelParallel` with the layout of the
    model's family (`models.sharding.model_parallel`): the from-scratch
    decoder's, or the preset's (read from its config before any weight
    loads). `run_pipeline` runs every stage under it.

    Args:
        config: a `RecipeConfig`.

    Returns:
        A `keras.distribution.Distribution`, or None.

    Raises:
        ValueError: off JAX, or when the mesh does not cover the devices.

    Example:

    >>> mesh_distribution(RecipeConfig()) is None
    True
    """
    if config.run.mesh is None:
        return None
    family = SCRATCH_FAMILY
    if (
        config.model.preset is not None
        and sharding.parse_mesh(config.run.mesh)[sharding.MODEL] > 1
    ):
        family = sharding.family_of_preset(config.model.preset)
    # Each process feeds its own rows (`context.ProcessRows`): no auto-sharding.
    return sharding.mesh_distribution(
        config.run.mesh, family, auto_shard_dataset=False
    )


def format_report(result):
    """The printed report: the paper-style table plus recipe facts."""
    lines = [sampling.markdown_table(result)]
    recipe = result.get("recipe", {})
    o = result["overall"]
    n = result["num_samples"]
    if "pass@1" in o:
        lines.append(
            f"pass@1 {100 * o['pass@1']:.1f} | maj1@{n} "
            f"{100 * o[f'maj1@{n}']:.1f} | pass@{n} "
            f"{100 * o['pass@k'][str(n)]:.1f}  ({o['num_problems']} test "
            "problems)"
        )
    if recipe:
        auc = recipe.get("evaluator_auc")
        lines.append(
            f"test sample accuracy {100 * recipe['test_sample_accuracy']:.1f}"
            "%, evaluator AUC "
            + ("n/a" if auc is None else f"{auc:.3f}")
            + f" (generator: {recipe['generator']}, evaluator: "
            f"{recipe['evaluator']})"
        )
    lines.extend(sampling.against_voting(result))
    return "\n".join(lines)
