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
for it at the end of each stage; see `keras_mathft._processes`.
"""

import contextlib
import dataclasses
import os
import time

import keras
import numpy as np
from absl import logging

from keras_mathft import data as data_lib
from keras_mathft import models
from keras_mathft import sampling
from keras_mathft._files import read_json
from keras_mathft._files import write_json_atomic
from keras_mathft._processes import is_writer
from keras_mathft._processes import run_together
from keras_mathft._processes import this_process
from keras_mathft.models import sharding
from keras_mathft.models.sharding import row_distribution
from keras_mathft.recipes.config import SCRATCH_FAMILY
from keras_mathft.recipes.config import RecipeConfig
from keras_mathft.recipes.inputs import input_digests
from keras_mathft.recipes.interrupts import InterruptWatch
from keras_mathft.recipes.interrupts import StopOnInterrupt
from keras_mathft.recipes.run_dir import RunDirectory
from keras_mathft.recipes.stages import check_prerequisites
from keras_mathft.recipes.stages import pipeline_stages
from keras_mathft.recipes.tensorboard import LossLogger

CONFIG_FILE = "config.json"
TIMINGS_FILE = "timings.json"
_TEST_SEED_OFFSET = 1_000_003
# Fields that never change a result: where the run lives and logs, the
# permission to run on data that the contamination check refuses, and
# the device mesh (beyond float rounding; a run may resume on another).
_NOT_COMPARED = ("run_dir", "tensorboard", "allow_contamination", "mesh")
# Keras backends the recipe runs on (its training, sampling and
# distribution code exists for these two).
SUPPORTED_BACKENDS = ("jax", "tensorflow")
# Settings that run directories of earlier versions did not store (see
# `RunDirectory`'s `later_settings`).
_LATER_SETTINGS = ("backend", "data_digest", "preset_digest")
# Test ids a contamination error names.
_IDS_SHOWN = 5


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
            `SUPPORTED_BACKENDS`, the run directory holds a run with other
            settings (a changed setting, backend, data file or local model
            file), `stop_after` or `stages` name unknown stages, a selected
            stage's inputs are missing (the message says which stages to
            run first), or, with `data="math"`, test problems are also
            training problems (`data.find_overlap`) and
            `allow_contamination` is not set, or `config.mesh` does not
            cover the devices. Nothing is written before these checks.
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
    if not is_writer():
        verbose = 0  # One process per host: process 0 speaks for all.
    all_stages = pipeline_stages(config)
    names = [stage.name for stage in all_stages]
    if stop_after is not None and stop_after not in names:
        raise ValueError(
            f"`stop_after` must be one of {names}. Received: {stop_after!r}"
        )
    selected = all_stages
    if stages is not None:
        unknown = [s for s in stages if s not in names]
        if unknown:
            raise ValueError(
                f"`stages` must be drawn from {names}. Received: {unknown}"
            )
        selected = [stage for stage in all_stages if stage.name in stages]
        check_prerequisites(
            all_stages,
            [stage.name for stage in selected],
            _done_check(config.run_dir),
        )
    # Preflight: files are read and checked before the run directory is.
    distribution = mesh_distribution(config)
    problems = load_problems(config) if config.data == "math" else None
    with contextlib.ExitStack() as scopes:
        interrupts = scopes.enter_context(InterruptWatch())
        if distribution is not None:
            scopes.enter_context(distribution.scope())
        run = _Run(config, all_stages, verbose, problems, interrupts)
        for stage in selected:
            run.run_stage(stage)
            if stage.name == stop_after:
                return None
    if selected[-1].name != "report":
        return None
    report = read_json(run.path("report"))
    if verbose:
        print(format_report(report), flush=True)
    return report


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
    # Each process feeds its own rows (`_ProcessRows`): no auto-sharding.
    distribution = keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False
    )
    keras.distribution.set_distribution(distribution)
    return distribution


def mesh_distribution(config):
    """The distribution of `config.mesh`, or None when it is unset.

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
    if config.mesh is None:
        return None
    family = SCRATCH_FAMILY
    if (
        config.preset is not None
        and sharding.parse_mesh(config.mesh)[sharding.MODEL] > 1
    ):
        family = sharding.family_of_preset(config.preset)
    # Each process feeds its own rows (`_ProcessRows`): no auto-sharding.
    return sharding.mesh_distribution(
        config.mesh, family, auto_shard_dataset=False
    )


