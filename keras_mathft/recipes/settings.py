"""The sections of `RecipeConfig`: each field with its help text.

A run's settings fall into six frozen sections (`RunSettings`,
`ModelSettings`, `DataSettings`, `SamplingSettings`, `TrainingSettings`,
`EvaluatorSettings`). Each field keeps its flat name (the flag's name,
`--num_samples`) inside its section and carries its help text in
`metadata["help"]`, from which `define_flags` makes the flag. The field
defaults are the flat defaults: `None` where the `size` (`SIZES`) or a
rule decides, which `resolve` applies.
"""

import dataclasses

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.models.losses import EVALUATOR_LOSSES
from keras_mathft.models.losses import EvaluatorOptions

# Sizes of the offline default (the embedded task, a decoder trained from
# scratch). `quick` is a smoke test of every stage (a couple of minutes on
# 2 CPU cores); `default` is sized for about 15 minutes and large enough to
# show pass@1 < maj1@N < pass@N. Every value can be overridden by its field.
SIZES = {
    "quick": dict(
        num_train_problems=25600,
        num_test_problems=40,
        num_eval_train_problems=48,
        num_samples=8,
        num_train_samples=8,
        hidden_dim=96,
        num_layers=2,
        sequence_length=160,
        batch_size=32,
        evaluator_batch_size=16,
        sft_steps=800,
        evaluator_steps=60,
        final_sft_steps=40,
        max_new_tokens=96,
        checkpoint_every=100,
        max_level=3,
    ),
    "default": dict(
        num_train_problems=64000,
        num_test_problems=200,
        num_eval_train_problems=200,
        num_samples=64,
        num_train_samples=16,
        hidden_dim=128,
        num_layers=3,
        sequence_length=160,
        batch_size=32,
        evaluator_batch_size=16,
        sft_steps=2000,
        evaluator_steps=300,
        final_sft_steps=150,
        max_new_tokens=96,
        checkpoint_every=250,
        max_level=3,
    ),
}
# Problem counts (and the level cap) that mean "all of them" when left
# unset with real data.
ALL_WITH_REAL_DATA = (
    "max_level",
    "num_train_problems",
    "num_test_problems",
    "num_eval_train_problems",
)
# Fields that take one of a fixed set of values, with those values
# (`RecipeConfig` checks them; `define_flags` makes them enum flags).
CHOICES = {
    "size": tuple(SIZES),
    "data": ("embedded", "math"),
    "solutions": ("math", "prm800k", "both"),
    "style": ("detailed", "coarse", "terse", "both"),
    "evaluator_loss": EVALUATOR_LOSSES,
    "evaluator": ("outcome", "process"),
}
_EVALUATOR = EvaluatorOptions()
_TEMPLATE = PromptTemplate()


