"""Runs in a subprocess: losses of a tiny MathSolver on another backend or
under a distribution. Prints one JSON line of results.

Usage: python backend_worker.py MODE WORKDIR
  MODE = losses | jax_distributed | tf_distributed
WORKDIR holds `model.weights.h5` and `batch.npz` written by `write_inputs`.
"""

import json
import os
import sys

import numpy as np


def build(label_token_ids=((5,), (6,))):
    """A tiny Gemma MathSolver without preprocessor (arrays only)."""
    import keras
    import keras_hub

    from keras_mathft.models import MathSolver

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GemmaBackbone(
        vocabulary_size=64,
        num_layers=2,
        num_query_heads=2,
        num_key_value_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        head_dim=8,
    )
    lm = keras_hub.models.GemmaCausalLM(backbone, preprocessor=None)
    return MathSolver(lm, label_token_ids=label_token_ids)


def write_inputs(workdir, batch=4, length=16):
    """Saves weights and deterministic generation + pair batches."""
    model = build()
    model.save_weights(os.path.join(workdir, "model.weights.h5"))
    rng = np.random.RandomState(0)
    ids = rng.randint(4, 40, size=(batch, length)).astype("int32")
    weight = np.zeros((batch, length), "float32")
    weight[:, length // 2 :] = 1.0
    pair_ids = rng.randint(4, 40, size=(batch, 2, length)).astype("int32")
    pair_mask = np.ones((batch, 2, length), bool)
    pair_mask[:, :, -3:] = False
    np.savez(
        os.path.join(workdir, "batch.npz"),
        ids=ids,
        y=np.roll(ids, -1, axis=1),
        weight=weight,
        pair_ids=pair_ids,
        pair_mask=pair_mask,
    )
    return model


def _data(workdir, mask="bool"):
    b = np.load(os.path.join(workdir, "batch.npz"))
    gen = (
        {"token_ids": b["ids"], "padding_mask": np.ones_like(b["ids"], mask)},
        b["y"],
        b["weight"],
    )
    pairs = {
        "token_ids": b["pair_ids"],
        "padding_mask": b["pair_mask"].astype(mask),
    }
    return gen, pairs


def batch_loss(model, x, y=None, sample_weight=None):
    """The compiled objective's loss on one batch, as a Python float."""
    from keras import ops

    loss = model.compute_loss(x, y, model(x), sample_weight, training=False)
    return float(ops.convert_to_numpy(loss))


def losses(model, workdir):
    """Generation and margin losses of the saved weights on the batch."""
    model.load_weights(os.path.join(workdir, "model.weights.h5"))
    gen, pairs = _data(workdir)
    model.compile(objective="generation")
    out = {"generation": batch_loss(model, *gen)}
    model.compile(objective="evaluation", evaluator_loss="margin")
    out["margin"] = batch_loss(model, pairs)
    return out


def fit_losses(model, workdir, steps=2, mask="bool"):
    """Per-step training losses of both objectives from the saved weights."""
    import keras

    model.load_weights(os.path.join(workdir, "model.weights.h5"))
    gen, pairs = _data(workdir, mask)
    out = {}
    model.compile(keras.optimizers.SGD(0.1), objective="generation")
    x, y, w = gen
    out["generation"] = model.fit(
        x, y, sample_weight=w, epochs=steps, batch_size=4, verbose=0
    ).history["loss"]
    model.compile(
        keras.optimizers.SGD(0.1),
        objective="evaluation",
        evaluator_loss="margin",
    )
    out["margin"] = model.fit(
        pairs, epochs=steps, batch_size=4, verbose=0
    ).history["loss"]
    return out


def main(mode, workdir):
    if mode == "losses":
        result = losses(build(), workdir)
    elif mode == "jax_distributed":
        import keras

        result = {"single": fit_losses(build(), workdir)}
        devices = keras.distribution.list_devices("cpu")
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices)
        )
        result["data_parallel"] = fit_losses(build(), workdir)
        mesh = keras.distribution.DeviceMesh(
            (2, 2), ["batch", "model"], devices
        )
        import keras_hub

        layout_map = keras_hub.models.GemmaBackbone.get_layout_map(mesh)
        keras.distribution.set_distribution(
            keras.distribution.ModelParallel(
                layout_map=layout_map, batch_dim_name="batch"
            )
        )
        result["model_parallel"] = fit_losses(build(), workdir)
        result["devices"] = len(devices)
    elif mode == "tf_distributed":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 4
        )
        # tf.distribute has no bool AddN kernel: keras' MirroredStrategy
        # step fails on bool masks, so this path feeds int32 masks.
        result = {"single": fit_losses(build(), workdir, mask="int32")}
        strategy = tf.distribute.MirroredStrategy(
            [f"/cpu:{i}" for i in range(4)]
        )
        with strategy.scope():
            model = build()
        result["mirrored"] = fit_losses(model, workdir, mask="int32")
        result["devices"] = strategy.num_replicas_in_sync
    else:
        raise ValueError(f"Unknown mode. Received: {mode!r}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
