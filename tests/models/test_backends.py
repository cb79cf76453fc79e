"""Cross-backend equality and distributed training, in subprocesses.

Each check runs a fresh interpreter: the other backend must be chosen
before Keras is imported, `XLA_FLAGS` before JAX starts, and TF logical
devices before TF initializes.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from backend_worker import losses
from backend_worker import write_inputs

WORKER = pathlib.Path(__file__).with_name("backend_worker.py")


def _run(mode, workdir, backend, extra_env=None):
    env = dict(os.environ, KERAS_BACKEND=backend, **(extra_env or {}))
    env["PYTHONPATH"] = os.pathsep.join(
        [str(WORKER.parent), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.run(
        [sys.executable, str(WORKER), mode, str(workdir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.slow
@pytest.mark.backend_independent
def test_same_weights_give_same_losses_on_jax_and_tensorflow(tmp_path):
    model = write_inputs(str(tmp_path))
    here = losses(model, str(tmp_path))
    other = "tensorflow" if keras.config.backend() == "jax" else "jax"
    there = _run("losses", tmp_path, other)
    for key in ("generation", "margin"):
        assert here[key] > 0
        assert there[key] == pytest.approx(here[key], rel=1e-4), key


@pytest.mark.slow
@pytest.mark.skipif(
    keras.config.backend() != "jax", reason="keras.distribution on JAX"
)
def test_jax_data_and_model_parallel_match_single_device(tmp_path):
    write_inputs(str(tmp_path))
    flags = "--xla_force_host_platform_device_count=4"
    out = _run("jax_distributed", tmp_path, "jax", {"XLA_FLAGS": flags})
    assert out["devices"] == 4
    for mode in ("data_parallel", "model_parallel"):
        for key in ("generation", "margin"):
            np.testing.assert_allclose(
                out[mode][key], out["single"][key], rtol=1e-4, err_msg=mode
            )


@pytest.mark.slow
@pytest.mark.skipif(
    keras.config.backend() != "tensorflow", reason="tf.distribute on TF"
)
def test_tf_mirrored_strategy_matches_single_device(tmp_path):
    write_inputs(str(tmp_path))
    out = _run("tf_distributed", tmp_path, "tensorflow")
    assert out["devices"] == 4
    for key in ("generation", "margin"):
        np.testing.assert_allclose(
            out["mirrored"][key], out["single"][key], rtol=1e-4
        )