def _field(default, help_text):
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Where the run lives and logs, its size and its seed."""

    run_dir: str = _field(
        "runs/default",
        "Run directory; a stopped run restarts where it stopped.",
    )
    tensorboard: str | None = _field(
        None,
        "Folder for TensorBoard logs: training loss per step, evaluator "
        "AUC and accuracy over N (needs the tensorboard extra).",
    )
    # Like the run directory, the mesh changes no result beyond float
    # rounding; the family's layout is `models.layout_map`.
    mesh: str | None = _field(
        None,
        "JAX device mesh, e.g. batch:2,model:4: rows over batch, weights, "
        "optimizer state and KV cache over model; the sizes' product is "
        "the number of devices. Unset: data parallel with --distributed, "
        "else one device.",
    )
    size: str = _field(
        "default", "Offline default size: quick (smoke test) or default."
    )
    seed: int = _field(
        0, "Seed of data, weight initialisation, batches and sampling."
    )


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """The model, its size (from scratch) and its prompts.

    The four prompt fields make the run's `data.PromptTemplate`, which
    the solver carries for both its roles (generator and evaluator).
    """

    preset: str | None = _field(
        None,
        "keras-hub preset name, hf://..., kaggle://... or a local "
        "directory. Unset: a small decoder trained from scratch.",
    )
    dtype: str | None = _field(
        None, "Model dtype policy, e.g. bfloat16 or mixed_bfloat16."
    )
    lora_rank: int | None = _field(
        None, "Fine-tune a preset with LoRA of this rank."
    )
    hidden_dim: int | None = _field(
        None, "Hidden size of the from-scratch decoder."
    )
    num_layers: int | None = _field(None, "Layers of the from-scratch decoder.")
    sequence_length: int | None = _field(
        None, "Token length of training and scoring inputs."
    )
    generation_template: str = _field(
        _TEMPLATE.generation,
        "Generator prompt, with {problem} once (e.g. a few-shot prompt for "
        "a base model; pass newlines with $'...' or \"$(cat file)\").",
    )
    evaluation_template: str = _field(
        _TEMPLATE.evaluation,
        "Evaluator prompt, with {problem} and {solution} once each; the "
        "label word follows it.",
    )
    correct_label: str = _field(
        _TEMPLATE.correct_label,
        "Evaluator label word of a correct solution (with its leading space).",
    )
    incorrect_label: str = _field(
        _TEMPLATE.incorrect_label,
        "Evaluator label word of an incorrect solution.",
    )


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """The problems: which data, which solutions, how many."""

    data: str = _field(
        "embedded", "embedded (offline task) or math (MATH, --data_dir)."
    )
    data_dir: str | None = _field(
        None,
        "Folder with MATH/ and prm800k/math_splits/test.jsonl (the 12K/500 "
        "split), or train.jsonl and test.jsonl.",
    )
    solutions: str = _field(
        "math", "SSFT solutions for --data=math: math, prm800k or both."
    )
    prm800k_path: str | None = _field(
        None,
        "PRM800K label file (default: <data_dir>/prm800k/data/"
        "phase2_train.jsonl).",
    )
    # Otherwise test problems that are also training problems
    # (`data.find_overlap`) stop the run before it starts.
    allow_contamination: bool = _field(
        False,
        "Run even when test problems are also training problems (same "
        "text, whitespace and case aside); by default such a --data_dir is "
        "refused before anything runs.",
    )
    style: str = _field(
        "detailed",
        "Embedded-task solutions: detailed (one operation a line), coarse "
        "(operations combined), terse (answer only) or both (detailed and "
        "coarse).",
    )
    # With MATH, unset means every level.
    max_level: int | None = _field(
        None, "Hardest problem level, 1 to 5 (embedded task or MATH)."
    )
    num_train_problems: int | None = _field(
        None, "Training problems (unset: size / all)."
    )
    num_test_problems: int | None = _field(
        None, "Test problems (unset: size / all)."
    )
    num_eval_train_problems: int | None = _field(
        None, "Training problems sampled to build the evaluator's data."
    )


@dataclasses.dataclass(frozen=True)
class SamplingSettings:
    """Sampling (paper: N = 64, temperature 0.9, top-p 0.95, K = 8)."""

    num_samples: int | None = _field(None, "N, samples per test problem.")
    num_train_samples: int | None = _field(
        None, "Samples per training problem for evaluator data."
    )
    temperature: float = _field(0.9, "Sampling temperature.")
    top_p: float = _field(0.95, "Nucleus sampling mass.")
    max_new_tokens: int | None = _field(
        None, "Most tokens generated per solution."
    )
    top_k_clusters: int = _field(
        8, "K of RR.Top-K, W.RR.Top-K, MajK and Maj1.TopN."
    )


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """The generator's training (SSFT, or the multi-task schedule)."""

    multitask: bool = _field(
        False,
        "Multi-task sequential fine-tuning (generation -> evaluation -> "
        "generation) instead of a separate evaluator.",
    )
    batch_size: int | None = _field(None, "Generation (SSFT) batch size.")
    learning_rate: float | None = _field(
        None,
        "SSFT peak learning rate (unset: 2e-3 from scratch, 2e-5 for a "
        "preset).",
    )
    sft_steps: int | None = _field(None, "SSFT training steps.")
    final_sft_steps: int | None = _field(
        None, "Steps of the last generation phase (--multitask)."
    )
    checkpoint_every: int | None = _field(
        None, "Training steps between checkpoints."
    )