def check_backend(backend=None):
    """Raises unless the recipe supports the Keras backend.

    Args:
        backend: optional str, a backend name; defaults to the current
            one (`keras.config.backend()`, set by `KERAS_BACKEND`).

    Raises:
        ValueError: for a backend not in `SUPPORTED_BACKENDS`.

    Example:

    >>> check_backend("jax")
    >>> check_backend("torch")
    Traceback (most recent call last):
    ...
    ValueError: The recipe runs on the jax and tensorflow backends only...
    """
    backend = keras.config.backend() if backend is None else backend
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            "The recipe runs on the jax and tensorflow backends only; set "
            "KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow. Received: "
            f"KERAS_BACKEND={backend!r}"
        )


def check_run_directory(config):
    """Opens the run directory of `config`: locked, checked, created if new.

    Besides the config, the run's settings hold the Keras backend and the
    digests of its data files and local model (`recipes.inputs`), so a
    resume on another backend or on changed files is refused too. See
    `RunDirectory` for the checks; a run directory of an earlier version,
    which stored neither, resumes with a warning.

    Returns:
        The `RunDirectory`, holding the run's writer lock.

    Raises:
        ValueError: when the backend is not supported, or the folder holds
            a run with other settings, is in use by another process, or
            cannot be a run directory.
    """
    check_backend()
    # Resolved values too: a changed size table must not resume old runs.
    settings = {
        **_comparable(config.get_config()),
        "resolved": config.resolved_settings(),
        "backend": keras.config.backend(),
        **input_digests(config),
    }
    ignores = {stage.name: stage.ignores for stage in pipeline_stages(config)}

    def stage_settings(stage, settings):
        ignored = ignores.get(stage, ())
        return {
            k: _without(v, ignored) if k == "resolved" else v
            for k, v in _without(settings, ignored).items()
        }

    return RunDirectory(
        config.run_dir,
        config=settings,
        stage_settings=stage_settings,
        later_settings=_LATER_SETTINGS,
    )


def _comparable(config):
    return _without(config, _NOT_COMPARED)


def _without(settings, names):
    if not isinstance(settings, dict):
        return settings
    return {k: v for k, v in settings.items() if k not in names}


