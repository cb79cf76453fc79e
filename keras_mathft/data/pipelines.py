"""tf.data pipelines with length bucketing, for `model.fit` on any backend."""

import numpy as np

from keras_mathft.data.bucketing import assign_buckets
from keras_mathft.data.bucketing import linear_bucket_lengths
from keras_mathft.data.tokenization import TokenizedPairs


def make_sft_dataset(
    pairs,
    batch_size,
    bucket_lengths=None,
    shuffle=True,
    seed=0,
    repeat=False,
    drop_remainder=False,
):
    """Builds a `tf.data.Dataset` of `(x, y, sample_weight)` batches.

    Rows go to the shortest bucket length that holds them and are cut to
    it, so a batch is padded only to its bucket, and every batch has a
    sequence length from `bucket_lengths` (one compiled shape per bucket,
    plus one per bucket for a final partial batch unless `drop_remainder`).
    Batches never mix buckets. With `shuffle`, rows are shuffled within
    each bucket and batches interleaved across buckets in proportion to
    their counts; the order is fixed by `seed` and changes each epoch.

    Args:
        pairs: `TokenizedPairs` from `tokenize_pairs`.
        batch_size: int.
        bucket_lengths: tuple of int or `None`. Allowed row lengths; the
            largest must be at least the longest row. `None` uses
            `linear_bucket_lengths(T)`.
        shuffle: bool. Defaults to `True`.
        seed: int. Shuffle seed. Defaults to 0.
        repeat: bool. Repeat forever (pass `steps_per_epoch` to `fit`).
            Defaults to `False`.
        drop_remainder: bool. Drop each bucket's final partial batch, for
            one batch shape per bucket. Defaults to `False`.

    Returns:
        A `tf.data.Dataset` yielding
        `({"token_ids", "padding_mask"}, y, sample_weight)`.

    Raises:
        ValueError: if a row is longer than the largest bucket, or for an
            empty `pairs` or a bad `batch_size`.

    Example:

    >>> import keras_hub
    >>> from keras_mathft.data import tokenize_pairs
    >>> vocab = {"<|endoftext|>": 0, "a": 1, "b": 2, "ba": 3}
    >>> tok = keras_hub.tokenizers.GPT2Tokenizer(vocab, merges=["b a"])
    >>> pairs = tokenize_pairs(tok, ["a"] * 6, ["b", "bbbbbbb"] * 3, 16)
    >>> ds = make_sft_dataset(pairs, batch_size=2, bucket_lengths=(4, 16))
    >>> sorted(x["token_ids"].shape[1] for x, y, w in ds)
    [4, 4, 16, 16]
    """
    # Imported here so that `keras_mathft.data` loads without TensorFlow
    # (JAX-only installs can still read data, tokenize and sample).
    import tensorflow as tf

    if not isinstance(pairs, TokenizedPairs):
        raise ValueError(
            "`pairs` must be the `TokenizedPairs` from `tokenize_pairs`. "
            f"Received: {type(pairs).__name__}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be a positive int. Received: {batch_size!r}"
        )
    if len(pairs) == 0:
        raise ValueError("`pairs` is empty. Received: 0 rows")
    sequence_length = pairs.token_ids.shape[1]
    if bucket_lengths is None:
        bucket_lengths = linear_bucket_lengths(sequence_length)
    bucket_lengths = tuple(sorted(int(b) for b in bucket_lengths))
    buckets = assign_buckets(pairs.lengths, bucket_lengths)

    datasets, weights, num_batches = [], [], 0
    for k, length in enumerate(bucket_lengths):
        rows = np.flatnonzero(buckets == k)
        bucket_batches = (
            len(rows) // batch_size
            if drop_remainder
            else -(-len(rows) // batch_size)
        )
        if bucket_batches == 0:
            continue
        ds = tf.data.Dataset.from_tensor_slices(
            (
                {
                    "token_ids": pairs.token_ids[rows, :length],
                    "padding_mask": pairs.padding_mask[rows, :length],
                },
                pairs.y[rows, :length],
                pairs.sample_weight[rows, :length],
            )
        )
        if shuffle:
            ds = ds.shuffle(len(rows), seed=seed + k)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        if repeat and shuffle:
            # Each bucket repeats on its own so sampling stays proportional.
            ds = ds.repeat()
        datasets.append(ds)
        weights.append(len(rows))
        num_batches += bucket_batches
    if num_batches == 0:
        raise ValueError(
            f"`drop_remainder=True` leaves no batch of {batch_size}. "
            f"Received: {len(pairs)} rows"
        )
    if len(datasets) == 1:
        ds = datasets[0]
    elif shuffle:
        weights = np.asarray(weights, dtype="float64") / sum(weights)
        ds = tf.data.Dataset.sample_from_datasets(
            datasets,
            weights=weights.tolist(),
            seed=seed,
            stop_on_empty_dataset=False,
        )
    else:
        ds = datasets[0]
        for other in datasets[1:]:
            ds = ds.concatenate(other)
        if repeat:
            ds = ds.repeat()
    if not repeat:
        # Interleaving hides the size; restore it for `fit`'s progress bar.
        ds = ds.apply(tf.data.experimental.assert_cardinality(num_batches))
    return ds.prefetch(tf.data.AUTOTUNE)
