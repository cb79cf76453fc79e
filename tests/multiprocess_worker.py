"""One worker of a multi-process run (started by `local_cluster.run_cluster`).

Usage: python multiprocess_worker.py MODE WORKDIR
  MODE = jax  `keras.distribution.initialize` (JAX's distributed runtime,
              coordinator `MP_COORDINATOR`), `DataParallel` over the global
              device mesh, then (a) a training step and (b) sampling into
              one store, which worker 0 merges into `WORKDIR/merged`;
         tf   `tf.distribute.MultiWorkerMirroredStrategy` from `TF_CONFIG`,
              then (a).
WORKDIR holds `model.weights.h5` and `batch.npz`
(`models/backend_worker.write_inputs`). Each worker prints
`RESULT {"losses": ..., ...}`; worker 0 saves the trained weights to
`WORKDIR/weights-<MODE>.npz`.
"""

import json
import os
import sys
import time

import numpy as np

STARTED = time.perf_counter()

GLOBAL_BATCH = 4
STEPS = 2
PROBLEMS = [f"What is {i} + {i + 1}?" for i in range(5)]
SAMPLING = dict(num_samples=2, max_new_tokens=6, seed=3)


def local_rows(data, process_id, num_processes):
    """This process's contiguous share of every array in `data`."""
    import keras

    per = GLOBAL_BATCH // num_processes
    rows = slice(process_id * per, (process_id + 1) * per)
    return keras.tree.map_structure(lambda a: a[rows], data)


def train(model, workdir, process_id=0, num_processes=1, mask="bool"):
    """Trains the generation objective from the saved weights.

    `process_id` of `num_processes` picks the rows this process feeds
    (JAX: per-process data); TF's strategies take the global batch on every
    worker and shard it themselves, so they train with the defaults.

    Returns the loss of each step on the global batch, which every
    process reports alike.
    """
    import keras
    from models.backend_worker import _data

    model.load_weights(os.path.join(workdir, "model.weights.h5"))
    gen, _ = _data(workdir, mask)
    x, y, w = local_rows(gen, process_id, num_processes)
    model.compile(keras.optimizers.SGD(0.1), objective="generation")
    return model.fit(
        x,
        y,
        sample_weight=w,
        epochs=STEPS,
        batch_size=GLOBAL_BATCH // num_processes,
        verbose=0,
    ).history["loss"]


def weights(model):
    """The model's weights as host arrays (replicated: any copy will do)."""
    from keras import ops

    values = []
    for v in model.weights:
        value = v.value
        if hasattr(value, "addressable_data"):  # a global jax.Array
            value = value.addressable_data(0)
        values.append(np.asarray(ops.convert_to_numpy(value)))
    return values


_SAMPLING_MODEL = None


def sample(directory, **kwargs):
    """Samples `PROBLEMS` with a tiny GPT-2 into the store at `directory`."""
    from sampling.conftest import tiny_gpt2

    from keras_mathft.models import MathSolver
    from keras_mathft.sampling import SamplingConfig
    from keras_mathft.sampling import sample_to_store

    global _SAMPLING_MODEL
    # A MathSolver keeps its sampler, so every shard reuses one compile.
    if _SAMPLING_MODEL is None:
        _SAMPLING_MODEL = MathSolver(tiny_gpt2())
    store = sample_to_store(
        _SAMPLING_MODEL,
        PROBLEMS,
        directory,
        SamplingConfig(**SAMPLING),
        problems_per_shard=2,
        verbose=False,
        **kwargs,
    )
    store.close()
    return store


def run_jax(workdir, process_id, num_processes):
    import keras
    from jax.experimental import multihost_utils
    from models.backend_worker import build

    from keras_mathft.sampling import merge_stores

    keras.distribution.initialize(
        os.environ["MP_COORDINATOR"], num_processes, process_id
    )
    devices = keras.distribution.list_devices()
    # Each process feeds its own rows (numpy, not a tf.data pipeline).
    distribution = keras.distribution.DataParallel(
        devices=devices, auto_shard_dataset=False
    )
    keras.distribution.set_distribution(distribution)
    seconds = {"start": time.perf_counter() - STARTED}
    model = build()
    result = {"losses": train(model, workdir, process_id, num_processes)}
    result["devices"] = len(devices)
    seconds["train"] = time.perf_counter() - STARTED
    # (b): process index and count come from JAX; no arguments.
    store = sample(os.path.join(workdir, "store"))
    seconds["sample"] = time.perf_counter() - STARTED
    multihost_utils.sync_global_devices("sampled")
    if process_id == 0:
        merge_stores([store.directory], os.path.join(workdir, "merged"))
        # The reference: this process alone samples every problem (its
        # compiled sampler is reused, so this costs no compilation).
        one = os.path.join(workdir, "one")
        sample(one, process_index=0, num_processes=1)
    result["seconds"] = seconds
    return model, result


def run_tf(workdir, process_id, num_processes):
    import tensorflow as tf
    from models.backend_worker import build

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = build()
    model._maybe_symbolic_build = _local_symbolic_build(model, strategy)
    strategy.reduce = _scalar_safe_reduce(strategy)
    # tf.distribute has no bool AddN kernel (see backend_worker).
    result = {"losses": train(model, workdir, mask="int32")}
    result["devices"] = strategy.num_replicas_in_sync
    return model, result


def _local_symbolic_build(model, strategy):
    """Keras' pre-`fit` build, from this worker's part of the first batch.

    Keras 3.15 builds a model created under a strategy from the first
    batch averaged across replicas (`strategy.reduce("MEAN", batch)`),
    which `MultiWorkerMirroredStrategy` refuses for a dict of inputs
    (keras-team/keras#20329, open); the build needs shapes only, so this
    worker's own values do.
    """
    import keras

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0],
                    next(it),
                )
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    return build


def _scalar_safe_reduce(strategy):
    """`strategy.reduce` that takes `axis=0` of a scalar as no axis.

    Keras 3.15 averages each metric across workers with
    `strategy.reduce("MEAN", value, axis=0)`, which fails for scalar
    results under `MultiWorkerMirroredStrategy` (tensorflow/tensorflow
    #72388); across replicas only is what it means.
    """
    reduce = strategy.reduce

    def reduce_scalars_too(reduce_op, value, axis):
        local = strategy.experimental_local_results(value)
        if axis is not None and all(v.shape.rank == 0 for v in local):
            axis = None
        return reduce(reduce_op, value, axis)

    return reduce_scalars_too


def main(mode, workdir):
    process_id = int(os.environ["MP_PROCESS_ID"])
    num_processes = int(os.environ["MP_NUM_PROCESSES"])
    run = {"jax": run_jax, "tf": run_tf}[mode]
    model, result = run(workdir, process_id, num_processes)
    if process_id == 0:
        path = os.path.join(workdir, f"weights-{mode}.npz")
        np.savez(path, *weights(model))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
