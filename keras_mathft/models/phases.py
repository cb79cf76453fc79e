"""Multi-task sequential fine-tuning as a schedule of training phases.

The paper's recipe (Liu et al., 2023, section 5) trains one model in order:
generation (MLE) -> evaluation (margin or cross-entropy) -> generation
again, each phase continuing from the previous weights. Here a phase is a
frozen `TrainingPhase`; `fit_phases` re-compiles the model for each one with
a fresh optimizer (so every phase has its own learning rate and optimizer
state, and Keras sees the phase's trainable flags) and calls `fit`.

Each phase's optimizer is AdamW with a linear warmup, a cosine decay to a
tenth of the peak rate and gradient clipping to norm 1, the schedule of
`examples/train.py`: `fit_phases(model, default_multitask_schedule(...),
...)` trains as the recipe does.

Example:

Generation -> evaluation -> generation on a tiny decoder, resumable
from `checkpoint_dir`:

>>> from keras_mathft import data, models
>>> lm = models.build_causal_lm(
...     "gemma", data.embedded_tokenizer_proto(), num_layers=1,
...     hidden_dim=16, sequence_length=64)
>>> solver = models.MathSolver(lm)
>>> problems = data.make_synthetic_problems(8)
>>> prompts, solutions = data.sft_pairs(problems)
>>> sft = data.tokenize_pairs(solver.tokenizer, prompts, solutions, 64)
>>> pairs = [models.EvaluatorPair(p.problem, p.solution, "3")
...          for p in problems]
>>> datasets = {
...     "generation": data.make_array_dataset(
...         sft.as_tuple(), batch_size=4, repeat=True),
...     "evaluation": data.make_array_dataset(
...         models.pair_inputs(solver, pairs, 64), batch_size=4,
...         repeat=True),
... }
>>> histories = fit_phases(
...     solver,
...     default_multitask_schedule(2, 2, 1, learning_rate=1e-3),
...     datasets,
...     checkpoint_dir="runs/multitask",
...     verbose=0,
... )
>>> [len(h.history["loss"]) for _, h in histories]
[1, 1, 1]
"""

import dataclasses
import functools
import os

import keras

from keras_mathft.models.checkpoint import TrainingCheckpoint
from keras_mathft.models.losses import EvaluatorOptions
from keras_mathft.models.solver import OBJECTIVES
from keras_mathft.runtime.progress import ProgbarLogger

TRAINABLE_CHOICES = ("all", "lora")


