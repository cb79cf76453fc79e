"""Checks before a run writes anything: backend, files, run directory.

`check_backend` refuses a Keras backend the recipe has no code for;
`check_files_and_packages` what a `RecipeConfig` names on the disk or
needs installed (its construction checks values only);
`check_run_directory` opens a run's folder under its writer lock and
refuses a run with other settings (the config, the resolved sizes, the
backend and digests of the data and local model files).
"""

import importlib.util
import os

import keras

from keras_mathft.recipes.config import MATH_NEEDS_DATA_DIR
from keras_mathft.recipes.inputs import input_digests
from keras_mathft.recipes.run_dir import RunDirectory
from keras_mathft.recipes.run_dir import check_run_dir_path
from keras_mathft.recipes.settings import DEFAULTS
from keras_mathft.recipes.stages import pipeline_stages

# Keras backends the recipe runs on (its training, sampling and
# distribution code exists for these two).
SUPPORTED_BACKENDS = ("jax", "tensorflow")
# Fields that never change a result: where the run lives and logs, the
# permission to run on data that the contamination check refuses, and
# the device mesh (beyond float rounding; a run may resume on another).
_NOT_COMPARED = ("run_dir", "tensorboard", "allow_contamination", "mesh")
# Settings added after run directories were first written whose default
# leaves the pipeline as it was: stored (and compared, and reported) only
# when set otherwise, so a run directory of an earlier version resumes.
_STORED_WHEN_SET = ("evaluator",)
# Settings that run directories of earlier versions did not store (see
# `RunDirectory`'s `later_settings`).
_LATER_SETTINGS = ("backend", "data_digest", "preset_digest")


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


def check_files_and_packages(config):
    """Raises when what `config` names is not on the disk or installed.

    `RecipeConfig` checks values only; `run_pipeline` and
    `check_run_directory` call this before anything runs: the run
    directory's path (not a file, nor under one), the tensorboard package
    for `tensorboard`, a local `preset`'s files (or a keras-hub preset's
    name), and with `data="math"` the data folder and the PRM800K file.

    Args:
        config: a `RecipeConfig`.

    Raises:
        ValueError: naming the setting to change.
    """
    check_run_dir_path(config.run.run_dir)
    tensorboard = config.run.tensorboard
    if (
        tensorboard is not None
        and importlib.util.find_spec("tensorboard") is None
    ):
        raise ValueError(
            "`tensorboard` needs the tensorboard package: pip install "
            "'keras_mathft[tensorboard]', or leave --tensorboard unset. "
            f"Received: tensorboard={tensorboard!r}"
        )
    if config.model.preset is not None:
        _check_preset_files(config.model.preset)
    if config.data.data == "math":
        _check_data_files(config)


def _check_preset_files(preset):
    if "://" in preset:
        return  # A handle: fetched by keras-hub when the run loads it.
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

    if preset not in keras_hub.models.CausalLM.presets:
        raise ValueError(
            f"Unknown keras-hub preset. Use one of "
            "keras_hub.models.CausalLM.presets (e.g. 'gemma_2b_en', "
            "'qwen2.5_0.5b_en'), a local directory, or an hf:// or "
            f"kaggle:// handle. Received: {preset!r}"
        )


def _check_data_files(config):
    data_dir = config.data.data_dir
    if not os.path.isdir(data_dir):
        raise ValueError(MATH_NEEDS_DATA_DIR.format(data_dir=data_dir))
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
    solutions = config.data.solutions
    if solutions != "math" and config.prm800k_file() is None:
        raise ValueError(
            f"`solutions={solutions!r}` needs a PRM800K label file: "
            "set `prm800k_path` to phase1/phase2 JSONL, or put it at "
            "<data_dir>/prm800k/data/phase2_train.jsonl. Received: "
            f"prm800k_path={config.data.prm800k_path!r}"
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
        ValueError: when the backend is not supported, a file or package
            that `config` names is missing (`check_files_and_packages`),
            or the folder holds a run with other settings, is in use by
            another process, or cannot be a run directory.
    """
    check_backend()
    check_files_and_packages(config)
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
        config.run.run_dir,
        config=settings,
        stage_settings=stage_settings,
        later_settings=_LATER_SETTINGS,
    )


def _comparable(config):
    settings = _without(config, _NOT_COMPARED)
    return {
        k: v
        for k, v in settings.items()
        if k not in _STORED_WHEN_SET or v != DEFAULTS[k]
    }


def _without(settings, names):
    if not isinstance(settings, dict):
        return settings
    return {k: v for k, v in settings.items() if k not in names}


def comparable_settings(config):
    """`config.get_config()` without the fields that change no result."""
    return _comparable(config.get_config())
