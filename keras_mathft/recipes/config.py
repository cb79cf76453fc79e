"""The recipe's settings: resolved once, checked before any work starts."""

import dataclasses
import difflib
import math
import os
import types

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.models import default_multitask_schedule
from keras_mathft.models.losses import EvaluatorOptions
from keras_mathft.models.sharding import check_mesh_backend
from keras_mathft.models.sharding import parse_mesh
from keras_mathft.recipes.settings import CHOICES
from keras_mathft.recipes.settings import DEFAULTS
from keras_mathft.recipes.settings import SECTION_OF
from keras_mathft.recipes.settings import SECTIONS
from keras_mathft.recipes.settings import SIZES
from keras_mathft.recipes.settings import DataSettings
from keras_mathft.recipes.settings import EvaluatorSettings
from keras_mathft.recipes.settings import ModelSettings
from keras_mathft.recipes.settings import RunSettings
from keras_mathft.recipes.settings import SamplingSettings
from keras_mathft.recipes.settings import TrainingSettings
from keras_mathft.recipes.settings import resolve

_PRESET_SCHEMES = ("hf", "kaggle", "modelscope", "gs")
_SMALL_DECODER = "the from-scratch decoder is for small offline runs"
# Integer fields: (smallest, largest, why the largest). Upper bounds stop
# settings that could only fail (out of memory or time) long after the run
# started.
_INT_BOUNDS = {
    # Seeds of the run's own streams (test problems, samples) are offsets
    # from it, and NumPy seeds must fit in 32 bits.
    "seed": (0, 2**31 - 1, "seeds of the run's streams are offsets of it"),
    "lora_rank": (1, 4096, "a larger rank is no longer low-rank"),
    "max_level": (1, 5, "MATH and the embedded task have levels 1 to 5"),
    "num_train_problems": (1, 10**6, "MATH has 12,000"),
    "num_test_problems": (1, 10**6, "MATH has 5,000"),
    "num_eval_train_problems": (1, 10**6, "MATH has 12,000"),
    "num_samples": (1, 4096, "the paper uses N = 64"),
    "num_train_samples": (1, 4096, "the paper uses N = 64"),
    "top_k_clusters": (1, 4096, "at most N clusters exist"),
    "max_pairs_per_problem": (1, 10**6, "the paper uses 10"),
    "hidden_dim": (4, 8192, _SMALL_DECODER),
    "num_layers": (1, 128, _SMALL_DECODER),
    "sequence_length": (2, 2**17, "no supported model is longer"),
    "max_new_tokens": (1, 2**17, "no supported model is longer"),
    "batch_size": (1, 2**16, "no accelerator holds more"),
    "evaluator_batch_size": (1, 2**16, "no accelerator holds more"),
    "sft_steps": (1, 10**8, "that is years of training"),
    "evaluator_steps": (1, 10**8, "that is years of training"),
    "final_sft_steps": (1, 10**8, "that is years of training"),
    "checkpoint_every": (1, 10**8, "that is years of training"),
}
# Fields that may be left unset (`None`).
_OPTIONAL = (*SIZES["default"], "lora_rank", "learning_rate")
_OPTIONAL += ("evaluator_learning_rate",)
# Float fields that must be finite and positive (`margin` is checked by
# `EvaluatorOptions`).
_POSITIVE_FLOATS = ("temperature", "learning_rate", "evaluator_learning_rate")
_PROMPT_FIELDS = (
    "generation_template",
    "evaluation_template",
    "correct_label",
    "incorrect_label",
)
# The from-scratch decoder: a small Gemma with multi-query attention.
SCRATCH_FAMILY = "gemma"
SCRATCH_NUM_HEADS = 4
# The generation prompt (template, problem, start token) needs this much of
# `sequence_length` next to the `max_new_tokens` of a solution.
MIN_PROMPT_TOKENS = 16


