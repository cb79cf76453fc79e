"""Two processes on localhost against one: JAX's distributed runtime and
TensorFlow's `MultiWorkerMirroredStrategy`.

Each backend starts one 2-process cluster (`local_cluster.run_cluster`:
free ports, one deadline, every worker killed on failure). Training is
compared with the same steps run here on the global batch; sampling with
worker 0 sampling every problem alone after the cluster's run, which
reuses its compiled sampler (`tests/sampling/test_store.py` shows that
data-parallel sampling draws the samples of plain sampling). JAX runs two
CPU devices per process, so the global mesh (4 devices) shards both within
a process and across processes, as on a TPU host with several chips.
"""

import json
import pathlib

import keras
import multiprocess_worker as worker
import numpy as np
import pytest
from local_cluster import free_ports
from local_cluster import run_cluster
from models.backend_worker import build
from models.backend_worker import write_inputs

from keras_mathft.sampling import SampleStore
from keras_mathft.sampling import shard_problems

WORKER = pathlib.Path(worker.__file__)
TIMEOUT = 180  # seconds for the whole cluster; measured well under that
BACKEND = keras.config.backend()


def assert_same_training(workdir, results, mode, mask):
    model = build()
    expected = worker.train(model, str(workdir), mask=mask)
    losses = [result["losses"] for result in results]
    assert [r["devices"] for r in results] == [{"jax": 4, "tf": 2}[mode]] * 2
    if mode == "tf":
        # Keras 3.15 logs each worker's own loss tracker under
        # MultiWorkerMirroredStrategy; the global loss is their mean.
        losses = [np.mean(losses, axis=0)]
    for loss in losses:
        assert len(loss) == worker.STEPS
        np.testing.assert_allclose(loss, expected, rtol=1e-5)
    got = np.load(workdir / f"weights-{mode}.npz")
    want = worker.weights(model)
    assert len(got.files) == len(want)
    for i, w in enumerate(want):
        np.testing.assert_allclose(got[f"arr_{i}"], w, atol=1e-6)


@pytest.fixture(scope="module")
def jax_cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("jax_cluster")
    write_inputs(str(workdir))
    (port,) = free_ports(1)
    env = {
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "MP_COORDINATOR": f"127.0.0.1:{port}",
    }
    args = [WORKER, "jax", workdir]
    results = run_cluster(args, 2, env=env, timeout=TIMEOUT)
    return workdir, results


jax_only = pytest.mark.skipif(
    BACKEND != "jax", reason="JAX's distributed runtime needs KERAS_BACKEND=jax"
)


@jax_only
def test_jax_two_processes_train_like_one(jax_cluster):
    workdir, results = jax_cluster
    assert_same_training(workdir, results, "jax", mask="bool")


@jax_only
def test_jax_two_processes_sample_like_one(jax_cluster):
    workdir, _ = jax_cluster
    shared = SampleStore(workdir / "store")
    # Each process wrote its own namespace, holding its share only.
    for index in (0, 1):
        mine = shard_problems(range(len(worker.PROBLEMS)), index, 2)
        ids = {
            json.loads(line)["problem_id"]
            for path in shared.shard_paths()
            if f"-p{index:03d}-" in path.name
            for line in path.read_text().splitlines()
        }
        assert ids == {str(i) for i in mine}
    expected = SampleStore(workdir / "one").load()
    merged = SampleStore(workdir / "merged").load()
    key = lambda s: (s.problem_id, s.sample_index)  # noqa: E731
    assert sorted(merged, key=key) == sorted(expected, key=key)
    assert len(expected) == len(worker.PROBLEMS) * 2


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="MultiWorkerMirroredStrategy needs KERAS_BACKEND=tensorflow",
)
def test_tf_two_workers_train_like_one(tmp_path):
    write_inputs(str(tmp_path))
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}

    def tf_config(i):
        task = {"type": "worker", "index": i}
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}

    env = {"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    results = run_cluster(
        [WORKER, "tf", tmp_path],
        2,
        env=env,
        per_process_env=tf_config,
        timeout=TIMEOUT,
    )
    assert_same_training(tmp_path, results, "tf", mask="int32")
