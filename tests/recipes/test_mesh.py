"""The recipe on a device mesh (`mesh`, `--mesh`): refused on TensorFlow;
on 8 virtual JAX devices it writes the report of one device."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import run_pipeline

REPO = pathlib.Path(__file__).resolve().parents[2]
CHILD = pathlib.Path(__file__).with_name("mesh_child.py")
MESH = "batch:2,model:4"
on_jax = pytest.mark.skipif(
    keras.config.backend() != "jax", reason="meshes run on JAX"
)


@pytest.mark.skipif(
    keras.config.backend() != "tensorflow",
    reason="the refusal is TensorFlow's",
)
def test_tensorflow_stops_at_once_on_a_model_axis(tmp_path):
    with pytest.raises(ValueError, match="no model parallelism on the tens"):
        RecipeConfig(run_dir=str(tmp_path / "run"), mesh=MESH)
    # The command line says so in one line, naming JAX, and writes nothing.
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "train.py"),
            "--quick",
            f"--run_dir={tmp_path / 'run'}",
            f"--mesh={MESH}",
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Keras 3 has no model parallelism" in result.stderr
    assert "KERAS_BACKEND=jax" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
    # Without a mesh TensorFlow runs as before.
    assert RecipeConfig(run_dir=str(tmp_path / "run")).run.mesh is None


@on_jax
def test_bad_or_oversized_meshes_stop_before_anything_is_written(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match="Mesh axes are"):
        RecipeConfig(run_dir=str(run_dir), mesh="gpu:8")
    devices = len(keras.distribution.list_devices())
    config = RecipeConfig(run_dir=str(run_dir), mesh="batch:4,model:16")
    with pytest.raises(ValueError, match=f"64 devices; there are {devices}"):
        run_pipeline(config, verbose=0)
    assert not run_dir.exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    # One child: 8 virtual CPU devices must be set before JAX starts.
    work = tmp_path_factory.mktemp("mesh_recipe")
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(work), MESH],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.slow
@on_jax
def test_tiny_recipe_on_a_mesh_writes_the_report_of_one_device(runs):
    assert runs["devices"] == 8
    one, mesh = runs["one"], runs["mesh"]
    # Training ran on one device, then under the 2x4 mesh with its
    # weights split (SSFT and the evaluator).
    assert [f["distribution"] for f in one["fits"]] == [None, None]
    assert [f["distribution"] for f in mesh["fits"]] == [
        "_FittedModelParallel"
    ] * 2
    assert all(f["split_weights"] > 0 for f in mesh["fits"])
    # The same samples, greedy and sampled, on training and test problems.
    for store in ("train_samples", "test_greedy", "test_samples"):
        assert mesh[store] == one[store], store
        assert len({text for _, _, text in one[store]}) > 1
    np.testing.assert_allclose(
        np.ravel(mesh["scores"]), np.ravel(one["scores"]), rtol=1e-5
    )
    a, b = one["report"], mesh["report"]
    # Accuracies and evaluator calls: equal; what scores feed: within
    # float tolerance.
    assert b["overall"] == a["overall"]
    assert b["by_level"] == a["by_level"]
    assert b["curves"] == a["curves"]
    trained = 0
    for stage, summary in a["recipe"]["stages"].items():
        other = b["recipe"]["stages"][stage]
        if "losses" in summary:
            trained += 1
            for key in ("losses", "final_loss"):
                want = summary.pop(key)
                assert other.pop(key) == pytest.approx(want, rel=1e-3)
        assert other == summary, stage
    assert trained == 2  # SSFT and the evaluator
    for key in ("evaluator_ece", "test_sample_accuracy"):
        assert b["recipe"][key] == pytest.approx(a["recipe"][key], rel=1e-5)
    assert b["recipe"]["config"] == a["recipe"]["config"]
