"""Device meshes and layouts (`models.sharding`), and model parallelism on
8 virtual devices: layouts, training, sampling and scoring against one
device."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import tiny_solver

from keras_mathft.models import FAMILIES
from keras_mathft.models import layout_map
from keras_mathft.models import sharding

CHILD = pathlib.Path(__file__).with_name("mesh_child.py")
MESHES = ("batch:2,model:4", "batch:1,model:8")


def fake_mesh(text):
    """A mesh over device names: layouts need no real devices."""
    shape = sharding.parse_mesh(text)
    count = shape["batch"] * shape["model"]
    return sharding.device_mesh(shape, [f"cpu:{i}" for i in range(count)])


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "text, shape",
    [
        ("batch:2,model:4", {"batch": 2, "model": 4}),
        ("model:8", {"batch": 1, "model": 8}),
        (" model : 2 , batch : 3 ", {"batch": 3, "model": 2}),
        ("batch:8", {"batch": 8, "model": 1}),
    ],
)
def test_parse_mesh(text, shape):
    assert sharding.parse_mesh(text) == shape


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "text", ["", "gpu:2", "batch:2,batch:2", "batch:0", "batch:x", "model"]
)
def test_bad_meshes_raise(text):
    with pytest.raises(ValueError, match="Received"):
        sharding.parse_mesh(text)


@pytest.mark.backend_independent
def test_mesh_must_cover_the_devices():
    with pytest.raises(ValueError, match="needs 8 devices; there are 4"):
        sharding.device_mesh("batch:2,model:4", [f"cpu:{i}" for i in range(4)])


@pytest.mark.backend_independent
def test_tensorflow_refuses_meshes_and_names_jax():
    sharding.check_mesh_backend("batch:2,model:4", backend="jax")
    with pytest.raises(ValueError, match="no model parallelism.*KERAS_BAC"):
        sharding.check_mesh_backend("batch:2,model:4", backend="tensorflow")
    with pytest.raises(ValueError, match="JAX only.*KERAS_BACKEND=jax"):
        sharding.check_mesh_backend("batch:2", backend="tensorflow")


@pytest.mark.backend_independent
def test_fit_layout_replicates_what_an_axis_does_not_divide():
    mesh = fake_mesh("batch:2,model:4")
    fit = sharding.fit_layout
    assert fit(("model", "batch", None), (8, 6, 3), mesh) == (
        "model",
        "batch",
        None,
    )
    # One KV head: `model` (4) cannot split it; `batch` still splits 6.
    assert fit(("model", "batch", None), (1, 6, 3), mesh) == (
        None,
        "batch",
        None,
    )
    assert fit((("batch", "model"),), (16,), mesh) == (("batch", "model"),)
    assert fit((("batch", "model"),), (12,), mesh) == (None,)
    assert fit(None, (4, 4), mesh) == (None, None)
    with pytest.raises(ValueError, match="one entry per dimension"):
        fit(("model",), (4, 4), mesh)


@pytest.mark.backend_independent
def test_cache_splits_heads_or_else_the_head_dimension():
    mesh = fake_mesh("batch:2,model:4")
    axes = sharding.cache_layout_axes
    # Gemma: [rows, layers, 2, T, heads, head_dim].
    assert axes(((8, 2, 2, 16, 4, 8), 3, "float32"), mesh) == (
        "batch",
        None,
        None,
        None,
        "model",
        None,
    )
    # One KV head: its head dimension splits.
    assert axes(((8, 16, 1, 8), 1, "float32"), mesh)[-2:] == (None, "model")
    # Neither divides: replicated over `model`; odd rows over `batch` too.
    assert axes(((3, 16, 1, 6), 1, "float32"), mesh) == (None,) * 4


@pytest.mark.backend_independent
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_shards_its_kernels_over_model(family):
    solver = tiny_solver(
        family,
        hidden_dim=16,
        num_heads=4,
        num_key_value_heads=2,
        head_dim=4,
        intermediate_dim=32,
    )
    mesh = fake_mesh("batch:2,model:2")
    layouts = layout_map(solver, mesh)
    weights = solver.causal_lm.backbone.weights
    assert sorted(layouts) == sorted(v.path for v in weights)
    for v in weights:
        axes = layouts[v.path].axes
        assert len(axes) == len(v.shape), v.path
        for axis, dim in zip(axes, v.shape):
            assert axis is None or dim % 2 == 0, v.path
        if "kernel" in v.path:
            # Every attention and feed-forward kernel: heads or the
            # feed-forward dimension over `model`, the hidden one over
            # `batch`.
            assert set(axes) - {None} == {"batch", "model"}, v.path
        elif len(v.shape) == 1 and "bias" not in v.path:
            assert axes == (None,), v.path  # norms stay whole


@pytest.mark.backend_independent
def test_unfitted_rules_come_from_keras_hub_where_it_has_them():
    mesh = fake_mesh("batch:2,model:2")
    import keras_hub

    ours = sharding.family_layout_map("gemma", mesh)
    theirs = keras_hub.models.GemmaBackbone.get_layout_map(mesh)
    assert {k: v.axes for k, v in ours.items()} == {
        k: v.axes for k, v in theirs.items()
    }
    with pytest.raises(ValueError, match="family="):
        sharding.family_layout_map("t5", mesh)


def _run_child(tmp_path, *families):
    env = dict(os.environ, PYTHONPATH=str(CHILD.parents[2]))
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path), *families],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def mesh_runs(tmp_path_factory):
    # One child for every mesh check: 8 virtual CPU devices must be set
    # before JAX starts.
    return _run_child(tmp_path_factory.mktemp("mesh"), "gemma3", "llama3")


pytestmark_jax = pytest.mark.skipif(
    keras.config.backend() != "jax",
    reason="model parallelism is JAX's (the child runs JAX on any backend)",
)


def _runs(mesh_runs):
    assert mesh_runs["devices"] == 8
    for family in ("gemma3", "llama3"):
        for mesh in MESHES:
            yield (
                family,
                mesh,
                mesh_runs[family]["single"],
                mesh_runs[family][mesh],
            )


@pytest.mark.slow
@pytestmark_jax
def test_weights_and_optimizer_state_shard_as_the_layout_says(mesh_runs):
    for family, mesh, _, run in _runs(mesh_runs):
        batch = sharding.parse_mesh(mesh)["batch"]
        rows = run["layouts"]
        # AdamW: two moments per weight, each laid out like its weight.
        weights = [r for r in rows if r["kind"] == "weight"]
        assert len(rows) == 3 * len(weights), (family, mesh)
        for r in rows:
            where = (family, mesh, r["path"])
            assert r["got"] == r["want"], where
            split = int(np.prod(r["shape"]) // np.prod(r["got"]))
            # Every one of the 8 devices holds exactly its share.
            assert r["devices"] == 8, where
            assert r["device_bytes"] == [r["bytes"] // split] * 8, where
            if len(r["shape"]) == 1:
                assert split == 1, where  # norms stay whole
            elif r["shape"][0] == 1 and "attention" in r["path"]:
                # Gemma 3's one KV head: only `batch` splits its kernel.
                assert split == batch, where
            else:
                assert split == 8, where
        for kind in ("weight", "optimizer"):
            part = [r for r in rows if r["kind"] == kind]
            total = sum(r["bytes"] for r in part)
            # What the layout splits fewer than 8 ways: the norms and
            # Gemma 3's single KV head.
            kept = sum(
                r["bytes"]
                for r in part
                if np.prod(r["shape"]) // np.prod(r["got"]) < 8
            )
            per_device = sum(r["device_bytes"][0] for r in part)
            assert total / 8 <= per_device <= total / 8 + kept
            assert per_device < total / 6, (family, mesh, kind)


@pytest.mark.slow
@pytestmark_jax
def test_training_on_meshes_matches_one_device(mesh_runs):
    for family, mesh, single, run in _runs(mesh_runs):
        for objective in ("generation", "margin"):
            np.testing.assert_allclose(
                run["train"][objective],
                single["train"][objective],
                rtol=1e-5,
                err_msg=f"{family} {mesh} {objective}",
            )
        # The losses fell: training did something to compare.
        assert (
            single["train"]["generation"][-1]
            < (single["train"]["generation"][0])
        )
        # AdamW turns float noise in a near-zero gradient into a step of
        # about the learning rate (1e-3): a tenth of it is the tolerance.
        for got, want in zip(run["weights"], single["weights"]):
            np.testing.assert_allclose(
                got, want, rtol=1e-4, atol=1e-4, err_msg=f"{family} {mesh}"
            )


@pytest.mark.slow
@pytestmark_jax
def test_sampling_on_meshes_gives_the_samples_of_one_device(mesh_runs):
    for family, mesh, single, run in _runs(mesh_runs):
        assert run["sample"]["tokens"] == single["sample"]["tokens"], (
            family,
            mesh,
        )
        # Rows over `batch` (2 on 2x4), every prompt prefilled once.
        assert run["sample"]["data_parallel"] == int(mesh[6])
        assert run["sample"]["prefills"] == single["sample"]["prefills"] == 3
        texts = [t for group in single["sample"]["tokens"] for t in group]
        assert len(set(texts)) > 1


@pytest.mark.slow
@pytestmark_jax
def test_kv_cache_splits_heads_or_head_dimension_over_model(mesh_runs):
    gemma3, llama3 = mesh_runs["gemma3"], mesh_runs["llama3"]
    # Gemma 3 here has one KV head: the head dimension splits.
    assert gemma3["batch:2,model:4"]["cache"] == [
        ["batch", None, None, "model"]
    ]
    assert gemma3["batch:1,model:8"]["cache"] == [[None, None, None, "model"]]
    # Llama 3: four KV heads split over 4; over 8 neither they nor the
    # head dimension (4) split, so `model` keeps the whole cache.
    assert llama3["batch:2,model:4"]["cache"] == [
        ["batch", None, None, None, "model", None]
    ]
    assert llama3["batch:1,model:8"]["cache"] == [[None] * 6]


@pytest.mark.slow
@pytestmark_jax
def test_scores_on_meshes_equal_one_device(mesh_runs):
    for family, mesh, single, run in _runs(mesh_runs):
        assert 0 < min(single["scores"]) and max(single["scores"]) < 1
        assert len(set(single["scores"])) > 1
        np.testing.assert_allclose(
            run["scores"], single["scores"], rtol=1e-5, atol=1e-6
        )
