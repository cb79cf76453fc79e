import keras
import keras_hub
import numpy as np
import pytest

from keras_mathft.data import make_sft_dataset
from keras_mathft.data import tokenize_pairs

LETTERS = "abcdefghij"


def _pairs(tokenizer, n=24, sequence_length=32, seed=1):
    rng = np.random.default_rng(seed)
    prompts, responses = [], []
    for _ in range(n):
        prompts.append("".join(rng.choice(list(LETTERS), rng.integers(1, 6))))
        responses.append(
            "".join(rng.choice(list(LETTERS), rng.integers(1, 25)))
        )
    return tokenize_pairs(tokenizer, prompts, responses, sequence_length)


def _batches(ds):
    return [
        tuple(np.asarray(t) for t in (x["token_ids"], y, w)) for x, y, w in ds
    ]


def test_bucketing_keeps_lengths_in_the_set_and_every_row(tokenizer):
    pairs = _pairs(tokenizer)
    buckets = (8, 16, 24, 32)
    ds = make_sft_dataset(pairs, batch_size=4, bucket_lengths=buckets)
    seen = []
    for x, y, w in _batches(ds):
        assert x.shape[1] in buckets
        assert y.shape == x.shape == w.shape
        seen.extend(map(tuple, x))
    # Each row appears once, cut only where it is padding.
    expected = []
    for row, length in zip(pairs.token_ids, pairs.lengths):
        bucket = buckets[int(np.searchsorted(buckets, length))]
        expected.append(tuple(row[:bucket]))
    assert sorted(seen) == sorted(expected)


def test_cutting_to_a_bucket_drops_no_weight(tokenizer):
    pairs = _pairs(tokenizer)
    ds = make_sft_dataset(pairs, batch_size=4, bucket_lengths=(8, 16, 32))
    total = sum(float(w.sum()) for _, _, w in _batches(ds))
    assert total == float(pairs.sample_weight.sum())


def test_same_seed_same_order(tokenizer):
    pairs = _pairs(tokenizer)
    first = _batches(make_sft_dataset(pairs, batch_size=4, seed=3))
    second = _batches(make_sft_dataset(pairs, batch_size=4, seed=3))
    other = _batches(make_sft_dataset(pairs, batch_size=4, seed=4))
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[0], b[0])
    assert any(
        a[0].shape != b[0].shape or not np.array_equal(a[0], b[0])
        for a, b in zip(first, other)
    )


def test_unshuffled_single_bucket_keeps_order(tokenizer):
    pairs = _pairs(tokenizer, n=5)
    ds = make_sft_dataset(
        pairs, batch_size=2, bucket_lengths=(32,), shuffle=False
    )
    rows = np.concatenate([x for x, _, _ in _batches(ds)])
    np.testing.assert_array_equal(rows, pairs.token_ids)


def test_repeat_and_drop_remainder(tokenizer):
    pairs = _pairs(tokenizer, n=10)
    ds = make_sft_dataset(
        pairs, batch_size=4, bucket_lengths=(32,), repeat=True
    )
    assert len(_batches(ds.take(7))) == 7
    ds = make_sft_dataset(
        pairs, batch_size=4, bucket_lengths=(32,), drop_remainder=True
    )
    assert [x.shape[0] for x, _, _ in _batches(ds)] == [4, 4]


def test_bad_arguments(tokenizer):
    pairs = _pairs(tokenizer, n=3)
    with pytest.raises(ValueError, match="TokenizedPairs"):
        make_sft_dataset(pairs.as_tuple(), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        make_sft_dataset(pairs, batch_size=0)
    with pytest.raises(ValueError, match="longest row"):
        make_sft_dataset(pairs, batch_size=2, bucket_lengths=(2,))


def test_keras_hub_causal_lm_fits_one_step(tokenizer):
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=32,
    )
    causal_lm = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    causal_lm.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[],
    )
    # One batch of one shape: a single compile keeps this test quick.
    pairs = tokenize_pairs(
        tokenizer, ["ab", "c", "de", "f"], ["cd", "ef", "g", "hij"], 32
    )
    ds = make_sft_dataset(pairs, batch_size=4, bucket_lengths=(8, 32))
    assert [x.shape for x, _, _ in _batches(ds)] == [(4, 8)]
    history = causal_lm.fit(ds, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_unshuffled_repeat_cycles_through_every_bucket(tokenizer):
    pairs = tokenize_pairs(tokenizer, ["a", "abcdefghij"], ["b", "c"], 16)
    ds = make_sft_dataset(
        pairs, batch_size=1, bucket_lengths=(8, 16), shuffle=False, repeat=True
    )
    shapes = [x.shape[1] for x, _, _ in _batches(ds.take(4))]
    assert shapes == [8, 16, 8, 16]


def test_drop_remainder_skips_buckets_smaller_than_a_batch(tokenizer):
    pairs = tokenize_pairs(
        tokenizer, ["a", "b", "abcdefghij"], ["b", "c", "d"], 16
    )
    for shuffle in (True, False):
        ds = make_sft_dataset(
            pairs,
            batch_size=2,
            bucket_lengths=(8, 16),
            shuffle=shuffle,
            repeat=True,
            drop_remainder=True,
        )
        assert {x.shape for x, _, _ in _batches(ds.take(3))} == {(2, 8)}