@dataclasses.dataclass(frozen=True, init=False)
class RecipeConfig:
    """Settings of one run of the paper's pipeline, resolved and checked.

    Made from flat settings, the flags' names: `RecipeConfig(size="quick",
    num_samples=16)`. That is the one way to make one, because the flags
    (`config_from_flags`), the run directory's `config.json` and users'
    scripts all name settings flat, and because a section alone cannot
    resolve itself (the size defaults depend on `size`, `data` and
    `preset`, which live in other sections); `get_config()` gives the
    flat settings back, and `replace(**changes)` makes a changed copy.

    Code reads the resolved values by section: `run`, `model`, `data`,
    `sampling`, `training` and `evaluator` (`recipes.settings`, where each
    field's help text lives), e.g. `config.sampling.num_samples`. Settings
    left unset (`None`) take the value of the chosen `size` (see `SIZES`)
    when the config is made; with `data="math"` unset problem counts mean
    every problem (`None`). `unset` names the fields so filled, which
    `get_config()` reports as `None`.

    Every value is checked on construction, so a bad setting stops the
    run with a message saying what to change; what needs the disk or an
    installed package (the run directory's path, the MATH folder, the
    preset, TensorBoard) is checked by `run_pipeline` before it starts
    (`recipes.preflight.check_files_and_packages`).

    Raises:
        TypeError: for a name that is not a setting, naming the closest.
        ValueError: for a value that does not fit, with what to change.

    Example:

    >>> config = RecipeConfig(size="quick", run_dir="runs/quick")
    >>> config.sampling.num_samples
    8
    >>> config.get_config()["num_samples"] is None
    True
    """

    run: RunSettings
    model: ModelSettings
    data: DataSettings
    sampling: SamplingSettings
    training: TrainingSettings
    evaluator: EvaluatorSettings
    # Flat names left unset whose value the size or a rule gave.
    unset: tuple

    def __init__(self, **settings):
        given = _given(settings)
        _check_types_and_ranges(given)
        values = resolve(given)
        resolved = types.SimpleNamespace(**values)
        _check_model(resolved)
        _check_sampling(resolved)
        _check_training(resolved)
        _check_data(resolved)
        for section, cls in SECTIONS.items():
            names = [field.name for field in dataclasses.fields(cls)]
            object.__setattr__(
                self, section, cls(**{name: values[name] for name in names})
            )
        unset = [
            name
            for name, value in given.items()
            if value is None and values[name] is not None
        ]
        object.__setattr__(self, "unset", tuple(unset))

    @staticmethod
    def field_names():
        """The flat names of every setting (the flags' names), in order."""
        return tuple(DEFAULTS)

    def flat(self):
        """Every setting by its flat name, resolved (no `None` from size)."""
        return {
            name: getattr(getattr(self, section), name)
            for name, section in SECTION_OF.items()
        }

    def get_config(self):
        """The settings as given: flat, `None` where the size decides.

        What the run directory stores; `RecipeConfig(**get_config())`
        equals this config.
        """
        flat = self.flat()
        return {k: None if k in self.unset else v for k, v in flat.items()}

    def replace(self, **changes):
        """Returns a copy with flat `changes` applied (and checked).

        Fields left unset stay unset, so a new `size` still applies.
        """
        return RecipeConfig(**{**self.get_config(), **changes})

    def resolved_settings(self):
        """The size-dependent settings with their actual values."""
        flat = self.flat()
        names = list(SIZES["default"]) + [
            "learning_rate",
            "evaluator_learning_rate",
        ]
        return {name: flat[name] for name in names}

    def prm800k_file(self):
        """The PRM800K label file to read, or `None` when there is none."""
        return prm800k_file(self.data)

    def prompt_template(self):
        """The run's `data.PromptTemplate`, from the four prompt fields."""
        return _prompt_template(self.model)

    def evaluator_options(self):
        """The `EvaluatorOptions` of the evaluation phase."""
        return EvaluatorOptions(
            evaluator_loss=self.evaluator.evaluator_loss,
            margin=self.evaluator.margin,
        )

    def training_phases(self):
        """The run's `TrainingPhase`s, by name, from the public schedule.

        `"generation"` trains SSFT, `"evaluation"` the evaluator (or the
        multi-task model's evaluation phase) and `"regeneration"` the last
        multi-task phase: `models.default_multitask_schedule` sized by
        this config, so `fit_phases` on these phases trains as the recipe.
        """
        training, evaluator = self.training, self.evaluator
        phases = default_multitask_schedule(
            training.sft_steps,
            evaluator.evaluator_steps,
            training.final_sft_steps,
            learning_rate=training.learning_rate,
            later_learning_rate=evaluator.evaluator_learning_rate,
            evaluator_options=self.evaluator_options(),
            checkpoint_every=training.checkpoint_every,
        )
        rank = self.model.lora_rank
        if rank is not None:
            phases = [
                dataclasses.replace(p, trainable="lora", lora_rank=rank)
                for p in phases
            ]
        return {p.name: p for p in phases}

    def scratch_architecture(self):
        """`models.build_causal_lm` arguments of the from-scratch decoder."""
        hidden = self.model.hidden_dim
        return dict(
            family=SCRATCH_FAMILY,
            num_layers=self.model.num_layers,
            hidden_dim=hidden,
            num_heads=SCRATCH_NUM_HEADS,
            num_key_value_heads=1,
            intermediate_dim=4 * hidden,
            head_dim=hidden // SCRATCH_NUM_HEADS,
        )


