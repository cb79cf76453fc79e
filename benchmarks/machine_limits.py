"""The machine's own limits and a model's decode cost, for the benchmarks.

`measure_limits()` times a large float32 matmul (dense FLOP/s peak) and a
large reduction (memory read bandwidth) with the active Keras backend, in
the process that reports the figures. `decode_cost(backbone, ...)` counts a
decoder's FLOPs per generated token and the bytes one decode step must
read (weights once, plus each row's KV cache over the attended window).
"""

import time

import keras
import numpy as np
from keras import ops

from keras_mathft.models.compiled import compile_inference_function


def _best_seconds(fn, args, repeats):
    ops.convert_to_numpy(fn(*args))  # compile and warm up
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        ops.convert_to_numpy(fn(*args))
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    return best


def measure_limits(matmul_size=2048, read_mb=1024, repeats=5):
    """Dense matmul FLOP/s and memory read bytes/s of this machine.

    Args:
        matmul_size: int, n of the n x n x n float32 matmul.
        read_mb: int, size of the float32 array summed for bandwidth.
        repeats: int, best of this many timings.

    Returns:
        dict with `matmul_flops_per_s` and `read_bytes_per_s`.
    """
    owner = keras.layers.Identity()
    n = matmul_size
    # On the device before timing: host transfers are not the machine's
    # compute or memory speed.
    a = np.random.default_rng(0).standard_normal((n, n)).astype("float32")
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(a / n)
    # Four chained products amortize the call overhead.
    chain = compile_inference_function(
        owner,
        lambda x, y: ops.sum(
            ops.matmul(ops.matmul(ops.matmul(ops.matmul(x, y), y), y), y)
        ),
        True,
    )
    seconds = _best_seconds(chain, (a, b), repeats)
    flops = 4 * 2 * n**3 / seconds
    count = read_mb * 2**20 // 4
    big = ops.ones((count // 1024, 1024), "float32")
    # Row sums: a parallel reduction that streams the array once.
    total = compile_inference_function(
        owner, lambda x: ops.sum(x, axis=1), True
    )
    seconds = _best_seconds(total, (big,), repeats)
    return {
        "matmul_flops_per_s": flops,
        "read_bytes_per_s": count * 4 / seconds,
        "matmul_size": n,
        "read_mb": read_mb,
    }


def _attention_shape(backbone):
    heads = getattr(backbone, "num_query_heads", None) or getattr(
        backbone, "num_heads"
    )
    head_dim = getattr(backbone, "head_dim", None) or (
        backbone.hidden_dim // heads
    )
    return heads, head_dim


def decode_cost(backbone, context, cache_bytes_per_position):
    """FLOPs per generated token and bytes read per decode step.

    Args:
        backbone: a keras-hub decoder backbone.
        context: float, mean number of positions a token attends to.
        cache_bytes_per_position: int, KV bytes of one row and position.

    Returns:
        dict: `flops_per_token` (2 x matmul weights of the layers, the
        output projection to the vocabulary, and attention over `context`
        positions), `weight_bytes` (read once per step whatever the rows)
        and `cache_bytes_per_position`.
    """
    layers = sum(layer.count_params() for layer in backbone.transformer_layers)
    vocab, hidden = backbone.vocabulary_size, backbone.hidden_dim
    heads, head_dim = _attention_shape(backbone)
    attention = 4 * backbone.num_layers * heads * head_dim * context
    itemsize = np.dtype(
        keras.backend.standardize_dtype(
            backbone.token_embedding.embeddings.dtype
        )
    ).itemsize
    return {
        "flops_per_token": 2 * layers + 2 * vocab * hidden + attention,
        "weight_bytes": (layers + vocab * hidden) * itemsize,
        "cache_bytes_per_position": cache_bytes_per_position,
    }


def bandwidth_bound_tokens_per_s(cost, rows, attended, read_bytes_per_s):
    """Most tokens/s a memory-bound decode of `rows` rows can reach.

    Each step reads the weights once and every row's cache over `attended`
    positions (the window the kernels read, masked or not).
    """
    step_bytes = (
        cost["weight_bytes"]
        + rows * attended * (cost["cache_bytes_per_position"])
    )
    return rows * read_bytes_per_s / step_bytes
