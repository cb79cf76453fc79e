"""Child process: tiny models on 1 device and on 2x4 and 1x8 meshes.

Usage: python mesh_child.py WORKDIR FAMILY...

JAX with 8 virtual CPU devices (`XLA_FLAGS` is set here, before JAX
starts). For each family, one model's weights are saved, then, on one
device and under `models.model_parallel` on each mesh: the sampler draws
with continuous batching, the scorer scores, and AdamW trains a few
steps of SSFT and of the margin evaluator. Under each mesh it also
records how every weight and optimizer variable is laid out. Prints one
`RESULT` line of JSON for `test_sharding.py` to judge.
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))

import keras_hub  # noqa: E402
from conftest import BPE_SPECIALS  # noqa: E402
from conftest import _bytes_to_unicode  # noqa: E402
from conftest import generation_batch  # noqa: E402

from keras_mathft.data import embedded_tokenizer_proto  # noqa: E402
from keras_mathft.models import MathSolver  # noqa: E402
from keras_mathft.models import build_causal_lm  # noqa: E402
from keras_mathft.models import sharding  # noqa: E402
from keras_mathft.sampling import SamplingConfig  # noqa: E402
from keras_mathft.sampling import SolutionSampler  # noqa: E402

MESHES = ("batch:2,model:4", "batch:1,model:8")
# Heads, widths and vocabularies that 4 and 8 divide; one KV head in
# Gemma 3 (its cache splits by head dimension), four in Llama 3 (by heads
# on 2x4; whole over `model` on 1x8, where its head dimension is 4).
KV_HEADS = {"gemma3": 1, "llama3": 4}
# AdamW's step is about the learning rate wherever a gradient is nonzero,
# even one that is float noise: the weights' tolerance is a tenth of it.
LEARNING_RATE = 1e-3
PROBLEMS = ["What is 1 + 1 ?", "what is the sum of 3 and 4 ?", "2 + 3 ?"]
SOLUTIONS = ["1 + 1 = 2 .", "it is 7 .", "5", "The answer is 2 ."]


def tokenizer(family):
    if family == "gemma3":
        return embedded_tokenizer_proto()  # 512 pieces
    merges = ["Ġ t", "Ġ a", "Ġ s", "Ġ i"]
    vocab = {}
    for token in BPE_SPECIALS + _bytes_to_unicode() + merges:
        vocab.setdefault(token.replace(" ", ""), len(vocab))
    while len(vocab) % 8:
        vocab[f"<unused_{len(vocab)}>"] = len(vocab)
    return keras_hub.models.Llama3Tokenizer(vocabulary=vocab, merges=merges)


def build(family):
    keras.utils.set_random_seed(0)
    lm = build_causal_lm(
        family,
        tokenizer(family),
        num_layers=2,
        hidden_dim=32,
        num_heads=8,
        num_key_value_heads=KV_HEADS[family],
        head_dim=8,
        intermediate_dim=64,
        sequence_length=48,
    )
    return MathSolver(lm)


def sample(solver):
    config = SamplingConfig(
        max_rows_per_chunk=8,
        block_steps=4,
        stop_token_ids=None,
        num_samples=4,
        max_new_tokens=10,
        seed=5,
    )
    sampler = SolutionSampler(solver, config)
    out, stats = sampler.sample(PROBLEMS, verbose=False)
    assert stats.schedule == "continuous"
    return {
        "tokens": [[s.text for s in group] for group in out],
        "data_parallel": stats.data_parallel,
        "prefills": stats.prefills,
    }


def score(solver):
    problems = [p for p in PROBLEMS for _ in SOLUTIONS]
    solutions = SOLUTIONS * len(PROBLEMS)
    scores = solver.score_solutions(
        problems, solutions, batch_size=8, sequence_length=48
    )
    return [float(s) for s in scores]


def train(solver):
    x, y, w = generation_batch(
        solver, (PROBLEMS * 3)[:8], (SOLUTIONS * 2)[:8], 24
    )
    out = {}
    solver.compile(
        keras.optimizers.AdamW(LEARNING_RATE), objective="generation"
    )
    out["generation"] = solver.fit(
        x,
        y,
        sample_weight=w,
        epochs=3,
        batch_size=8,
        shuffle=False,
        verbose=0,
    ).history["loss"]
    rng = np.random.RandomState(0)
    ids = rng.randint(4, 30, size=(8, 2, 16)).astype("int32")
    mask = np.ones((8, 2, 16), bool)
    mask[:, :, -3:] = False
    solver.compile(
        keras.optimizers.AdamW(LEARNING_RATE),
        objective="evaluation",
        evaluator_loss="margin",
    )
    out["margin"] = solver.fit(
        {"token_ids": ids, "padding_mask": mask},
        epochs=2,
        batch_size=8,
        shuffle=False,
        verbose=0,
    ).history["loss"]
    return out


def layouts(solver, mesh):
    """Per weight and optimizer variable: expected and real shard shapes."""
    expected = sharding.layout_map(solver, mesh)
    sizes = dict(zip(mesh.axis_names, mesh.shape))

    def shard_shape(shape, axes):
        out = []
        for dim, axis in zip(shape, axes):
            names = (axis,) if isinstance(axis, str) else axis or ()
            out.append(dim // int(np.prod([sizes[n] for n in names])))
        return out

    by_path = {}
    rows = []
    for v in solver.causal_lm.backbone.weights:
        want = shard_shape(v.shape, expected[v.path].axes)
        by_path[v.path.replace("/", "_")] = want
        rows.append(_row(v, want, "weight"))
    for v in solver.optimizer.variables:
        name = v.path.split("/", 1)[1]
        owners = [p for p in by_path if name.startswith(p + "_")]
        if not owners:
            continue  # iterations, learning rate
        want = by_path[max(owners, key=len)]
        rows.append(_row(v, want, "optimizer"))
    return rows


def _row(v, want, kind):
    value = v.value
    shards = value.addressable_shards
    return {
        "path": v.path,
        "kind": kind,
        "shape": list(v.shape),
        "want": want,
        "got": list(value.sharding.shard_shape(value.shape)),
        "devices": len({s.device for s in shards}),
        "bytes": int(value.nbytes),
        "device_bytes": [int(s.data.nbytes) for s in shards],
    }


def cache_axes(solver, mesh_text):
    sampler = SolutionSampler(solver)
    layout = sampler.programs.layout
    cache = sharding.distribute_cache(layout, layout.zeros(8, 16))
    return [
        [str(a) if a else None for a in leaf.sharding.spec]
        for leaf in keras.tree.flatten(cache)
    ][:1]


def main(workdir, *family_names):
    result = {"devices": len(keras.distribution.list_devices())}
    for family in family_names:
        path = os.path.join(workdir, f"{family}.weights.h5")
        solver = build(family)
        solver.save_weights(path)
        one = {"sample": sample(solver), "scores": score(solver)}
        one["train"] = train(solver)
        one["weights"] = [
            v.numpy().tolist() for v in solver.causal_lm.backbone.weights
        ]
        runs = {"single": one}
        for text in MESHES:
            mesh = sharding.device_mesh(text)
            distribution = sharding.model_parallel(family, mesh)
            with distribution.scope():
                solver = build(family)
                solver.load_weights(path)
                run = {"sample": sample(solver), "scores": score(solver)}
                run["cache"] = cache_axes(solver, text)
                run["train"] = train(solver)
                run["layouts"] = layouts(solver, mesh)
                run["weights"] = [
                    np.asarray(v.value).tolist()
                    for v in solver.causal_lm.backbone.weights
                ]
            runs[text] = run
        result[family] = runs
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