class _Run:
    """What the stages of one run share: config, files, data and models.

    Stages get it as their `context`: artifact paths by name, the problems,
    models loaded from earlier stages (two at most stay in memory), and
    the training and sampling machinery.
    """

    def __init__(self, config, stages, verbose, problems=None, interrupts=None):
        self.config = config
        self.verbose = verbose
        # Outside `run_pipeline` (tests), an inactive watch.
        self.interrupts = interrupts or InterruptWatch()
        self.run = check_run_directory(config)
        self.template = config.prompt_template()
        self._artifacts = {
            artifact: (stage.name, path)
            for stage in stages
            for artifact, path in stage.writes.items()
        }
        self._stage_names = [stage.name for stage in stages]
        self._problems = problems
        self._models = {}

    # === Orchestration ===

    def log(self, message, *args):
        if self.verbose:
            print(message % args if args else message, flush=True)

    @property
    def writes(self):
        """Whether this process writes the run's files (process 0)."""
        return is_writer()

    def run_stage(self, stage):
        if self.run.is_done(stage.name):
            self.log("[%s] done already, skipped", stage.name)
            return
        self.log("[%s] running", stage.name)

        def run():
            start = time.perf_counter()
            summary = stage.run(self)
            seconds = time.perf_counter() - start
            # A Ctrl-C that a library dropped still stops the run here.
            self.interrupts.check()
            if self.writes:
                self._mark_done(stage.name, summary, seconds)
            return summary, seconds

        # Every process leaves the stage once its marker is written.
        done = run_together(
            run,
            f"running stage {stage.name!r}",
            writer_only=stage.writer_only,
        )
        if done is not None:
            summary, seconds = done
            self.log("[%s] done in %.1f s: %s", stage.name, seconds, summary)

    def _mark_done(self, stage, summary, seconds):
        self.run.mark_done(stage, summary)
        timings_path = self.run.path / TIMINGS_FILE
        timings = read_json(timings_path) if timings_path.exists() else {}
        timings[stage] = timings.get(stage, 0.0) + seconds
        write_json_atomic(timings_path, timings)

    def path(self, artifact):
        """The path of a declared artifact (its stage folder is created)."""
        stage, path = self._artifacts[artifact]
        return self.run.stage_dir(stage) / path

    def store(self, artifact):
        """The `SampleStore` a stage wrote as `artifact`."""
        return sampling.SampleStore(self.path(artifact))

    def summaries(self):
        """The `DONE.json` summaries of the finished stages, report aside."""
        return {
            name: self.run.summary(name)
            for name in self._stage_names
            if name != "report" and self.run.is_done(name)
        }

    def comparable_config(self):
        return _comparable(self.config.get_config())

    def seed(self):
        keras.utils.set_random_seed(self.config.seed)

    # === Data ===

    @property
    def problems(self):
        """`(train, test)` lists of `MathProblem`, from the config."""
        if self._problems is None:
            self._problems = load_problems(self.config)
        return self._problems

    def eval_train_problems(self):
        train = self.problems[0]
        count = self.config.resolved("num_eval_train_problems")
        return train if count is None else train[:count]

    # === Models ===

    def new_solver(self):
        """A freshly built (seeded) solver of the configured architecture."""
        config = self.config
        self.seed()
        length = config.resolved("sequence_length")
        if config.preset is None:
            lm = models.build_causal_lm(
                tokenizer=data_lib.embedded_tokenizer_proto(),
                sequence_length=length,
                dtype=config.dtype,
                **config.scratch_architecture(),
            )
            return models.MathSolver(lm, prompt_template=self.template)
        kwargs = {} if config.dtype is None else {"dtype": config.dtype}
        solver = models.MathSolver.from_preset(
            config.preset, prompt_template=self.template, **kwargs
        )
        solver.preprocessor.sequence_length = length
        if config.lora_rank is not None:
            solver.enable_lora(config.lora_rank)
        return solver

    def copy_of(self, stage):
        """A new solver holding the weights `stage` saved."""
        solver = self.new_solver()
        solver.load_weights(self.path(f"{stage}.weights"))
        return solver

    def solver(self, stage):
        """The solver saved by `stage`, loaded once and kept in memory."""
        if stage not in self._models:
            self._cache(stage, self.copy_of(stage))
        return self._models[stage]

    def _cache(self, stage, solver):
        # Two models at most (generator and evaluator) stay in memory.
        self._models.pop(stage, None)
        while len(self._models) >= 2:
            self._models.pop(next(iter(self._models)))
        self._models[stage] = solver

    # === Training and sampling ===

    def train(self, stage, solver, phase, dataset, weights_path):
        """Fits one phase with `fit_phases`, checkpointed; saves weights."""
        checkpoints = self.run.stage_dir(stage) / "checkpoint"
        checkpoint = models.TrainingCheckpoint(checkpoints / phase.name)
        done, total = checkpoint.epochs_done(), phase.epochs * phase.steps
        if 0 < done < phase.epochs:
            self.log(
                "[%s] resuming after step %d of %d",
                stage,
                done * phase.steps,
                total,
            )
        callbacks = [StopOnInterrupt(self.interrupts)]
        if self.config.tensorboard is not None and self.writes:
            callbacks.append(LossLogger(self.config.tensorboard, stage))
        models.fit_phases(
            solver,
            [phase],
            {phase.dataset or phase.name: _ProcessRows.of(dataset)},
            callbacks=callbacks,
            checkpoint_dir=checkpoints,
            # A bar per checkpoint interval (plain lines off a terminal).
            verbose=1 if self.verbose >= 2 else 0,
        )
        self.save_weights(solver, weights_path)
        losses = checkpoint.losses()
        # The trained model equals its saved weights: keep it for the
        # next stages instead of loading it again.
        self._cache(stage, solver)
        return {
            "steps": total,
            "final_loss": round(losses[-1], 4) if losses else None,
            "losses": [round(v, 4) for v in losses],
        }

    def save_weights(self, solver, path):
        """Saves `solver`'s weights to `path` from the writing process."""
        if not self.writes:
            return
        # On this process's devices: Keras's saving builds a variable (a
        # reference optimizer), which under a distribution spanning every
        # host would wait for the other processes.
        local = row_distribution()
        with local.scope() if local else contextlib.nullcontext():
            solver.save_weights(path)

    def sample(self, path, solver, problems, num_samples, temperature, seed):
        """Samples into the store at `path`; returns it once complete.

        Each process samples its share of `problems` into its own
        namespace; all wait until every share is stored.
        """
        return run_together(
            lambda: sampling.sample_to_store(
                solver,
                problems,
                path,
                num_samples=num_samples,
                temperature=temperature,
                top_p=self.config.top_p,
                max_new_tokens=self.config.resolved("max_new_tokens"),
                seed=seed,
                problems_per_shard=max(1, 1024 // num_samples),
                verbose=self.verbose >= 2,
            ),
            f"sampling into {str(path)!r}",
        )


class _ProcessRows(keras.utils.PyDataset):
    """This process's rows of each global batch, one process per host.

    Under a `DataParallel` spanning several processes, each one feeds its
    contiguous share of the global batch and Keras assembles the global
    batch from them (`jax.make_array_from_process_local_data`), so every
    step trains on the rows a single process would.

    Args:
        batches: an `ArrayBatches` (what `data.make_sft_dataset` and
            `data.make_array_dataset` give off TensorFlow).
        index, count: this process's index and the number of processes.
    """

    def __init__(self, batches, index, count):
        super().__init__()
        self.batches, self.index, self.count = batches, index, count

    @classmethod
    def of(cls, batches):
        """`batches` itself with one process, else this process's rows."""
        index, count = this_process()
        return batches if count == 1 else cls(batches, index, count)

    @property
    def num_batches(self):
        return self.batches.num_batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        batch = self.batches[index]
        rows = len(keras.tree.flatten(batch)[0])
        if rows % self.count:
            raise ValueError(
                f"A global batch of {rows} rows does not split over "
                f"{self.count} processes. Use batch sizes (--batch_size, "
                "--evaluator_batch_size) that are multiples of the number "
                f"of devices. Received: batch {index} of {rows} rows"
            )
        share = rows // self.count
        start = self.index * share
        return keras.tree.map_structure(
            lambda array: array[start : start + share], batch
        )

    def skip(self, count):
        """The same batches without the first `count` (see `fit_phases`)."""
        return _ProcessRows(self.batches.skip(count), self.index, self.count)


# === Helpers (public ones are used by notebooks and benchmarks) ===


def load_problems(config):
    """Returns `(train, test)` problem lists for `config`.

    The embedded task draws `num_train_problems` seeded problems and
    `num_test_problems` more from another seed, leaving out any whose text
    is a training problem, so the test set is held out. With
    `data="math"` the paper's 12K/500 split is read from `data_dir`, kept
    to levels up to `max_level` (when set), cut to a seeded draw of
    `num_train_problems` training problems (in file order) and the first
    `num_test_problems` test problems, and the chosen solutions are
    attached; a test problem that is also one of those training problems
    (`data.find_overlap`) is refused unless `allow_contamination` is set.

    Raises:
        ValueError: for contaminated data, naming how many test problems
            are training problems and the first few ids.
    """
    num_train = config.resolved("num_train_problems")
    num_test = config.resolved("num_test_problems")
    if config.data == "embedded":
        return _embedded_problems(config, num_train, num_test)
    train, test = _load_math(config)
    max_level = config.resolved("max_level")
    if max_level is not None:
        # Unrated problems (level 0, "Level ?") are left out too.
        train, test = (
            [p for p in split if 1 <= (p.level or 0) <= max_level]
            for split in (train, test)
        )
    if num_train is not None and num_train < len(train):
        # MATH's files run subject by subject: a seeded draw, not the first
        # files, keeps every subject in a subset.
        rng = np.random.default_rng(config.seed)
        keep = np.sort(rng.choice(len(train), num_train, replace=False))
        train = [train[i] for i in keep]
    if num_test is not None:
        test = test[:num_test]
    train = _with_solutions(config, train)
    if not config.allow_contamination:
        _check_held_out(config, train, test)
    return train, test


def _check_held_out(config, train, test):
    overlap = data_lib.find_overlap(train, test)
    if overlap:
        shown = ", ".join(
            f"{test_id} (= {train_id})"
            for test_id, train_id in overlap[:_IDS_SHOWN]
        )
        more = len(overlap) - _IDS_SHOWN
        raise ValueError(
            f"{len(overlap)} of the {len(test)} test problems in "
            f"{config.data_dir!r} are also training problems (the same "
            "text, whitespace and case aside), so test scores would be "
            "inflated. Remove them from the test or the training files, "
            "or set `allow_contamination` (--allow_contamination) to run "
            f"on them on purpose. Received: test ids {shown}"
            + (f" and {more} more" if more > 0 else "")
        )


def _embedded_problems(config, num_train, num_test):
    levels = range(1, config.resolved("max_level") + 1)

    # `both` trains on each problem's detailed and coarse solutions, as
    # `solutions="both"` does with MATH's and PRM800K's.
    both = config.style == "both"
    styles = ("detailed", "coarse") if both else (config.style,)

    def draw(count, seed, style=styles[0]):
        return data_lib.make_synthetic_problems(
            count, seed=seed, style=style, levels=levels
        )

    train = [p for s in styles for p in draw(num_train, config.seed, s)]
    seen = {p.problem for p in train}
    # Test problems come from their own seeded stream, minus any problem
    # text that is also a training problem, so the test set is held out.
    count = 4 * num_test + 64
    while True:
        pool = draw(count, config.seed + _TEST_SEED_OFFSET)
        test = _unique([p for p in pool if p.problem not in seen])
        if len(test) >= num_test or count >= 256 * (num_test + 64):
            break
        count *= 4
    if len(test) < num_test:
        logging.warning(
            "Only %d distinct held-out test problems exist at max_level=%d "
            "besides the %d training problems; using them all.",
            len(test),
            config.resolved("max_level"),
            num_train,
        )
    test = [
        dataclasses.replace(p, unique_id="test/" + p.unique_id)
        for p in test[:num_test]
    ]
    return train, test


def _load_math(config):
    root = config.data_dir
    if os.path.isdir(os.path.join(root, "MATH")):
        return data_lib.load_paper_split(root, check_counts=False)
    return (
        data_lib.load_math(os.path.join(root, "train.jsonl")),
        data_lib.load_math(os.path.join(root, "test.jsonl")),
    )


def _with_solutions(config, train):
    if config.solutions == "math":
        return train
    records = data_lib.load_prm800k(config.prm800k_file(), strict=False)
    prm = data_lib.correct_solutions(records, problems=train)
    # Keep PRM800K solutions of training problems only (never MATH500).
    known = {p.problem.strip() for p in train}
    prm = [p for p in prm if p.problem.strip() in known]
    return prm if config.solutions == "prm800k" else train + prm


def _unique(problems):
    seen, out = set(), []
    for p in problems:
        if p.problem not in seen:
            seen.add(p.problem)
            out.append(p)
    return out


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
    return "\n".join(lines)
