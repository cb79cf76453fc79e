"""Checks before a run writes anything: the backend and the run directory.

`check_backend` refuses a Keras backend the recipe has no code for;
`check_run_directory` opens a run's folder under its writer lock and
refuses a run with other settings (the config, the resolved sizes, the
backend and digests of the data and local model files).
"""

import keras

from keras_mathft.recipes.inputs import input_digests
from keras_mathft.recipes.run_dir import RunDirectory
from keras_mathft.recipes.stages import pipeline_stages

# Keras backends the recipe runs on (its training, sampling and
# distribution code exists for these two).
SUPPORTED_BACKENDS = ("jax", "tensorflow")
# Fields that never change a result: where the run lives and logs, the
# permission to run on data that the contamination check refuses, and
# the device mesh (beyond float rounding; a run may resume on another).
_NOT_COMPARED = ("run_dir", "tensorboard", "allow_contamination", "mesh")
# Settings that run directories of earlier versions did not store (see
# `RunDirectory`'s `later_settings`).
_LATER_SETTINGS = ("backend", "data_digest", "preset_digest")
# Fields added later, with the value that earlier versions ran with: left
# out of the compared settings at that value, so that earlier runs resume
# (and their reports read the same); any other value is compared.
_ADDED_FIELDS = {"evaluator": "outcome"}


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
    as_before = [k for k, v in _ADDED_FIELDS.items() if config.get(k) == v]
    return _without(config, (*_NOT_COMPARED, *as_before))


def _without(settings, names):
    if not isinstance(settings, dict):
        return settings
    return {k: v for k, v in settings.items() if k not in names}


def comparable_settings(config):
    """`config.get_config()` without the fields that change no result."""
    return _comparable(config.get_config())