@dataclasses.dataclass(frozen=True)
class TrainingPhase:
    """One phase of a schedule.

    Args:
        name: str, unique in the schedule; also the default key of the
            phase's dataset in `fit_phases(datasets=...)`.
        objective: `"generation"` or `"evaluation"`.
        steps: int or None, steps per epoch (None: one pass over the data).
        epochs: int.
        learning_rate: float, the peak learning rate of the phase's fresh
            optimizer.
        weight_decay: float, AdamW weight decay.
        warmup_fraction: float in [0, 1), the share of the phase's steps
            (`steps * epochs`) over which the rate rises linearly from 0
            (at least one step when positive, so the first step is a
            zero-rate step). Defaults to 0.05.
        final_learning_rate_fraction: float in (0, 1], where the cosine
            decay ends, as a fraction of `learning_rate`; 1 keeps the rate
            constant after warmup. Defaults to 0.1.
        clipnorm: float or None, the largest gradient norm (Keras'
            `clipnorm`); None does not clip. Defaults to 1.0.
        evaluator_options: a `losses.EvaluatorOptions`, for the evaluation
            objective (loss, margin, MLE weight, ...).
        trainable: `"all"` (every backbone weight) or `"lora"` (only LoRA
            weights; enables LoRA with `lora_rank` if needed).
        lora_rank: int, used with `trainable="lora"`.
        dataset: optional key of the phase's dataset; defaults to `name`,
            then to `objective`.

    Example:

    >>> TrainingPhase("stage1", steps=100).objective
    'generation'
    """

    name: str
    objective: str = "generation"
    steps: int = None
    epochs: int = 1
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    warmup_fraction: float = 0.05
    final_learning_rate_fraction: float = 0.1
    clipnorm: float = 1.0
    evaluator_options: EvaluatorOptions = EvaluatorOptions()
    trainable: str = "all"
    lora_rank: int = 8
    dataset: str = None

    def __post_init__(self):
        for field, value, choices in (
            ("objective", self.objective, OBJECTIVES),
            ("trainable", self.trainable, TRAINABLE_CHOICES),
        ):
            if value not in choices:
                raise ValueError(
                    f"TrainingPhase {self.name!r}: `{field}` must be one of "
                    f"{choices}. Received: {field}={value!r}"
                )
        if self.steps is not None and self.steps < 1:
            raise ValueError(
                f"TrainingPhase {self.name!r}: `steps` must be >= 1 or "
                f"None. Received: steps={self.steps}"
            )
        for field, ok, interval in (
            ("warmup_fraction", 0 <= self.warmup_fraction < 1, "[0, 1)"),
            (
                "final_learning_rate_fraction",
                0 < self.final_learning_rate_fraction <= 1,
                "(0, 1]",
            ),
        ):
            if not ok:
                raise ValueError(
                    f"TrainingPhase {self.name!r}: `{field}` must be in "
                    f"{interval}. Received: {field}={getattr(self, field)}"
                )
        if self.clipnorm is not None and not self.clipnorm > 0:
            raise ValueError(
                f"TrainingPhase {self.name!r}: `clipnorm` must be positive "
                f"or None. Received: clipnorm={self.clipnorm}"
            )

    @property
    def has_schedule(self):
        """Whether the learning rate changes during the phase."""
        return self.warmup_fraction > 0 or self.final_learning_rate_fraction < 1

    def make_learning_rate(self, total_steps=None):
        """The phase's learning rate: a float, or a warmup-cosine schedule.

        Args:
            total_steps: int, the steps the phase trains; defaults to
                `steps * epochs`. Needed only when `has_schedule`.

        Returns:
            `learning_rate`, or a `keras.optimizers.schedules.CosineDecay`
            with warmup.

        Raises:
            ValueError: when the schedule needs a step count and none is
                known.

        Example:

        >>> phase = TrainingPhase("sft", steps=100, learning_rate=1e-3)
        >>> schedule = phase.make_learning_rate()
        >>> [round(float(schedule(s)), 5) for s in (0, 2, 5, 100)]
        [0.0, 0.0004, 0.001, 0.0001]
        """
        if not self.has_schedule:
            return self.learning_rate
        if total_steps is None and self.steps is not None:
            total_steps = self.steps * self.epochs
        if total_steps is None:
            raise ValueError(
                f"TrainingPhase {self.name!r}: its learning-rate schedule "
                "needs the phase's length. Set `steps`, or "
                "warmup_fraction=0 and final_learning_rate_fraction=1 for "
                "a constant rate. Received: steps=None"
            )
        warmup = 0
        if self.warmup_fraction > 0:
            warmup = max(1, int(total_steps * self.warmup_fraction))
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else self.learning_rate,
            decay_steps=max(1, total_steps - warmup),
            alpha=self.final_learning_rate_fraction,
            warmup_target=self.learning_rate if warmup else None,
            warmup_steps=warmup,
        )

    def make_optimizer(self, total_steps=None):
        """The phase's fresh AdamW optimizer (see `make_learning_rate`).

        Args:
            total_steps: int, the steps the phase trains; defaults to
                `steps * epochs`.

        Returns:
            A `keras.optimizers.AdamW` with the phase's schedule, weight
            decay and `clipnorm`.
        """
        return keras.optimizers.AdamW(
            learning_rate=self.make_learning_rate(total_steps),
            weight_decay=self.weight_decay,
            clipnorm=self.clipnorm,
        )


