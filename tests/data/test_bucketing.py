"""The one length-bucketing rule and its two bucket-set builders."""

import pytest

from keras_mathft.data import assign_buckets
from keras_mathft.data import bucket_length
from keras_mathft.data import geometric_bucket
from keras_mathft.data import geometric_bucket_lengths
from keras_mathft.data import linear_bucket_lengths

pytestmark = pytest.mark.backend_independent


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


def test_the_sampler_scorer_and_evaluator_rules_by_hand():
    # The sampler's: 2^k and 3 * 2^(k-1) from 8, uncapped.
    got = [geometric_bucket(n, midpoints=True) for n in range(0, 51)]
    expected = [8] * 9 + [12] * 4 + [16] * 4 + [24] * 8 + [32] * 8
    assert got == expected + [48] * 16 + [64] * 2
    assert geometric_bucket(97, midpoints=True) == 128
    # The scorer's: powers of two from 16.
    got = [geometric_bucket(n, minimum=16) for n in (1, 16, 17, 33, 1000)]
    assert got == [16, 16, 32, 64, 1024]
    # Evaluator batches: powers of two from 64, capped at the sequence
    # length, also for longer (truncated) rows.
    got = [geometric_bucket(n, 64, maximum=160) for n in (1, 65, 129, 999)]
    assert got == [64, 128, 160, 160]
    assert geometric_bucket(10, minimum=64, maximum=50) == 50


@pytest.mark.parametrize("n", [1, 7, 8, 9, 100, 1000, 5000])
@pytest.mark.parametrize("midpoints", [False, True])
def test_a_geometric_bucket_is_a_bucket_of_the_uncapped_set(n, midpoints):
    lengths = geometric_bucket_lengths(n, 8, midpoints, cap=False)
    assert geometric_bucket(n, 8, midpoints) == bucket_length(n, lengths)


@pytest.mark.parametrize("maximum", [1, 15, 16, 17, 100, 160])
def test_every_multiple_rounds_up_to_the_next_multiple(maximum):
    # The recipe's trimming of evaluator batches: multiples of 16.
    buckets = linear_bucket_lengths(maximum, None, multiple=16)
    for n in range(1, maximum + 1):
        assert bucket_length(n, buckets) == min(maximum, -(-n // 16) * 16)


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
