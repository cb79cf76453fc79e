"""The recipe's settings, checked before any work starts."""

import dataclasses
import importlib.util
import math
import os

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.models import default_multitask_schedule
from keras_mathft.models.losses import EVALUATOR_LOSSES
from keras_mathft.models.losses import EvaluatorOptions
from keras_mathft.models.sharding import check_mesh_backend
from keras_mathft.models.sharding import parse_mesh
from keras_mathft.recipes.run_dir import check_run_dir_path

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
_ALL_WITH_REAL_DATA = (
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
# The from-scratch decoder: a small Gemma with multi-query attention.
SCRATCH_FAMILY = "gemma"
SCRATCH_NUM_HEADS = 4
# The generation prompt (template, problem, start token) needs this much of
# `sequence_length` next to the `max_new_tokens` of a solution.
MIN_PROMPT_TOKENS = 16


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecipeConfig:
    """Settings of one run of the paper's pipeline.

    Fields left as `None` take the value of the chosen `size` (see
    `SIZES`); with `data="math"` unset problem counts mean every problem.
    Every field is validated on construction, so a bad setting stops the
    run with a message saying what to change, before any training starts.

    Example:

    >>> config = RecipeConfig(size="quick", run_dir="runs/quick")
    >>> config.resolved("num_samples")
    8
    """

    run_dir: str = "runs/default"
    # Folder for TensorBoard event files (losses, AUC, accuracy over N);
    # where a run logs changes none of its results.
    tensorboard: str | None = None
    # Device mesh (JAX), e.g. "batch:2,model:4": rows over `batch`,
    # weights, optimizer state and KV cache over `model` (the family's
    # layout, `models.layout_map`). Unset: the distribution already set
    # (`initialize_distributed`'s data parallelism) or one device. Like
    # the run directory, it changes no result beyond float rounding.
    mesh: str | None = None
    size: str = "default"
    seed: int = 0
    # Model: a keras-hub preset name, `hf://...`, `kaggle://...` or a local
    # directory. `None` trains a small Gemma-style decoder from scratch with
    # the embedded task's own tokenizer.
    preset: str | None = None
    dtype: str | None = None
    lora_rank: int | None = None
    # Data.
    data: str = "embedded"
    data_dir: str | None = None
    solutions: str = "math"
    prm800k_path: str | None = None
    # Train and test even when test problems are also training problems
    # (`data.find_overlap`); otherwise the run refuses before it starts.
    allow_contamination: bool = False
    style: str = "detailed"
    # Hardest level (1 to 5) of the train and test problems, embedded task
    # or MATH (with MATH, unset means every level).
    max_level: int | None = None
    num_train_problems: int | None = None
    num_test_problems: int | None = None
    num_eval_train_problems: int | None = None
    # Sampling (paper: N = 64, temperature 0.9, top-p 0.95, K = 8).
    num_samples: int | None = None
    num_train_samples: int | None = None
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int | None = None
    top_k_clusters: int = 8
    # Training.
    evaluator: str = "outcome"
    evaluator_loss: str = _EVALUATOR.evaluator_loss
    margin: float = _EVALUATOR.margin
    max_pairs_per_problem: int = 10
    multitask: bool = False
    batch_size: int | None = None
    evaluator_batch_size: int | None = None
    learning_rate: float | None = None
    evaluator_learning_rate: float | None = None
    sft_steps: int | None = None
    evaluator_steps: int | None = None
    final_sft_steps: int | None = None
    checkpoint_every: int | None = None
    # Model size (from-scratch decoder) and sequence length (any model).
    hidden_dim: int | None = None
    num_layers: int | None = None
    sequence_length: int | None = None
    # Prompts (see `data.PromptTemplate`): the generator's template (e.g. a
    # few-shot one for a base model), the evaluator's, and its label words.
    generation_template: str = _TEMPLATE.generation
    evaluation_template: str = _TEMPLATE.evaluation
    correct_label: str = _TEMPLATE.correct_label
    incorrect_label: str = _TEMPLATE.incorrect_label

    def __post_init__(self):
        self._check_types_and_ranges()
        self._check_model()
        self._check_sampling()
        self._check_training()
        self._check_data()

    def _check_types_and_ranges(self):
        for name, choices in CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(
                    f"`{name}` must be one of {choices}. Received: {value!r}"
                )
        for name in ("multitask", "allow_contamination"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(
                    f"`{name}` must be a bool. Received: {value!r}"
                )
        for name, (lowest, highest, why) in _INT_BOUNDS.items():
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(
                    f"`{name}` must be an int. Received: {value!r}"
                )
            if value < lowest:
                raise ValueError(
                    f"`{name}` must be at least {lowest}. Received: {value}"
                )
            if value > highest:
                raise ValueError(
                    f"`{name}` must be at most {highest} ({why}). "
                    f"Received: {value}"
                )
        for name in (*_POSITIVE_FLOATS, "top_p"):
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"`{name}` must be a number. Received: {value!r}"
                )
            if not math.isfinite(value):
                raise ValueError(
                    f"`{name}` must be a finite number. Received: {value}"
                )
            if name in _POSITIVE_FLOATS and not value > 0:
                raise ValueError(
                    f"`{name}` must be positive. Received: {value}"
                )
        if not isinstance(self.run_dir, str) or not self.run_dir.strip():
            raise ValueError(
                "`run_dir` must name a folder (--run_dir); an empty one "
                f"would mean the current folder. Received: {self.run_dir!r}"
            )
        check_run_dir_path(self.run_dir)
        _check_tensorboard(self.tensorboard)
        if self.mesh is not None:
            parse_mesh(self.mesh)
            check_mesh_backend(self.mesh)
        for name in ("data_dir", "prm800k_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(
                    f"`{name}` must be a path. Received: {value!r}"
                )

    def _check_model(self):
        for name in (
            "generation_template",
            "evaluation_template",
            "correct_label",
            "incorrect_label",
        ):
            if not isinstance(getattr(self, name), str):
                raise ValueError(
                    f"`{name}` must be a string. "
                    f"Received: {getattr(self, name)!r}"
                )
        try:
            self.prompt_template()
        except ValueError as error:
            raise ValueError(
                "The prompt fields (`generation_template`, "
                "`evaluation_template`, `correct_label`, `incorrect_label`) "
                f"do not make a template: {error}"
            ) from None
        if self.hidden_dim is not None and self.hidden_dim % SCRATCH_NUM_HEADS:
            raise ValueError(
                f"`hidden_dim` must be a multiple of {SCRATCH_NUM_HEADS} (the "
                f"from-scratch decoder has {SCRATCH_NUM_HEADS} heads). "
                f"Received: {self.hidden_dim}"
            )
        if self.dtype is not None:
            _check_dtype(self.dtype)
        if self.preset is not None:
            if not isinstance(self.preset, str) or not self.preset.strip():
                raise ValueError(
                    "`preset` must be a keras-hub preset name, a local "
                    "directory or a handle; leave it unset to train the "
                    f"from-scratch decoder. Received: {self.preset!r}"
                )
            _check_preset(self.preset)
        elif self.lora_rank is not None:
            raise ValueError(
                "`lora_rank` needs a pretrained `preset`; the from-scratch "
                "decoder trains every weight. Received: "
                f"lora_rank={self.lora_rank}, preset=None"
            )

    def _check_sampling(self):
        num_samples = self.resolved("num_samples")
        if num_samples is not None and self.top_k_clusters > num_samples:
            raise ValueError(
                "`top_k_clusters` (K) cannot exceed `num_samples` (N): there "
                "are at most N clusters. Lower K or raise N. Received: "
                f"top_k_clusters={self.top_k_clusters}, "
                f"num_samples={num_samples}"
            )
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(
                f"`top_p` must be in (0, 1]. Received: {self.top_p}"
            )
        length = self.resolved("sequence_length")
        new = self.resolved("max_new_tokens")
        if new > length - MIN_PROMPT_TOKENS:
            raise ValueError(
                "`max_new_tokens` must be below `sequence_length` and leave "
                f"at least {MIN_PROMPT_TOKENS} tokens for the prompt. "
                f"Received: max_new_tokens={new}, sequence_length={length}"
            )

    def _check_training(self):
        self.evaluator_options()
        train = self.resolved("num_train_problems")
        eval_train = self.resolved("num_eval_train_problems")
        if train is not None and eval_train is not None and eval_train > train:
            raise ValueError(
                "`num_eval_train_problems` (training problems sampled for "
                "the evaluator's data) cannot exceed `num_train_problems`. "
                f"Received: {eval_train} > {train}"
            )
        batch = self.resolved("batch_size")
        if train is not None and batch > train:
            raise ValueError(
                "`batch_size` cannot exceed `num_train_problems`: SSFT "
                "batches are whole. Lower the batch or add problems. "
                f"Received: batch_size={batch}, num_train_problems={train}"
            )

    def _check_data(self):
        if self.data == "embedded":
            for name, default in (
                ("data_dir", None),
                ("prm800k_path", None),
                ("solutions", "math"),
                ("allow_contamination", False),
            ):
                if getattr(self, name) != default:
                    raise ValueError(
                        f"`{name}` applies to `data='math'` only; the "
                        "embedded task needs no files (its solution style is "
                        "set by `style`). Drop it or set `data='math'`. "
                        f"Received: {name}={getattr(self, name)!r}"
                    )
            return
        if self.style != "detailed":
            raise ValueError(
                "`style` applies to `data='embedded'` only; for MATH choose "
                "the solutions with `solutions=math|prm800k|both`. "
                f"Received: style={self.style!r}"
            )
        data_dir = self.data_dir
        if not data_dir or not os.path.isdir(data_dir):
            raise ValueError(
                "`data='math'` needs `data_dir`, an existing folder holding "
                "MATH/{train,test}/ and prm800k/math_splits/test.jsonl (the "
                "12K/500 split), or train.jsonl and test.jsonl. Received: "
                f"data_dir={data_dir!r}"
            )
        has_tree = os.path.isdir(os.path.join(data_dir, "MATH"))
        has_jsonl = all(
            os.path.isfile(os.path.join(data_dir, f"{split}.jsonl"))
            for split in ("train", "test")
        )
        if not (has_tree or has_jsonl):
            raise ValueError(
                "`data_dir` must hold MATH/{train,test}/ (plus "
                "prm800k/math_splits/test.jsonl) or train.jsonl and "
                f"test.jsonl. Received: data_dir={data_dir!r} with neither"
            )
        if self.solutions != "math" and self.prm800k_file() is None:
            raise ValueError(
                f"`solutions={self.solutions!r}` needs a PRM800K label file: "
                "set `prm800k_path` to phase1/phase2 JSONL, or put it at "
                "<data_dir>/prm800k/data/phase2_train.jsonl. Received: "
                f"prm800k_path={self.prm800k_path!r}"
            )

    def prm800k_file(self):
        """The PRM800K label file to read, or `None` when there is none."""
        if self.prm800k_path:
            return (
                self.prm800k_path if os.path.exists(self.prm800k_path) else None
            )
        for phase in ("phase2_train", "phase1_train"):
            path = os.path.join(
                self.data_dir or "", "prm800k", "data", f"{phase}.jsonl"
            )
            if os.path.isfile(path):
                return path
        return None

    def prompt_template(self):
        """The run's `data.PromptTemplate`, from the four prompt fields."""
        return PromptTemplate(
            generation=self.generation_template,
            evaluation=self.evaluation_template,
            correct_label=self.correct_label,
            incorrect_label=self.incorrect_label,
        )

    def evaluator_options(self):
        """The `EvaluatorOptions` of the evaluation phase."""
        return EvaluatorOptions(
            evaluator_loss=self.evaluator_loss, margin=self.margin
        )

    def training_phases(self):
        """The run's `TrainingPhase`s, by name, from the public schedule.

        `"generation"` trains SSFT, `"evaluation"` the evaluator (or the
        multi-task model's evaluation phase) and `"regeneration"` the last
        multi-task phase: `models.default_multitask_schedule` sized by
        this config, so `fit_phases` on these phases trains as the recipe.
        """
        phases = default_multitask_schedule(
            self.resolved("sft_steps"),
            self.resolved("evaluator_steps"),
            self.resolved("final_sft_steps"),
            learning_rate=self.resolved("learning_rate"),
            later_learning_rate=self.resolved("evaluator_learning_rate"),
            evaluator_options=self.evaluator_options(),
            checkpoint_every=self.resolved("checkpoint_every"),
        )
        if self.lora_rank is not None:
            phases = [
                dataclasses.replace(
                    p, trainable="lora", lora_rank=self.lora_rank
                )
                for p in phases
            ]
        return {p.name: p for p in phases}

    def scratch_architecture(self):
        """`models.build_causal_lm` arguments of the from-scratch decoder."""
        hidden = self.resolved("hidden_dim")
        return dict(
            family=SCRATCH_FAMILY,
            num_layers=self.resolved("num_layers"),
            hidden_dim=hidden,
            num_heads=SCRATCH_NUM_HEADS,
            num_key_value_heads=1,
            intermediate_dim=4 * hidden,
            head_dim=hidden // SCRATCH_NUM_HEADS,
        )

    def resolved_settings(self):
        """The size-dependent settings with their actual values."""
        names = list(SIZES["default"]) + [
            "learning_rate",
            "evaluator_learning_rate",
        ]
        return {name: self.resolved(name) for name in names}

    def resolved(self, name):
        """Returns field `name`, falling back to the `size` default.

        With `data="math"`, unset problem counts and `max_level` are `None`
        (every problem).
        """
        value = getattr(self, name)
        if value is not None:
            return value
        if self.data == "math" and name in _ALL_WITH_REAL_DATA:
            return None
        if name == "learning_rate":
            # From scratch a small decoder wants a large step; a pretrained
            # model a small one.
            return 2e-3 if self.preset is None else 2e-5
        if name == "evaluator_learning_rate":
            return self.resolved("learning_rate") / 2
        return SIZES[self.size][name]

    def get_config(self):
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """Returns a copy with `changes` applied (and validated)."""
        return dataclasses.replace(self, **changes)


def _check_tensorboard(directory):
    if directory is None:
        return
    if not isinstance(directory, str) or not directory.strip():
        raise ValueError(
            "`tensorboard` must name a folder for the event files "
            f"(--tensorboard=DIR), or be unset. Received: {directory!r}"
        )
    if importlib.util.find_spec("tensorboard") is None:
        raise ValueError(
            "`tensorboard` needs the tensorboard package: pip install "
            "'keras_mathft[tensorboard]', or leave --tensorboard unset. "
            f"Received: tensorboard={directory!r}"
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
    if "://" in preset:
        scheme = preset.split("://", 1)[0]
        if scheme not in _PRESET_SCHEMES:
            raise ValueError(
                "`preset` must be a keras-hub preset name, a local "
                "directory, or a `hf://`, `kaggle://`, `modelscope://` or "
                f"`gs://` handle. Received: {preset!r}"
            )
        return
    if preset.lower().endswith(".gguf"):
        if not os.path.isfile(preset):
            raise ValueError(
                "A `.gguf` `preset` must be an existing llama.cpp GGUF file "
                "(Gemma 3, Llama, Qwen 2 or Qwen 3). Received: "
                f"{preset!r}"
            )
        return
    if os.path.sep in preset or preset.startswith(".") or os.path.isdir(preset):
        if not os.path.isfile(os.path.join(preset, "config.json")):
            raise ValueError(
                "A local `preset` must be a folder with a `config.json` "
                "(a keras-hub preset or a Hugging Face checkpoint). "
                f"Received: {preset!r}"
            )
        return
    import keras_hub

    known = keras_hub.models.CausalLM.presets
    if preset not in known:
        raise ValueError(
            f"Unknown keras-hub preset. Use one of "
            "keras_hub.models.CausalLM.presets (e.g. 'gemma_2b_en', "
            "'qwen2.5_0.5b_en'), a local directory, or an hf:// or "
            f"kaggle:// handle. Received: {preset!r}"
        )