def default_multitask_schedule(
    generation_steps=1000,
    evaluation_steps=1000,
    regeneration_steps=200,
    learning_rate=2e-5,
    later_learning_rate=None,
    evaluator_options=None,
    checkpoint_every=None,
):
    """The paper's generation -> evaluation -> generation schedule.

    Step counts and learning rates are not reported by the paper (the ~200
    steps of the last phase is a weak hint); change them freely. The
    defaults are those of `examples/train.py` for a pretrained model.

    Args:
        generation_steps: int, steps of the first generation phase.
        evaluation_steps: int, steps of the evaluation phase.
        regeneration_steps: int, steps of the last generation phase.
        learning_rate: float, peak rate of the first phase.
        later_learning_rate: float, peak rate of the evaluation and last
            generation phases, which start from trained weights; defaults
            to `learning_rate / 2`.
        evaluator_options: optional `losses.EvaluatorOptions` of the
            evaluation phase; defaults to `EvaluatorOptions()`.
        checkpoint_every: optional int. Splits each phase into epochs of at
            most this many steps (together its step count, or a few more
            so that the epochs are equal), since `fit_phases` checkpoints
            at epoch ends.

    Returns:
        A tuple of three `TrainingPhase`s named `"generation"`,
        `"evaluation"` and `"regeneration"`; the last one reads the
        `"generation"` dataset.

    Example:

    >>> phases = default_multitask_schedule(800, 60, 40, checkpoint_every=100)
    >>> [(p.name, p.steps, p.epochs, p.learning_rate) for p in phases]
    [('generation', 100, 8, 2e-05), ('evaluation', 60, 1, 1e-05), \
('regeneration', 40, 1, 1e-05)]
    """
    if later_learning_rate is None:
        later_learning_rate = learning_rate / 2

    phase = functools.partial(_phase, checkpoint_every=checkpoint_every)
    return (
        phase("generation", "generation", generation_steps, learning_rate),
        phase(
            "evaluation",
            "evaluation",
            evaluation_steps,
            later_learning_rate,
            evaluator_options=evaluator_options or EvaluatorOptions(),
        ),
        phase(
            "regeneration",
            "generation",
            regeneration_steps,
            later_learning_rate,
            dataset="generation",
        ),
    )


def _phase(name, objective, steps, rate, checkpoint_every, **kwargs):
    """A `TrainingPhase` of `steps` steps, cut into epochs to checkpoint."""
    per_epoch, epochs = _split_steps(steps, checkpoint_every)
    return TrainingPhase(
        name,
        objective,
        steps=per_epoch,
        epochs=epochs,
        learning_rate=rate,
        **kwargs,
    )


