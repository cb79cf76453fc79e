"""`StageContext`: what the stages of one run share.

The stages of `recipes.stages` get one as their `context`; notebooks,
studies and benchmarks build one to reach a run's artifacts and models the
way the stages do. `ProcessRows` feeds each process of a multi-host run
its share of every training batch.
"""

import contextlib
import os
import time

import keras

from keras_mathft import data as data_lib
from keras_mathft import models
from keras_mathft import sampling
from keras_mathft.atomic_files import read_json
from keras_mathft.atomic_files import write_json_atomic
from keras_mathft.models.sharding import row_distribution
from keras_mathft.recipes.config import RecipeConfig
from keras_mathft.recipes.interrupts import InterruptWatch
from keras_mathft.recipes.interrupts import StopOnInterrupt
from keras_mathft.recipes.preflight import check_run_directory
from keras_mathft.recipes.preflight import comparable_settings
from keras_mathft.recipes.problems import load_problems
from keras_mathft.recipes.run_dir import CONFIG_FILE
from keras_mathft.recipes.stages import pipeline_stages
from keras_mathft.recipes.tensorboard import LossLogger
from keras_mathft.runtime.processes import is_writer
from keras_mathft.runtime.processes import run_together
from keras_mathft.runtime.processes import this_process

TIMINGS_FILE = "timings.json"


