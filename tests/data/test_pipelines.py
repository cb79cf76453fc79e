import itertools

import keras
import keras_hub
import numpy as np
import pytest

from keras_mathft.data import ArrayBatches
from keras_mathft.data import assign_buckets
from keras_mathft.data import make_array_dataset
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


def _batches(ds, count=None):
    return [
        tuple(np.asarray(t) for t in (x["token_ids"], y, w))
        for x, y, w in itertools.islice(ds, count)
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
    assert len(_batches(ds, 7)) == 7
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
    if isinstance(ds, ArrayBatches):
        # keras-hub's `fit` takes tf.data or grain datasets only.
        ds = ds.to_tf_dataset()
    history = causal_lm.fit(ds, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_unshuffled_repeat_cycles_through_every_bucket(tokenizer):
    pairs = tokenize_pairs(tokenizer, ["a", "abcdefghij"], ["b", "c"], 16)
    ds = make_sft_dataset(
        pairs, batch_size=1, bucket_lengths=(8, 16), shuffle=False, repeat=True
    )
    shapes = [x.shape[1] for x, _, _ in _batches(ds, 4)]
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
        assert {x.shape for x, _, _ in _batches(ds, 3)} == {(2, 8)}


def _leaves(batch):
    return [np.asarray(a) for a in keras.tree.flatten(batch)]


def _assert_same_batches(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        for u, v in zip(_leaves(a), _leaves(b), strict=True):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u, v)


def test_the_backend_picks_the_feed(tokenizer):
    ds = make_sft_dataset(_pairs(tokenizer), batch_size=4)
    on_tensorflow = keras.config.backend() == "tensorflow"
    assert isinstance(ds, ArrayBatches) != on_tensorflow
    assert isinstance(ds, keras.utils.PyDataset) != on_tensorflow


@pytest.mark.parametrize(
    "shuffle, repeat, drop_remainder",
    [(True, True, True), (True, False, False), (False, True, False)],
)
def test_tf_data_yields_the_numpy_plan(
    tokenizer, shuffle, repeat, drop_remainder
):
    # Whatever the backend, the tf.data feed gives the NumPy batches.
    pytest.importorskip("tensorflow")
    pairs = _pairs(tokenizer, n=21)
    elements = (
        {"token_ids": pairs.token_ids, "padding_mask": pairs.padding_mask},
        pairs.y,
        pairs.sample_weight,
    )
    buckets = (8, 16, 32)
    batches = ArrayBatches(
        elements,
        4,
        buckets=assign_buckets(pairs.lengths, buckets),
        bucket_lengths=buckets,
        shuffle=shuffle,
        seed=5,
        repeat=repeat,
        drop_remainder=drop_remainder,
    )
    count = 3 * batches.batches_per_epoch if repeat else None
    _assert_same_batches(
        list(itertools.islice(batches, count)),
        list(itertools.islice(batches.to_tf_dataset(), count)),
    )
    if not repeat:
        assert int(batches.to_tf_dataset().cardinality()) == len(batches)


def test_each_epoch_reshuffles_the_same_rows(tokenizer):
    pairs = _pairs(tokenizer, n=16)
    ds = make_sft_dataset(
        pairs, batch_size=4, bucket_lengths=(32,), seed=2, repeat=True
    )
    first, second = _batches(ds, 4), _batches(itertools.islice(ds, 4, 8))
    rows = [
        sorted(map(tuple, np.concatenate([b[0] for b in e])))
        for e in (first, second)
    ]
    assert rows[0] == rows[1] == sorted(map(tuple, pairs.token_ids))
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, second))


def test_skip_continues_where_a_run_stopped(tokenizer):
    # What a resumed `fit_phases` relies on: `skip(n)` is the stream
    # without its first n batches, across epochs.
    pairs = _pairs(tokenizer)
    ds = make_sft_dataset(
        pairs, batch_size=4, bucket_lengths=(16, 32), seed=1, repeat=True
    )
    whole = _batches(ds, 11)
    _assert_same_batches(_batches(ds.skip(7), 4), whole[7:])


def test_array_dataset_batches_every_row():
    x = {"a": np.arange(10).reshape(5, 2), "b": np.arange(5)}
    ds = make_array_dataset(x, batch_size=2, seed=3)
    batches = list(ds)
    assert sorted(len(b["b"]) for b in batches) == [1, 2, 2]
    rows = np.concatenate([b["b"] for b in batches])
    assert sorted(rows.tolist()) == list(range(5))
    for b in batches:
        np.testing.assert_array_equal(b["a"][:, 0], 2 * np.asarray(b["b"]))


def test_array_dataset_bad_arguments():
    with pytest.raises(ValueError, match="same number of rows"):
        make_array_dataset((np.ones(3), np.ones(4)), batch_size=2)
    with pytest.raises(ValueError, match="Received: 0 rows"):
        make_array_dataset(np.ones((0, 2)), batch_size=2)
    with pytest.raises(ValueError, match="leaves no batch"):
        make_array_dataset(np.ones(3), batch_size=4, drop_remainder=True)