def prm800k_file(data):
    """The PRM800K label file of `DataSettings` `data`, or `None`."""
    if data.prm800k_path:
        return data.prm800k_path if os.path.exists(data.prm800k_path) else None
    for phase in ("phase2_train", "phase1_train"):
        path = os.path.join(
            data.data_dir or "", "prm800k", "data", f"{phase}.jsonl"
        )
        if os.path.isfile(path):
            return path
    return None


def _prompt_template(values):
    return PromptTemplate(
        generation=values.generation_template,
        evaluation=values.evaluation_template,
        correct_label=values.correct_label,
        incorrect_label=values.incorrect_label,
    )


def _given(settings):
    """Every flat setting: the defaults, then `settings`; names checked."""
    for name, value in settings.items():
        if name in DEFAULTS:
            continue
        close = difflib.get_close_matches(name, DEFAULTS, n=1)
        hint = (
            f" Did you mean `{close[0]}` (section `{SECTION_OF[close[0]]}`)?"
            if close
            else ""
        )
        raise TypeError(
            f"`RecipeConfig` has no setting `{name}`; settings take the "
            f"flags' names (`RecipeConfig.field_names()`).{hint} "
            f"Received: {name}={value!r}"
        )
    return {**DEFAULTS, **settings}


def _check_types_and_ranges(given):
    for name, choices in CHOICES.items():
        value = given[name]
        if value not in choices:
            raise ValueError(
                f"`{name}` must be one of {choices}. Received: {value!r}"
            )
    for name in ("multitask", "allow_contamination"):
        value = given[name]
        if not isinstance(value, bool):
            raise ValueError(f"`{name}` must be a bool. Received: {value!r}")
    for name, bounds in _INT_BOUNDS.items():
        _check_int(name, given[name], *bounds)
    for name in (*_POSITIVE_FLOATS, "top_p"):
        _check_float(name, given[name])
    _check_paths(given)


def _check_int(name, value, lowest, highest, why):
    if value is None and name in _OPTIONAL:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"`{name}` must be an int. Received: {value!r}")
    if value < lowest:
        raise ValueError(
            f"`{name}` must be at least {lowest}. Received: {value}"
        )
    if value > highest:
        raise ValueError(
            f"`{name}` must be at most {highest} ({why}). Received: {value}"
        )


def _check_float(name, value):
    if value is None and name in _OPTIONAL:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"`{name}` must be a number. Received: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. Received: {value}")
    if name in _POSITIVE_FLOATS and not value > 0:
        raise ValueError(f"`{name}` must be positive. Received: {value}")


def _check_paths(given):
    run_dir = given["run_dir"]
    if not isinstance(run_dir, str) or not run_dir.strip():
        raise ValueError(
            "`run_dir` must name a folder (--run_dir); an empty one "
            f"would mean the current folder. Received: {run_dir!r}"
        )
    tensorboard = given["tensorboard"]
    if tensorboard is not None and (
        not isinstance(tensorboard, str) or not tensorboard.strip()
    ):
        raise ValueError(
            "`tensorboard` must name a folder for the event files "
            f"(--tensorboard=DIR), or be unset. Received: {tensorboard!r}"
        )
    if given["mesh"] is not None:
        parse_mesh(given["mesh"])
        check_mesh_backend(given["mesh"])
    for name in ("data_dir", "prm800k_path"):
        value = given[name]
        if value is not None and not isinstance(value, str):
            raise ValueError(f"`{name}` must be a path. Received: {value!r}")


def _check_model(v):
    for name in _PROMPT_FIELDS:
        if not isinstance(getattr(v, name), str):
            raise ValueError(
                f"`{name}` must be a string. Received: {getattr(v, name)!r}"
            )
    try:
        _prompt_template(v)
    except ValueError as error:
        raise ValueError(
            "The prompt fields (`generation_template`, "
            "`evaluation_template`, `correct_label`, `incorrect_label`) "
            f"do not make a template: {error}"
        ) from None
    if v.hidden_dim % SCRATCH_NUM_HEADS:
        raise ValueError(
            f"`hidden_dim` must be a multiple of {SCRATCH_NUM_HEADS} (the "
            f"from-scratch decoder has {SCRATCH_NUM_HEADS} heads). "
            f"Received: {v.hidden_dim}"
        )
    if v.dtype is not None:
        _check_dtype(v.dtype)
    if v.preset is not None:
        _check_preset(v.preset)
    elif v.lora_rank is not None:
        raise ValueError(
            "`lora_rank` needs a pretrained `preset`; the from-scratch "
            "decoder trains every weight. Received: "
            f"lora_rank={v.lora_rank}, preset=None"
        )