@dataclasses.dataclass(frozen=True)
class EvaluatorSettings:
    """The evaluator: its kind, loss, data and training."""

    # Declared and checked; the pipeline trains the outcome evaluator.
    evaluator: str = _field(
        "outcome",
        "Evaluator: outcome (the paper's: scores a whole solution) or "
        "process (scores each step; the solution's score is its weakest "
        "step).",
    )
    evaluator_loss: str = _field(
        _EVALUATOR.evaluator_loss, "Evaluator loss: xent, margin or mixture."
    )
    margin: float = _field(_EVALUATOR.margin, "Lambda of the margin loss.")
    max_pairs_per_problem: int = _field(
        10, "Right/wrong pairs per training problem."
    )
    evaluator_batch_size: int | None = _field(
        None, "Evaluator batch size (pairs or examples)."
    )
    evaluator_learning_rate: float | None = _field(
        None,
        "Learning rate of the evaluator phases (unset: learning_rate / 2).",
    )
    evaluator_steps: int | None = _field(None, "Evaluator training steps.")


# `RecipeConfig`'s sections: attribute name -> class.
SECTIONS = {
    "run": RunSettings,
    "model": ModelSettings,
    "data": DataSettings,
    "sampling": SamplingSettings,
    "training": TrainingSettings,
    "evaluator": EvaluatorSettings,
}
# The flat settings in the order of the flat config before sections,
# new ones last: run directories and reports write them in this order, so
# a report stays byte for byte what it was.
FLAT_ORDER = (
    *("run_dir", "tensorboard", "mesh", "size", "seed"),
    *("preset", "dtype", "lora_rank"),
    *("data", "data_dir", "solutions", "prm800k_path"),
    *("allow_contamination", "style", "max_level", "num_train_problems"),
    *("num_test_problems", "num_eval_train_problems"),
    *("num_samples", "num_train_samples", "temperature", "top_p"),
    *("max_new_tokens", "top_k_clusters"),
    *("evaluator_loss", "margin", "max_pairs_per_problem", "multitask"),
    *("batch_size", "evaluator_batch_size", "learning_rate"),
    *("evaluator_learning_rate", "sft_steps", "evaluator_steps"),
    *("final_sft_steps", "checkpoint_every"),
    *("hidden_dim", "num_layers", "sequence_length"),
    *("generation_template", "evaluation_template", "correct_label"),
    *("incorrect_label", "evaluator"),
)
_FIELDS = {
    field.name: (section, field)
    for section, cls in SECTIONS.items()
    for field in dataclasses.fields(cls)
}
# Each flat field name -> the name of its section, in `FLAT_ORDER`.
SECTION_OF = {name: _FIELDS[name][0] for name in FLAT_ORDER}
# The flat defaults (`None`: the size or a rule decides).
DEFAULTS = {name: _FIELDS[name][1].default for name in FLAT_ORDER}


def resolve(given):
    """The flat settings with the size defaults and rules applied.

    Args:
        given: dict, every flat field (`None` where left unset), checked
            for types and ranges.

    Returns:
        A new dict: unset size-dependent fields take `SIZES[size]`'s value
        (with `data="math"` unset problem counts and `max_level` stay
        `None`: every problem); an unset `learning_rate` is 2e-3 from
        scratch and 2e-5 for a preset, an unset `evaluator_learning_rate`
        half the learning rate.
    """
    values = dict(given)
    for name, default in SIZES[values["size"]].items():
        if values[name] is not None:
            continue
        real_data = values["data"] == "math" and name in ALL_WITH_REAL_DATA
        values[name] = None if real_data else default
    if values["learning_rate"] is None:
        # From scratch a small decoder wants a large step; a pretrained
        # model a small one.
        values["learning_rate"] = 2e-3 if values["preset"] is None else 2e-5
    if values["evaluator_learning_rate"] is None:
        values["evaluator_learning_rate"] = values["learning_rate"] / 2
    return values
