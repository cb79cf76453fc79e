"""Choosing each row's next token: greedy, sampling, top-k and exact top-p.

Sampling is Gumbel-max over `logits / temperature` with the noise of
`random_stream.gumbel_noise`, indexed by token id, so the filters only
decide which tokens may win and the same noise serves every filter.

Nothing here sorts the vocabulary. With a 262,144-token vocabulary a full
sort per step costs far more than the model (tens of seconds per step at
64 rows on a CPU). Top-p is exact nucleus sampling (the smallest prefix of
the tokens ordered by logit, ties by lower id, whose probability reaches
`top_p`) computed from an exact top-`prefilter` selection; rows whose
nucleus is larger than that fall back to an exact search over the whole
vocabulary that needs no sort either. Which path a row takes depends on
its own logits only, so the token never depends on the other rows. The
fallback runs on those rows alone, gathered `FALLBACK_ROWS` at a time: a
batch of 64 rows with one broad row pays for 8 rows, not 64.
"""

import numpy as np
from keras import ops

from keras_mathft.models.compiled import materialize
from keras_mathft.sampling.random_stream import gumbel_noise

# Width of the blocks that the selections below reduce first: one pass over
# the vocabulary, then work on a few blocks.
BLOCK = 256
# Rows of one round of the whole-vocabulary top-p fallback.
FALLBACK_ROWS = 8
MODES = ("greedy", "sample", "top_k", "top_k_top_p", "top_p")


def decoding_mode(temperature, top_p, top_k):
    """The `MODES` entry for these settings (part of compiled shapes)."""
    if temperature == 0:
        return "greedy"
    if top_k is not None:
        return "top_k_top_p" if top_p < 1 else "top_k"
    return "top_p" if top_p < 1 else "sample"