def _check_sampling(v):
    if v.num_samples is not None and v.top_k_clusters > v.num_samples:
        raise ValueError(
            "`top_k_clusters` (K) cannot exceed `num_samples` (N): there "
            "are at most N clusters. Lower K or raise N. Received: "
            f"top_k_clusters={v.top_k_clusters}, "
            f"num_samples={v.num_samples}"
        )
    if not 0.0 < v.top_p <= 1.0:
        raise ValueError(f"`top_p` must be in (0, 1]. Received: {v.top_p}")
    length, new = v.sequence_length, v.max_new_tokens
    if new > length - MIN_PROMPT_TOKENS:
        raise ValueError(
            "`max_new_tokens` must be below `sequence_length` and leave "
            f"at least {MIN_PROMPT_TOKENS} tokens for the prompt. "
            f"Received: max_new_tokens={new}, sequence_length={length}"
        )


def _check_training(v):
    EvaluatorOptions(evaluator_loss=v.evaluator_loss, margin=v.margin)
    train, eval_train = v.num_train_problems, v.num_eval_train_problems
    if train is not None and eval_train is not None and eval_train > train:
        raise ValueError(
            "`num_eval_train_problems` (training problems sampled for "
            "the evaluator's data) cannot exceed `num_train_problems`. "
            f"Received: {eval_train} > {train}"
        )
    if train is not None and v.batch_size > train:
        raise ValueError(
            "`batch_size` cannot exceed `num_train_problems`: SSFT "
            "batches are whole. Lower the batch or add problems. "
            f"Received: batch_size={v.batch_size}, num_train_problems={train}"
        )


def _check_data(v):
    """The data settings' values; the folder's files are preflight's."""
    if v.data == "embedded":
        for name, default in (
            ("data_dir", None),
            ("prm800k_path", None),
            ("solutions", "math"),
            ("allow_contamination", False),
        ):
            if getattr(v, name) != default:
                raise ValueError(
                    f"`{name}` applies to `data='math'` only; the "
                    "embedded task needs no files (its solution style is "
                    "set by `style`). Drop it or set `data='math'`. "
                    f"Received: {name}={getattr(v, name)!r}"
                )
        return
    if v.style != "detailed":
        raise ValueError(
            "`style` applies to `data='embedded'` only; for MATH choose "
            "the solutions with `solutions=math|prm800k|both`. "
            f"Received: style={v.style!r}"
        )
    if not v.data_dir:
        raise ValueError(MATH_NEEDS_DATA_DIR.format(data_dir=v.data_dir))


# Said when `data="math"` has no `data_dir`, or not an existing folder.
MATH_NEEDS_DATA_DIR = (
    "`data='math'` needs `data_dir`, an existing folder holding "
    "MATH/{{train,test}}/ and prm800k/math_splits/test.jsonl (the "
    "12K/500 split), or train.jsonl and test.jsonl. Received: "
    "data_dir={data_dir!r}"
)


def _check_dtype(dtype):
    import keras

    try:
        keras.dtype_policies.get(dtype)
    except (TypeError, ValueError):
        raise ValueError(
            "`dtype` must be a Keras dtype policy name, e.g. 'float32', "
            f"'bfloat16' or 'mixed_bfloat16'. Received: {dtype!r}"
        ) from None


def _check_preset(preset):
    """The preset's spelling; its files and name are preflight's."""
    if not isinstance(preset, str) or not preset.strip():
        raise ValueError(
            "`preset` must be a keras-hub preset name, a local "
            "directory or a handle; leave it unset to train the "
            f"from-scratch decoder. Received: {preset!r}"
        )
    if "://" in preset and preset.split("://", 1)[0] not in _PRESET_SCHEMES:
        raise ValueError(
            "`preset` must be a keras-hub preset name, a local "
            "directory, or a `hf://`, `kaggle://`, `modelscope://` or "
            f"`gs://` handle. Received: {preset!r}"
        )
