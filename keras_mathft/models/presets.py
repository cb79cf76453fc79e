"""Load a causal LM from wherever it is: preset, Hugging Face folder, GGUF.

`load_causal_lm(preset)` is what `MathSolver.from_preset` (and so the
recipe's `--preset`) loads through:

- a `.gguf` file: `load_gguf` (converted once, cached, checked);
- a local Hugging Face folder (`config.json` and `*.safetensors`):
  keras-hub's HF loader with the backbone arguments it leaves out for the
  family (`hf_weights.hf_load_arguments`), then `check_loaded_checkpoint`
  (tensors the config does not use, non-finite weights);
- anything else (a keras-hub preset name or folder, `hf://`,
  `kaggle://`): `keras_hub.models.CausalLM.from_preset`.
"""

import json
import os
import pathlib

import keras_hub

from keras_mathft.models import gguf
from keras_mathft.models.hf_weights import check_loaded_checkpoint
from keras_mathft.models.hf_weights import hf_load_arguments


def load_causal_lm(preset, **kwargs):
    """Loads a keras-hub `CausalLM` from a preset, HF folder or GGUF file.

    Args:
        preset: str or path.
        **kwargs: passed to `keras_hub.models.CausalLM.from_preset` (e.g.
            `dtype="bfloat16"`), or to `load_gguf`.

    Returns:
        A `keras_hub.models.CausalLM`.

    Raises:
        ValueError: for a GGUF file or HF folder that fails its checks.

    Example:

    >>> lm = load_causal_lm("model.gguf", dtype="bfloat16")  # doctest: +SKIP
    """
    if gguf.is_gguf_path(preset):
        return gguf.load_gguf(preset, **kwargs)
    if not is_hf_folder(preset):
        return keras_hub.models.CausalLM.from_preset(preset, **kwargs)
    fixes = hf_load_arguments(preset)
    if fixes and "backbone" not in kwargs:
        dtype = {"dtype": kwargs["dtype"]} if "dtype" in kwargs else {}
        kwargs["backbone"] = keras_hub.models.Backbone.from_preset(
            preset, **fixes, **dtype
        )
    causal_lm = keras_hub.models.CausalLM.from_preset(preset, **kwargs)
    check_loaded_checkpoint(causal_lm.backbone, preset)
    return causal_lm


# A MathSolver's own settings (prompt template, label ids) in a preset.
SOLVER_SETTINGS_FILE = "mathft_config.json"


def read_solver_settings(preset):
    """The settings `write_solver_settings` saved in a preset folder, or {}."""
    path = os.path.join(str(preset), SOLVER_SETTINGS_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_solver_settings(preset_dir, settings):
    """Saves a MathSolver's settings (a JSON dict) beside its preset."""
    path = os.path.join(str(preset_dir), SOLVER_SETTINGS_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)


def is_hf_folder(preset):
    """Whether `preset` is a local folder holding safetensors weights."""
    folder = pathlib.Path(str(preset))
    return folder.is_dir() and any(folder.glob("*.safetensors"))
