"""Multi-task sequential fine-tuning as a schedule of training phases.

The paper's recipe (Liu et al., 2023, section 5) trains one model in order:
generation (MLE) -> evaluation (margin or cross-entropy) -> generation
again, each phase continuing from the previous weights. Here a phase is a
frozen `TrainingPhase`; `fit_phases` re-compiles the model for each one with
a fresh optimizer (so every phase has its own learning rate and optimizer
state, and Keras sees the phase's trainable flags) and calls `fit`.
"""

import dataclasses
import os

import keras

from keras_mathft.models.checkpoint import TrainingCheckpoint
from keras_mathft.models.losses import EvaluatorOptions
from keras_mathft.models.solver import OBJECTIVES

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
        learning_rate: float, for the phase's fresh optimizer.
        weight_decay: float, AdamW weight decay.
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

    def make_optimizer(self):
        """The phase's fresh optimizer: AdamW at `learning_rate`."""
        return keras.optimizers.AdamW(
            learning_rate=self.learning_rate, weight_decay=self.weight_decay
        )


def default_multitask_schedule(
    generation_steps=1000,
    evaluation_steps=1000,
    regeneration_steps=200,
    learning_rate=2e-5,
    evaluator_options=None,
):
    """The paper's generation -> evaluation -> generation schedule.

    Step counts and learning rate are not reported by the paper (the ~200
    steps of the last phase is a weak hint); change them freely.

    Args:
        generation_steps: int, steps of the first generation phase.
        evaluation_steps: int, steps of the evaluation phase.
        regeneration_steps: int, steps of the last generation phase.
        learning_rate: float.
        evaluator_options: optional `losses.EvaluatorOptions` of the
            evaluation phase; defaults to `EvaluatorOptions()`.

    Returns:
        A tuple of three `TrainingPhase`s named `"generation"`,
        `"evaluation"` and `"regeneration"`; the last one reads the
        `"generation"` dataset.
    """
    return (
        TrainingPhase(
            "generation", "generation", generation_steps, 1, learning_rate
        ),
        TrainingPhase(
            "evaluation",
            "evaluation",
            evaluation_steps,
            1,
            learning_rate,
            evaluator_options=evaluator_options or EvaluatorOptions(),
        ),
        TrainingPhase(
            "regeneration",
            "generation",
            regeneration_steps,
            1,
            learning_rate,
            dataset="generation",
        ),
    )


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
    optimizer state. A `tf.data.Dataset` is advanced past the batches that
    phase has seen when `steps` is set, so the schedule sees the same
    batches as an uninterrupted run; other inputs restart their epoch.

    Args:
        model: a `MathSolver`.
        phases: a sequence of `TrainingPhase`.
        datasets: a mapping from dataset key (see `TrainingPhase.dataset`) to
            what `fit` takes (a `tf.data.Dataset`, a Python generator, or a
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

    Example:

    >>> histories = fit_phases(
    ...     solver,
    ...     default_multitask_schedule(1000, 300, 150),
    ...     {"generation": sft_data, "evaluation": pair_data},
    ...     checkpoint_dir="runs/multitask",
    ... )  # doctest: +SKIP

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
            optimizer=phase.make_optimizer(),
            objective=phase.objective,
            **phase.evaluator_options.get_config(),
            **compile_kw,
        )
        phase_callbacks, done = list(callbacks or []), 0
        if checkpoint_dir is not None:
            checkpoint = TrainingCheckpoint(
                os.path.join(checkpoint_dir, phase.name)
            )
            done = checkpoint.epochs_done()
            if done >= phase.epochs:
                checkpoint.restore(model)
                histories.append((phase, None))
                continue
            phase_callbacks.append(checkpoint)
            # Only a `tf.data.Dataset` can be advanced past seen batches.
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
            history = model.fit(x, y, sample_weight=sample_weight, **fit_kw)
        else:
            history = model.fit(data, **fit_kw)
        histories.append((phase, history))
    return histories


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
    return any(
        getattr(layer, "lora_enabled", False)
        for layer in backbone._flatten_layers()
    )