class StageContext:
    """What the stages of one run share: config, files, data and models.

    Every stage function gets it (`Stage.run(context)`); `run_pipeline`
    makes one per run, and notebooks, studies and benchmarks make their
    own to reach a run's artifacts and models the way the stages do:
    artifact paths by their declared name (`path`, `store`), the problems,
    models loaded from earlier stages (two at most stay in memory), and
    the training and sampling machinery. Making one opens the run
    directory under its writer lock (`check_run_directory`).

    Args:
        config: a `RecipeConfig`.
        stages: the run's `Stage`s; defaults to `pipeline_stages(config)`.
        verbose: int, 0 is silent, 1 logs, 2 also shows progress bars.
        problems: optional `(train, test)`, already loaded.
        interrupts: the `InterruptWatch` of `run_pipeline`, if any.

    Example:

    >>> context = StageContext(RecipeConfig(size="quick"))  # doctest: +SKIP
    >>> context.store("test.store").load()  # doctest: +SKIP
    """

    def __init__(
        self, config, stages=None, verbose=1, problems=None, interrupts=None
    ):
        self.config = config
        self.verbose = verbose
        stages = pipeline_stages(config) if stages is None else stages
        # Outside `run_pipeline` (tests), an inactive watch.
        self.interrupts = interrupts or InterruptWatch()
        self.directory = check_run_directory(config)
        self.template = config.prompt_template()
        self._artifacts = {
            artifact: (stage.name, path)
            for stage in stages
            for artifact, path in stage.writes.items()
        }
        self._stage_names = [stage.name for stage in stages]
        self._problems = problems
        self._models = {}

    @classmethod
    def of_run(cls, run_dir, verbose=0):
        """The context of the run stored in `run_dir`, with its settings.

        Args:
            run_dir: str, a run directory that `run_pipeline` wrote.
            verbose: int, as in the constructor.

        Returns:
            A `StageContext` whose config is the stored one.
        """
        stored = read_json(os.path.join(run_dir, CONFIG_FILE))
        fields = RecipeConfig.field_names()
        settings = {k: v for k, v in stored.items() if k in fields}
        return cls(
            RecipeConfig(**{**settings, "run_dir": run_dir}), None, verbose
        )

    # === Orchestration ===

    def log(self, message, *args):
        if self.verbose:
            print(message % args if args else message, flush=True)

    @property
    def writes(self):
        """Whether this process writes the run's files (process 0)."""
        return is_writer()

    def run_stage(self, stage):
        if self.directory.is_done(stage.name):
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
        self.directory.mark_done(stage, summary)
        timings_path = self.directory.path / TIMINGS_FILE
        timings = read_json(timings_path) if timings_path.exists() else {}
        timings[stage] = timings.get(stage, 0.0) + seconds
        write_json_atomic(timings_path, timings)

    def path(self, artifact):
        """The path of a declared artifact (its stage folder is created)."""
        stage, path = self._artifacts[artifact]
        return self.directory.stage_dir(stage) / path

    def store(self, artifact):
        """The `SampleStore` a stage wrote as `artifact`."""
        return sampling.SampleStore(self.path(artifact))

    def summaries(self):
        """The `DONE.json` summaries of the finished stages, report aside."""
        return {
            name: self.directory.summary(name)
            for name in self._stage_names
            if name != "report" and self.directory.is_done(name)
        }

    def comparable_config(self):
        return comparable_settings(self.config)

    def seed(self):
        keras.utils.set_random_seed(self.config.run.seed)

    # === Data ===

    @property
    def problems(self):
        """`(train, test)` lists of `MathProblem`, from the config."""
        if self._problems is None:
            self._problems = load_problems(self.config)
        return self._problems

    def eval_train_problems(self):
        train = self.problems[0]
        count = self.config.data.num_eval_train_problems
        return train if count is None else train[:count]

    # === Models ===

    def new_solver(self):
        """A freshly built (seeded) solver of the configured architecture."""
        config = self.config
        self.seed()
        length = config.model.sequence_length
        if config.model.preset is None:
            lm = models.build_causal_lm(
                tokenizer=data_lib.embedded_tokenizer_proto(),
                sequence_length=length,
                dtype=config.model.dtype,
                **config.scratch_architecture(),
            )
            return models.MathSolver(lm, prompt_template=self.template)
        kwargs = (
            {} if config.model.dtype is None else {"dtype": config.model.dtype}
        )
        solver = models.MathSolver.from_preset(
            config.model.preset, prompt_template=self.template, **kwargs
        )
        solver.preprocessor.sequence_length = length
        if config.model.lora_rank is not None:
            solver.enable_lora(config.model.lora_rank)
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

    def train(self, stage, solver, phase, dataset, weights_path, model=None):
        """Fits one phase with `fit_phases`, checkpointed; saves weights.

        `model` is what trains when it is not `solver` itself but shares
        its weights (a `models.ProcessEvaluator`); `solver`'s weights are
        saved either way.
        """
        checkpoints = self.directory.stage_dir(stage) / "checkpoint"
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
        if self.config.run.tensorboard is not None and self.writes:
            callbacks.append(LossLogger(self.config.run.tensorboard, stage))
        models.fit_phases(
            solver if model is None else model,
            [phase],
            {phase.dataset or phase.name: ProcessRows.of(dataset)},
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

    def sampling_config(self, **draws):
        """The run's `sampling.SamplingConfig`, with `draws` set.

        Top-p and the most new tokens are the run's; a stage sets the
        number of samples, the temperature and the seed.
        """
        return sampling.SamplingConfig(
            top_p=self.config.sampling.top_p,
            max_new_tokens=self.config.sampling.max_new_tokens,
            **draws,
        )

    def sample(self, path, solver, problems, config):
        """Samples into the store at `path`; returns it once complete.

        Each process samples its share of `problems` into its own
        namespace; all wait until every share is stored.

        Args:
            path: the store's directory.
            solver: the `MathSolver` to sample from.
            problems: list of `MathProblem`.
            config: a `sampling.SamplingConfig` (`sampling_config`).
        """
        return run_together(
            lambda: sampling.sample_to_store(
                solver,
                problems,
                path,
                config,
                problems_per_shard=max(1, 1024 // config.num_samples),
                verbose=self.verbose >= 2,
            ),
            f"sampling into {str(path)!r}",
        )


class ProcessRows(keras.utils.PyDataset):
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
        return ProcessRows(self.batches.skip(count), self.index, self.count)