def _blocks(x, block):
    """`[R, V]` as `[R, ceil(V / block), block]`, padded with -inf."""
    width = x.shape[-1]
    num_blocks = -(-width // block)
    pad = num_blocks * block - width
    if pad:
        x = ops.pad(x, [[0, 0], [0, pad]], constant_values=-np.inf)
    return ops.reshape(x, (-1, num_blocks, block))


def _take_rows(x, index):
    """`x[r, index[r]]` for `[R, W]` x and `[R]` index."""
    return ops.take_along_axis(x, ops.expand_dims(index, 1), axis=1)[:, 0]


def exclusive_cumsum(x):
    """Sums of the entries before each one along the last axis.

    Doubling steps of shifted adds: exact float32 on every backend and
    device (XLA's CPU cumsum is a slow reduce-window; a triangular matmul
    would run at reduced precision on accelerators).

    Args:
        x: float `[R, K]` with a static K.

    Returns:
        float `[R, K]`.
    """
    total, shift = x, 1
    while shift < x.shape[-1]:
        total = total + ops.pad(total[:, :-shift], [[0, 0], [shift, 0]])
        shift *= 2
    return total - x


def first_argmax(x, block=BLOCK):
    """Index of the largest entry of each row, the lowest on ties.

    Reduces blocks of `block` entries first, which is one vectorized pass
    (XLA's CPU argmax over a long row is several times slower than a max).

    Args:
        x: float `[R, V]`.
        block: int.

    Returns:
        int32 `[R]`.
    """
    width = x.shape[-1]
    if width <= 4 * block:
        return ops.cast(ops.argmax(x, axis=-1), "int32")
    blocks = _blocks(x, block)
    best = ops.cast(ops.argmax(ops.max(blocks, axis=-1), axis=-1), "int32")
    index = ops.broadcast_to(best[:, None, None], (ops.shape(x)[0], 1, block))
    inside = ops.take_along_axis(blocks, index, axis=1)[:, 0]
    return best * block + ops.cast(ops.argmax(inside, axis=-1), "int32")


def top_k_exact(x, k, block=BLOCK):
    """`ops.top_k` (sorted, ties by lower index) without a full sort.

    The k largest entries lie in the k blocks with the largest maxima
    (ties by lower block index): every other block's entries follow k
    entries of those blocks. So one max per block, a top-k over the block
    maxima and a top-k over the k chosen blocks give the exact result.

    Args:
        x: float `[R, V]`.
        k: int, at most V.
        block: int.

    Returns:
        `(values, indices)`, float `[R, k]` and int32 `[R, k]`.
    """
    width = x.shape[-1]
    num_blocks = -(-width // block)
    if num_blocks <= 4 * k:
        values, indices = materialize(ops.top_k(x, k))
        return values, ops.cast(indices, "int32")
    blocks = _blocks(x, block)
    _, chosen = ops.top_k(ops.max(blocks, axis=-1), k)
    # Back to block order, so ties keep preferring the lower index.
    chosen = ops.sort(ops.cast(chosen, "int32"), axis=-1)
    rows = ops.shape(x)[0]
    picked = ops.take_along_axis(
        blocks, ops.broadcast_to(chosen[:, :, None], (rows, k, block)), axis=1
    )
    ids = chosen[:, :, None] * block + ops.arange(block, dtype="int32")
    values, where = materialize(
        ops.top_k(ops.reshape(picked, (-1, k * block)), k)
    )
    ids = ops.take_along_axis(ops.reshape(ids, (-1, k * block)), where, axis=1)
    return values, ids


def choose_tokens(
    logits,
    keys,
    positions,
    *,
    mode,
    temperature,
    top_p,
    top_k=None,
    prefilter=128,
):
    """The next token of every row.

    Args:
        logits: float `[R, V]`.
        keys: uint32 `[R]` row keys (`random_stream.row_keys`).
        positions: int32 `[R]`, the position each row is drawing.
        mode: one of `MODES` (`decoding_mode`).
        temperature: float32 scalar tensor (> 0 unless greedy).
        top_p: float32 scalar tensor in (0, 1].
        top_k: optional int (static).
        prefilter: int (static). Top-p looks for each row's nucleus among
            this many most likely tokens first.

    Returns:
        int32 `[R]`.
    """
    logits = ops.cast(logits, "float32")
    # -0.0 sorts below 0.0 in top-k but equals it in comparisons; one zero
    # keeps the two orders the same.
    logits = ops.where(logits == 0, 0.0, logits)
    if mode == "greedy":
        return first_argmax(logits)
    z = logits / temperature
    width = z.shape[-1]
    if mode == "sample":
        ids = ops.arange(width, dtype="int32")
        return first_argmax(z + gumbel_noise(keys, positions, ids))
    if mode in ("top_k", "top_k_top_p"):
        values, ids = top_k_exact(z, min(top_k, width))
        if mode == "top_k_top_p" and values.shape[-1] > 1:
            # The nucleus of the top-k distribution (renormalized).
            probs = ops.softmax(values, axis=-1)
            before = exclusive_cumsum(probs)
            values = ops.where(before < top_p, values, -np.inf)
        noisy = values + gumbel_noise(keys, positions, ids)
        return _take_rows(ids, first_argmax(noisy))
    return _nucleus(z, keys, positions, top_p, min(prefilter, width))


def _nucleus(z, keys, positions, top_p, prefilter):
    values, ids = top_k_exact(z, prefilter)
    log_norm = values[:, :1] + ops.log(
        ops.sum(ops.exp(z - values[:, :1]), axis=-1, keepdims=True)
    )
    probs = ops.exp(values - log_norm)
    before = exclusive_cumsum(probs)
    # The nucleus ends inside the prefilter when its tokens reach top_p.
    covered = before[:, -1] + probs[:, -1] >= top_p
    noisy = ops.where(
        before < top_p, values + gumbel_noise(keys, positions, ids), -np.inf
    )
    fast = _take_rows(ids, first_argmax(noisy))
    rows = z.shape[0]
    if rows is None or rows <= FALLBACK_ROWS:
        full = ops.cond(
            ops.all(covered),
            lambda: fast,
            lambda: _nucleus_full(z, log_norm, keys, positions, top_p),
        )
        return ops.where(covered, fast, full)

    def body(tokens, done):
        # The first uncovered rows (top-k ranks them first, ties by lower
        # index); already done rows fill a round that has too few, and
        # write their own token back.
        _, picked = ops.top_k(
            ops.cast(ops.logical_not(done), "int32"), FALLBACK_ROWS
        )
        picked = ops.cast(picked, "int32")
        chosen = _nucleus_full(
            ops.take(z, picked, axis=0),
            ops.take(log_norm, picked, axis=0),
            ops.take(keys, picked, axis=0),
            ops.take(positions, picked, axis=0),
            top_p,
        )
        chosen = ops.where(
            ops.take(done, picked), ops.take(tokens, picked), chosen
        )
        index = picked[:, None]
        tokens = ops.scatter_update(tokens, index, chosen)
        done = ops.scatter_update(done, index, ops.ones_like(picked, "bool"))
        return tokens, done

    tokens, _ = ops.while_loop(
        lambda tokens, done: ops.logical_not(ops.all(done)),
        body,
        (fast, covered),
    )
    return tokens


def _nucleus_full(z, log_norm, keys, positions, top_p):
    """Exact nucleus sampling over the whole vocabulary, without sorting.

    Gumbel-max over all tokens gives a candidate; if it lies outside the
    nucleus, so does every token after it in logit order, and the next
    candidate is the Gumbel-max of the tokens before it. The first candidate
    inside the nucleus is the Gumbel-max over the nucleus. A candidate falls
    outside with probability at most `1 - top_p`, so this takes one or two
    rounds of a few passes over the vocabulary.
    """
    width = z.shape[-1]
    ids = ops.arange(width, dtype="int32")[None, :]
    score = z + gumbel_noise(keys, positions, ids[0])
    probs = ops.exp(z - log_norm)

    def inside(cand):
        # Mass of the tokens before `cand` in (logit desc, id asc) order.
        level = _take_rows(z, cand)[:, None]
        above = ops.sum(ops.where(z > level, probs, 0.0), axis=-1)
        tied = ops.logical_and(z == level, ids < cand[:, None])
        tied = ops.sum(ops.cast(tied, "float32"), axis=-1)
        return above + tied * _take_rows(probs, cand) < top_p

    def body(cand, open_rows):
        level = _take_rows(z, cand)[:, None]
        before = ops.logical_or(
            z > level, ops.logical_and(z == level, ids < cand[:, None])
        )
        nxt = first_argmax(ops.where(before, score, -np.inf))
        nxt = ops.where(open_rows, nxt, cand)
        return nxt, ops.logical_and(open_rows, ops.logical_not(inside(nxt)))

    cand = first_argmax(score)
    cand, _ = ops.while_loop(
        lambda cand, open_rows: ops.any(open_rows),
        body,
        (cand, ops.logical_not(inside(cand))),
    )
    return cand
