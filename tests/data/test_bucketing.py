"""The one length-bucketing rule and its two bucket-set builders."""

import pytest

from keras_mathft.data import assign_buckets
from keras_mathft.data import bucket_length
from keras_mathft.data import geometric_bucket_lengths
from keras_mathft.data import linear_bucket_lengths


def test_linear_bucket_lengths_by_hand():
    assert linear_bucket_lengths(512) == (128, 256, 384, 512)
    # 30 / 4 = 7.5 -> 8, 15 -> 16, 22.5 -> 24, then the maximum.
    assert linear_bucket_lengths(30) == (8, 16, 24, 30)
    assert linear_bucket_lengths(160, num_buckets=2) == (80, 160)
    assert linear_bucket_lengths(40, None, multiple=16) == (16, 32, 40)


def test_geometric_bucket_lengths_by_hand():
    assert geometric_bucket_lengths(100, minimum=8) == (8, 16, 32, 64, 100)
    assert geometric_bucket_lengths(100, 8, cap=False)[-1] == 128
    assert geometric_bucket_lengths(50, 8, midpoints=True) == (
        8,
        12,
        16,
        24,
        32,
        48,
        50,
    )
    assert geometric_bucket_lengths(5, minimum=64) == (5,)


def test_a_length_goes_to_the_smallest_bucket_that_holds_it():
    assert bucket_length(1, (8, 16)) == 8
    assert bucket_length(8, (8, 16)) == 8
    assert bucket_length(9, (8, 16)) == 16
    assert assign_buckets([1, 8, 9, 16], (8, 16)).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="must hold the longest row"):
        bucket_length(17, (8, 16))


def _powers_and_midpoints(n, minimum=8):
    # The sampler's rule before the merge (sampling/sampler.py `_bucket`).
    b = minimum
    while b < n:
        b = b * 3 // 2 if (b & (b - 1)) == 0 else b * 4 // 3
    return b


def _scoring_bucket(length, sequence_length, smallest=64):
    # The scorer's rule before the merge (models/compiled.py).
    bucket = smallest
    while bucket < length and bucket < sequence_length:
        bucket *= 2
    return min(bucket, sequence_length)


@pytest.mark.parametrize("maximum", [1, 7, 8, 50, 64, 100, 160, 257, 512])
def test_the_rules_of_sampler_scorer_and_trimming_are_special_cases(maximum):
    sampler = geometric_bucket_lengths(maximum, 8, midpoints=True, cap=False)
    scorer = geometric_bucket_lengths(maximum, minimum=64)
    every_16 = linear_bucket_lengths(maximum, None, multiple=16)
    for n in range(1, maximum + 1):
        assert bucket_length(n, sampler) == _powers_and_midpoints(n)
        assert bucket_length(n, scorer) == _scoring_bucket(n, maximum)
        assert bucket_length(n, every_16) == min(maximum, -(-n // 16) * 16)


@pytest.mark.parametrize(
    "call",
    [
        lambda: linear_bucket_lengths(0),
        lambda: linear_bucket_lengths(8, num_buckets=0),
        lambda: geometric_bucket_lengths(8, minimum=0),
        lambda: geometric_bucket_lengths(8.5),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError, match="Received"):
        call()