def _split_steps(steps, checkpoint_every):
    """`(steps per epoch, epochs)`: equal epochs of at most `every` steps."""
    if checkpoint_every is None:
        return steps, 1
    epochs = -(-steps // checkpoint_every)
    return -(-steps // epochs), epochs


def fit_phases(
    model,
    phases,
    datasets,
    *,
    callbacks=None,
    verbose="auto",
    checkpoint_dir=None,
    **compile_kw,
):
    """Runs the phases in order on one `MathSolver`.

    Each phase sets the trainable weights, re-compiles with the phase's
    objective and a fresh optimizer, then fits on its dataset. Weights carry
    over from phase to phase; optimizer state does not.

    With `checkpoint_dir`, each phase saves its state at every epoch's end
    (a `TrainingCheckpoint` in `checkpoint_dir/<phase name>`), and calling
    `fit_phases` again on a freshly built model (e.g. after a lost notebook
    session) loads the finished phases' weights instead of training them
    and resumes the interrupted phase at its last finished epoch, with its
    optimizer state. A dataset with `skip` (a `tf.data.Dataset`, or the
    `data.ArrayBatches` that `data.make_sft_dataset` gives off TensorFlow)
    is advanced past the batches that phase has seen when `steps` is set,
    so the schedule sees the same batches as an uninterrupted run; other
    inputs restart their epoch.

    Args:
        model: a `MathSolver`.
        phases: a sequence of `TrainingPhase`.
        datasets: a mapping from dataset key (see `TrainingPhase.dataset`) to
            what `fit` takes (what `data.make_sft_dataset` or
            `data.make_array_dataset` returns, a `tf.data.Dataset`, a
            `keras.utils.PyDataset`, a Python generator, or an
            `(x, y, sample_weight)` tuple of arrays).
        callbacks: optional list of Keras callbacks, given to every phase.
        verbose: passed to `fit`.
        checkpoint_dir: optional folder that makes the schedule resumable
            (see above). Use a new folder for a new schedule.
        **compile_kw: extra `compile` arguments for every phase (e.g.
            `jit_compile=False`).

    Returns:
        A list of `(phase, keras.callbacks.History)`; the history is `None`
        for a phase that was finished in an earlier call (its losses are in
        `TrainingCheckpoint(checkpoint_dir/<name>).losses()`).

    Example: see the module docstring (a tiny resumable schedule).

    Raises:
        ValueError: on duplicate phase names or a missing dataset.
    """
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise ValueError(f"Phase names must be unique. Received: {names}")
    histories = []
    for phase in phases:
        data = _phase_dataset(phase, datasets)
        _set_trainable(model, phase)
        model.compile(
            optimizer=phase.make_optimizer(_total_steps(phase, data)),
            objective=phase.objective,
            **phase.evaluator_options.get_config(),
            **compile_kw,
        )
        history = _fit_phase(
            model, phase, data, callbacks, verbose, checkpoint_dir
        )
        histories.append((phase, history))
    return histories


def _fit_phase(model, phase, data, callbacks, verbose, checkpoint_dir):
    """Fits one compiled phase; None when its checkpoint says it is done.

    A finished phase's weights are restored instead; an interrupted one
    resumes at its last finished epoch.
    """
    phase_callbacks, done = _with_progress(callbacks), 0
    if checkpoint_dir is not None:
        checkpoint = TrainingCheckpoint(
            os.path.join(checkpoint_dir, phase.name)
        )
        done = checkpoint.epochs_done()
        if done >= phase.epochs:
            checkpoint.restore(model)
            return None
        phase_callbacks.append(checkpoint)
        # A `tf.data.Dataset` or `data.ArrayBatches` can be advanced
        # past the batches already seen.
        if done and phase.steps and hasattr(data, "skip"):
            data = data.skip(done * phase.steps)
    fit_kw = dict(
        epochs=phase.epochs,
        initial_epoch=done,
        steps_per_epoch=phase.steps,
        callbacks=phase_callbacks,
        verbose=verbose,
    )
    if isinstance(data, tuple):
        x, y, sample_weight = (tuple(data) + (None, None))[:3]
        return model.fit(x, y, sample_weight=sample_weight, **fit_kw)
    # Datasets come in the order they define (Keras would reorder the
    # batches of a finite PyDataset).
    return model.fit(data, shuffle=False, **fit_kw)


def _with_progress(callbacks):
    """A new list of `callbacks`, with a `ProgbarLogger` if none is there."""
    phase_callbacks = list(callbacks or [])
    if not any(
        isinstance(c, keras.callbacks.ProgbarLogger) for c in phase_callbacks
    ):
        # Line progress when stdout is not a terminal (logs, nohup).
        phase_callbacks.append(ProgbarLogger())
    return phase_callbacks


def _total_steps(phase, data):
    """The phase's step count, counting the data's batches if needed."""
    if phase.steps is not None:
        return phase.steps * phase.epochs
    batches = None
    if hasattr(data, "cardinality"):  # A tf.data.Dataset of known size.
        batches = int(data.cardinality())
    elif isinstance(data, keras.utils.PyDataset):
        batches = data.num_batches  # `None` when it repeats.
    return batches * phase.epochs if batches and batches > 0 else None


def _phase_dataset(phase, datasets):
    for key in (phase.dataset, phase.name, phase.objective):
        if key is not None and key in datasets:
            return datasets[key]
    raise ValueError(
        f"No dataset for phase {phase.name!r}: looked up "
        f"{[k for k in (phase.dataset, phase.name, phase.objective) if k]}. "
        f"Received: datasets with keys {sorted(datasets)}"
    )


def _set_trainable(model, phase):
    backbone = model.backbone
    if phase.trainable == "lora":
        # keras-hub's `enable_lora` freezes everything but the LoRA weights.
        if not _lora_enabled(backbone):
            model.enable_lora(phase.lora_rank)
        return
    if _lora_enabled(backbone):
        raise ValueError(
            f"Phase {phase.name!r} asks for trainable='all', but LoRA is "
            "enabled on this model, which freezes the base weights. Put "
            "'all' phases before 'lora' phases. Received: trainable='all'"
        )
    backbone.trainable = True


def _lora_enabled(backbone):
    # Keras has no public walk over nested layers (`layers` lists direct
    # children only), hence its private `_flatten_layers`.
    return any(
        getattr(layer, "lora_enabled", False)
        for layer in backbone._flatten_layers()
    )
