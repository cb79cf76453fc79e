"""Token choice: exact top-p, top-k and argmax without sorting."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_mathft.models.compiled import compile_inference_function
from keras_mathft.sampling.random_stream import gumbel_noise
from keras_mathft.sampling.token_choice import choose_tokens
from keras_mathft.sampling.token_choice import first_argmax
from keras_mathft.sampling.token_choice import top_k_exact


def compiled(fn):
    # One compiled program instead of hundreds of eager ops (and loops).
    return compile_inference_function(keras.layers.Identity(), fn, True)


def choose(z, keys, positions, **kwargs):
    fn = compiled(
        lambda z, keys, positions: choose_tokens(z, keys, positions, **kwargs)
    )
    return ops.convert_to_numpy(fn(z, keys, positions))


def order(z):
    """Token ids by logit (descending), ties by lower id."""
    ids = np.tile(np.arange(z.shape[1]), (z.shape[0], 1))
    return np.lexsort((ids, -z), axis=-1)


def sorted_nucleus(z, keys, positions, top_p):
    """Reference: sort the vocabulary, keep the nucleus, Gumbel-max."""
    noise = ops.convert_to_numpy(
        gumbel_noise(keys, positions, np.arange(z.shape[1]))
    )
    out = []
    for r, ranked in enumerate(order(z)):
        p = np.exp(z[r] - z[r].max())
        p = p / p.sum()
        before = np.cumsum(p[ranked]) - p[ranked]
        keep = ranked[before < top_p]
        out.append(keep[np.argmax(z[r, keep] + noise[r, keep])])
    return np.array(out)


def logits(seed, rows, width, scale, ties):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, width)).astype("float32") * scale
    if ties:  # many equal logits, none of them -0.0
        z = np.round(z).astype("float32") + np.float32(0)
    keys = rng.integers(0, 2**32, rows, dtype=np.uint64).astype(np.uint32)
    positions = rng.integers(0, 500, rows).astype("int32")
    return z, keys, positions


@pytest.mark.parametrize(
    "width, scale, ties, top_p, prefilter",
    [
        # Flat logits: the nucleus is most of the vocabulary, and a small
        # prefilter sends most rows to the whole-vocabulary search.
        (300, 0.1, False, 0.95, 4),
        (300, 5.0, True, 0.9, 128),
        (5000, 3.0, False, 0.95, 4),  # blocked top-k selection
        (5000, 1.0, True, 0.5, 128),
    ],
)
def test_top_p_equals_sorted_nucleus_sampling(
    width, scale, ties, top_p, prefilter
):
    z, keys, positions = logits(width, 16, width, scale, ties)
    got = choose(
        z,
        keys,
        positions,
        mode="top_p",
        temperature=np.float32(1.0),
        top_p=np.float32(top_p),
        prefilter=prefilter,
    )
    np.testing.assert_array_equal(
        got, sorted_nucleus(z, keys, positions, top_p)
    )


def test_the_fallback_runs_on_the_uncovered_rows_in_rounds():
    # 20 rows, 11 of them broad (their nucleus is past the prefilter), in
    # no order: two rounds of FALLBACK_ROWS and a partial third.
    z, keys, positions = logits(3, 20, 3000, 10.0, False)
    broad = np.array([0, 1, 4, 5, 6, 9, 12, 13, 15, 18, 19])
    z[broad] *= 0.01
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p = np.sort(p / p.sum(axis=1, keepdims=True), axis=1)[:, ::-1]
    outside = np.cumsum(p, axis=1)[:, 15] < 0.9  # nucleus past 16 tokens
    np.testing.assert_array_equal(np.flatnonzero(outside), broad)
    got = choose(
        z,
        keys,
        positions,
        mode="top_p",
        temperature=np.float32(1.0),
        top_p=np.float32(0.9),
        prefilter=16,
    )
    np.testing.assert_array_equal(got, sorted_nucleus(z, keys, positions, 0.9))


def test_a_row_does_not_depend_on_the_other_rows():
    z, keys, positions = logits(0, 8, 3000, 2.0, False)
    z[4:] *= 0.01  # flat rows: the fallback runs for the whole batch
    kwargs = dict(
        mode="top_p",
        temperature=np.float32(0.9),
        top_p=np.float32(0.95),
        prefilter=64,
    )
    both = choose(z, keys, positions, **kwargs)
    alone = choose(z[:4], keys[:4], positions[:4], **kwargs)
    np.testing.assert_array_equal(both[:4], alone)


@pytest.mark.parametrize("width, k", [(50, 7), (5000, 20), (5000, 1)])
def test_top_k_exact_and_first_argmax_match_a_sort(width, k):
    z, _, _ = logits(k, 6, width, 2.0, True)
    values, ids, best = compiled(
        lambda z: (*top_k_exact(z, k), first_argmax(z))
    )(z)
    np.testing.assert_array_equal(ops.convert_to_numpy(ids), order(z)[:, :k])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(values), np.sort(z, axis=-1)[:, ::-1][:, :k]
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(best), np.argmax(z, axis=-1)
    )


def test_negative_zero_ties_with_zero():
    # top_k orders -0.0 below 0.0; argmax and comparisons call them equal.
    # Without one zero, top_k=1 would pick token 20 and greedy token 0.
    z = np.zeros((1, 40), "float32")
    z[0, :20] = -0.0
    rows = (np.zeros(1, np.uint32), np.zeros(1, "int32"))
    one = np.float32(1.0)
    top1 = choose(z, *rows, mode="top_k", temperature=one, top_p=one, top_k=1)
    greedy = choose(z, *rows, mode="greedy", temperature=one, top_p=one)
    assert int(top1[0]) == int(greedy[0]) == 0
