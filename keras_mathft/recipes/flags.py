"""absl flags that map one to one onto `RecipeConfig` fields."""

import dataclasses
import typing

from absl import flags

from keras_mathft.recipes.config import CHOICES
from keras_mathft.recipes.config import SIZES
from keras_mathft.recipes.config import RecipeConfig

HELP = {
    "run_dir": "Run directory; a stopped run restarts where it stopped.",
    "tensorboard": "Folder for TensorBoard logs: training loss per step, "
    "evaluator AUC and accuracy over N (needs the tensorboard extra).",
    "mesh": "JAX device mesh, e.g. batch:2,model:4: rows over batch, "
    "weights, optimizer state and KV cache over model; the sizes' product "
    "is the number of devices. Unset: data parallel with --distributed, "
    "else one device.",
    "size": "Offline default size: quick (smoke test) or default.",
    "seed": "Seed of data, weight initialisation, batches and sampling.",
    "preset": "keras-hub preset name, hf://..., kaggle://... or a local "
    "directory. Unset: a small decoder trained from scratch.",
    "dtype": "Model dtype policy, e.g. bfloat16 or mixed_bfloat16.",
    "lora_rank": "Fine-tune a preset with LoRA of this rank.",
    "data": "embedded (offline task) or math (MATH, --data_dir).",
    "data_dir": "Folder with MATH/ and prm800k/math_splits/test.jsonl (the "
    "12K/500 split), or train.jsonl and test.jsonl.",
    "solutions": "SSFT solutions for --data=math: math, prm800k or both.",
    "prm800k_path": "PRM800K label file (default: <data_dir>/prm800k/data/"
    "phase2_train.jsonl).",
    "allow_contamination": "Run even when test problems are also training "
    "problems (same text, whitespace and case aside); by default such a "
    "--data_dir is refused before anything runs.",
    "style": "Embedded-task solutions: detailed (one operation a line), "
    "coarse (operations combined), terse (answer only) or both (detailed "
    "and coarse).",
    "max_level": "Hardest problem level, 1 to 5 (embedded task or MATH).",
    "num_train_problems": "Training problems (unset: size / all).",
    "num_test_problems": "Test problems (unset: size / all).",
    "num_eval_train_problems": "Training problems sampled to build the "
    "evaluator's data.",
    "num_samples": "N, samples per test problem.",
    "num_train_samples": "Samples per training problem for evaluator data.",
    "temperature": "Sampling temperature.",
    "top_p": "Nucleus sampling mass.",
    "max_new_tokens": "Most tokens generated per solution.",
    "top_k_clusters": "K of RR.Top-K, W.RR.Top-K, MajK and Maj1.TopN.",
    "evaluator": "Evaluator: outcome (the paper's: scores a whole "
    "solution) or process (scores each step; the solution's score is its "
    "weakest step).",
    "evaluator_loss": "Evaluator loss: xent, margin or mixture.",
    "margin": "Lambda of the margin loss.",
    "max_pairs_per_problem": "Right/wrong pairs per training problem.",
    "multitask": "Multi-task sequential fine-tuning (generation -> "
    "evaluation -> generation) instead of a separate evaluator.",
    "batch_size": "Generation (SSFT) batch size.",
    "evaluator_batch_size": "Evaluator batch size (pairs or examples).",
    "learning_rate": "SSFT peak learning rate (unset: 2e-3 from scratch, "
    "2e-5 for a preset).",
    "evaluator_learning_rate": "Learning rate of the evaluator phases "
    "(unset: learning_rate / 2).",
    "sft_steps": "SSFT training steps.",
    "evaluator_steps": "Evaluator training steps.",
    "final_sft_steps": "Steps of the last generation phase (--multitask).",
    "checkpoint_every": "Training steps between checkpoints.",
    "hidden_dim": "Hidden size of the from-scratch decoder.",
    "num_layers": "Layers of the from-scratch decoder.",
    "sequence_length": "Token length of training and scoring inputs.",
    "generation_template": "Generator prompt, with {problem} once (e.g. a "
    "few-shot prompt for a base model; pass newlines with $'...' or "
    '"$(cat file)").',
    "evaluation_template": "Evaluator prompt, with {problem} and {solution} "
    "once each; the label word follows it.",
    "correct_label": "Evaluator label word of a correct solution (with its "
    "leading space).",
    "incorrect_label": "Evaluator label word of an incorrect solution.",
}


def define_flags(flag_values=flags.FLAGS):
    """Defines one flag per `RecipeConfig` field, plus `--quick`."""
    hints = typing.get_type_hints(RecipeConfig)
    for field in dataclasses.fields(RecipeConfig):
        name, default = field.name, field.default
        help_text = HELP[name]
        if name in SIZES["default"]:
            help_text += " Default: from --size."
        kind = hints[name]
        if name in CHOICES:
            flags.DEFINE_enum(
                name,
                default,
                CHOICES[name],
                help_text,
                flag_values=flag_values,
            )
        elif kind is bool:
            flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
        elif int in typing.get_args(kind) or kind is int:
            flags.DEFINE_integer(
                name, default, help_text, flag_values=flag_values
            )
        elif float in typing.get_args(kind) or kind is float:
            flags.DEFINE_float(
                name, default, help_text, flag_values=flag_values
            )
        else:
            flags.DEFINE_string(
                name, default, help_text, flag_values=flag_values
            )
    flags.DEFINE_bool(
        "quick", False, "Shorthand for --size=quick.", flag_values=flag_values
    )


def config_from_flags(flag_values=flags.FLAGS):
    """Builds (and so validates) a `RecipeConfig` from parsed flags.

    Raises:
        ValueError: for any setting that does not fit, with what to change.
    """
    values = {
        field.name: flag_values[field.name].value
        for field in dataclasses.fields(RecipeConfig)
    }
    if flag_values["quick"].value:
        if flag_values["size"].present and values["size"] != "quick":
            raise ValueError(
                "--quick is --size=quick; drop one of them. Received: "
                f"--quick and --size={values['size']}"
            )
        values["size"] = "quick"
        if not flag_values["run_dir"].present:
            values["run_dir"] = "runs/quick"
    return RecipeConfig(**values)
