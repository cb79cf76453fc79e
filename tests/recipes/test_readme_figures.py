"""The README's figures of the default recipe belong to today's defaults.

Beside the figures the README records a digest of the default recipe's
settings. A change of any default (a field of `RecipeConfig` or a size
setting) changes the digest, and this test fails until the default
command is run again and its figures and digest are written down.
"""

import hashlib
import json
import pathlib
import re

import pytest

from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import settings as settings_lib

pytestmark = pytest.mark.backend_independent

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
DIGEST_LINE = re.compile(r"default settings digest `([0-9a-f]{12})`")


# Fields added after the figures were measured whose default leaves the
# pipeline as it was: left out of the digest while at their default, so
# the digest of today's fields stands; any other value changes it.
NOT_IN_DIGEST_AT_DEFAULT = ("evaluator",)


def default_settings_digest(**changes):
    config = RecipeConfig(**changes)
    settings = config.get_config()  # flat, `None` where the size decides
    del settings["run_dir"]  # where, not what
    for name in NOT_IN_DIGEST_AT_DEFAULT:
        if settings[name] == RecipeConfig().get_config()[name]:
            del settings[name]
    settings["resolved"] = config.resolved_settings()
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_the_readme_figures_were_measured_with_the_defaults():
    recorded = DIGEST_LINE.findall(README.read_text(encoding="utf-8"))
    assert len(recorded) == 1, "README: one default settings digest"
    assert recorded[0] == default_settings_digest(), (
        "The default recipe's settings changed since the README's figures "
        "were measured: run `KERAS_BACKEND=jax python examples/train.py`, "
        "write its figures and time into README.md and replace the digest "
        f"with `{default_settings_digest()}`."
    )


def test_the_digest_follows_the_size_settings(monkeypatch):
    base = default_settings_digest()
    default_size = dict(settings_lib.SIZES["default"])
    default_size["sft_steps"] += 1
    monkeypatch.setitem(settings_lib.SIZES, "default", default_size)
    assert default_settings_digest() != base


def test_the_digest_follows_fields_added_since():
    base = default_settings_digest()
    assert default_settings_digest(evaluator="process") != base
