"""Length buckets: the few padded lengths compiled functions ever see.

The one rule: a bucket set is an ascending tuple of lengths ending at the
largest length allowed, and a length `n` is padded to the smallest bucket
that holds it (`bucket_length`; `assign_buckets` for many rows;
`geometric_bucket` when the set has no natural end). Fewer
buckets mean fewer compiled shapes, more buckets less padding. The sets
come from two builders:

- `linear_bucket_lengths(maximum, num_buckets, multiple)`: evenly spaced
  lengths, each rounded up to `multiple`. For training batches, whose
  maximum is the sequence length: a handful of shapes
  (`make_sft_dataset`). With `num_buckets=None`, every multiple up to the
  maximum (trims padding to the next multiple).
- `geometric_bucket_lengths(maximum, minimum, midpoints)`: powers of two
  from `minimum` (with `midpoints`, also 1.5 times each), capped at the
  maximum; padding stays under 100% (50% with midpoints) whatever the
  length, for prompt lengths and batch sizes of unknown spread (sampling,
  scoring). `cap=False` keeps the first geometric length at or above the
  maximum instead of the maximum itself.

Everything here is plain Python and NumPy, so any layer (data, models,
sampling) can use it.
"""

import numpy as np


def linear_bucket_lengths(maximum, num_buckets=4, multiple=8):
    """Evenly spaced bucket lengths up to `maximum`.

    Bucket `k` (1 to `num_buckets`) is `ceil(maximum * k / num_buckets)`
    rounded up to a multiple of `multiple`, at most `maximum`.

    Args:
        maximum: int >= 1, the last bucket.
        num_buckets: int >= 1, or `None` for every multiple of `multiple`
            below `maximum`, then `maximum`. Defaults to 4.
        multiple: int >= 1. Defaults to 8.

    Returns:
        An ascending tuple of int ending at `maximum`.

    Example:

    >>> linear_bucket_lengths(512)
    (128, 256, 384, 512)
    >>> linear_bucket_lengths(40, num_buckets=None, multiple=16)
    (16, 32, 40)
    """
    _check_positive(maximum=maximum, multiple=multiple)
    if num_buckets is None:
        return tuple(range(multiple, maximum, multiple)) + (maximum,)
    _check_positive(num_buckets=num_buckets)
    lengths = set()
    for k in range(1, num_buckets + 1):
        length = -(-maximum * k // num_buckets)
        length = -(-length // multiple) * multiple
        lengths.add(min(length, maximum))
    return tuple(sorted(lengths))


def geometric_bucket_lengths(maximum, minimum=8, midpoints=False, cap=True):
    """Bucket lengths growing by powers of two from `minimum`.

    Args:
        maximum: int >= 1, the largest length to hold.
        minimum: int >= 1, the first bucket. Defaults to 8.
        midpoints: bool. Also `1.5 * 2^k * minimum` between powers of two
            (8, 12, 16, 24, ... from 8). Defaults to `False`.
        cap: bool. `True` ends the set at `maximum` exactly; `False` ends
            it at the first geometric length `>= maximum`. Defaults to
            `True`.

    Returns:
        An ascending tuple of int.

    Example:

    >>> geometric_bucket_lengths(160, minimum=64)
    (64, 128, 160)
    >>> geometric_bucket_lengths(40, midpoints=True, cap=False)
    (8, 12, 16, 24, 32, 48)
    """
    _check_positive(maximum=maximum, minimum=minimum)
    lengths, power = [], minimum
    while True:
        # Each octave: its power of two, then (with midpoints) 1.5 times it.
        for length in (power, power * 3 // 2) if midpoints else (power,):
            if lengths and length <= lengths[-1]:
                continue  # 1.5 * 1 rounds back to 1.
            if length >= maximum:
                return tuple(lengths) + (maximum if cap else length,)
            lengths.append(length)
        power *= 2


def bucket_length(length, bucket_lengths):
    """The smallest bucket that holds `length`.

    Args:
        length: int.
        bucket_lengths: ascending tuple of int (see the builders above).

    Returns:
        int.

    Raises:
        ValueError: if `length` exceeds the last bucket.

    Example:

    >>> bucket_length(100, (64, 128, 160))
    128
    """
    index = assign_buckets([length], bucket_lengths)[0]
    return int(bucket_lengths[index])


def geometric_bucket(length, minimum=8, midpoints=False, maximum=None):
    """The smallest geometric bucket length that holds `length`.

    For lengths whose set of buckets has no natural end (a prompt, a row
    count): `bucket_length` on `geometric_bucket_lengths(..., cap=False)`.
    The sampler uses `midpoints=True` (8, 12, 16, 24, ...), the scorer
    powers of two from 16, evaluator batches powers of two from 64 capped
    at the sequence length.

    Args:
        length: int.
        minimum: int >= 1, the first bucket. Defaults to 8.
        midpoints: bool, as in `geometric_bucket_lengths`. Defaults to
            `False`.
        maximum: optional int. Caps the result, also for a longer
            `length` (whose rows the caller truncates).

    Returns:
        int.

    Example:

    >>> [geometric_bucket(n, midpoints=True) for n in (1, 9, 13, 17)]
    [8, 12, 16, 24]
    >>> geometric_bucket(300, minimum=64, maximum=256)
    256
    """
    lengths = geometric_bucket_lengths(
        max(int(length), minimum), minimum, midpoints, cap=False
    )
    return lengths[-1] if maximum is None else min(lengths[-1], maximum)


def assign_buckets(lengths, bucket_lengths):
    """Returns, per row, the index of the shortest bucket that holds it.

    Raises:
        ValueError: if a row is longer than every bucket.

    Example:

    >>> assign_buckets([3, 8, 9], (8, 16)).tolist()
    [0, 0, 1]
    """
    lengths = np.asarray(lengths)
    bucket_lengths = np.asarray(bucket_lengths)
    if len(lengths) and lengths.max() > bucket_lengths.max():
        raise ValueError(
            "The largest bucket length must hold the longest row "
            f"({int(lengths.max())} tokens). Received: "
            f"{tuple(bucket_lengths.tolist())}"
        )
    return np.searchsorted(bucket_lengths, lengths, side="left")


def _check_positive(**values):
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"`{name}` must be an int. Received: {value!r}")
        if value < 1:
            raise ValueError(f"`{name}` must be at least 1. Received: {value}")
