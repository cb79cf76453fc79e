"""The counter-based random stream behind every sampled token.

A sample's noise is a hash of (seed, problem key, sample index, position,
token id), so a sample depends on those numbers only: never on the chunk,
the slot, the schedule or the process that drew it.
"""

import numpy as np
from keras import ops

# Constants of the lowbias32 integer hash (by C. Wellons).
_GOLDEN = 0x9E3779B9
_MIX1 = 0x7FEB352D
_MIX2 = 0x846CA68B


def _mix(x):
    """lowbias32 on uint32 tensors (wrapping arithmetic)."""
    x = ops.bitwise_xor(x, ops.right_shift(x, 16))
    x = ops.multiply(x, ops.convert_to_tensor(np.uint32(_MIX1)))
    x = ops.bitwise_xor(x, ops.right_shift(x, 15))
    x = ops.multiply(x, ops.convert_to_tensor(np.uint32(_MIX2)))
    return ops.bitwise_xor(x, ops.right_shift(x, 16))


def _mix_np(x):
    x = np.asarray(x, dtype=np.uint32)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(_MIX1)
        x = x ^ (x >> np.uint32(15))
        x = x * np.uint32(_MIX2)
        return x ^ (x >> np.uint32(16))


def row_keys(seed, problem_keys, sample_indices):
    """Per-row random keys from (seed, problem key, sample index).

    Args:
        seed: int.
        problem_keys: uint32-convertible sequence, one per row.
        sample_indices: int sequence, one per row.

    Returns:
        uint32 numpy array, one key per row.

    Example:

    >>> row_keys(0, [7, 7], [0, 1]).dtype
    dtype('uint32')
    """
    with np.errstate(over="ignore"):
        k = _mix_np(np.uint32(seed & 0xFFFFFFFF) + np.uint32(_GOLDEN))
        k = _mix_np(k ^ np.asarray(problem_keys, dtype=np.uint32))
        k = _mix_np(k ^ (np.asarray(sample_indices, np.uint32) + _GOLDEN))
    return k


def gumbel_noise(keys, positions, token_ids):
    """float32 Gumbel noise of each row's tokens at each row's position.

    Args:
        keys: uint32 `[R]`, from `row_keys`.
        positions: int `[R]`, the sequence position being drawn.
        token_ids: int `[W]` (the same tokens for every row) or `[R, W]`.

    Returns:
        float32 `[R, W]`; entry `(r, j)` depends only on `keys[r]`,
        `positions[r]` and `token_ids[..., j]`.
    """
    step = ops.multiply(
        ops.cast(positions, "uint32"),
        ops.convert_to_tensor(np.uint32(_GOLDEN)),
    )
    row = _mix(ops.add(ops.cast(keys, "uint32"), step))
    col = _mix(ops.cast(ops.add(token_ids, 1), "uint32"))
    if len(col.shape) == 1:
        col = col[None, :]
    bits = _mix(ops.bitwise_xor(row[:, None], col))
    u = (ops.cast(ops.right_shift(bits, 8), "float32") + 0.5) * (2.0**-24)
    return -ops.log(-ops.log(u))
