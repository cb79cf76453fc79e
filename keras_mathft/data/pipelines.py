"""Training batches for `model.fit`: one seeded plan, fed per backend.

Which rows go in which batch, and in what order, is decided here in NumPy
(`ArrayBatches`): rows are grouped by length bucket, shuffled within each
bucket and the batches of an epoch shuffled across buckets, all from
`(seed, epoch)`. `make_sft_dataset` and `make_array_dataset` build that
plan, then `_feed` (the one place that looks at the backend) hands it to
`fit`:

- TensorFlow: a `tf.data.Dataset` over the plan (prefetched), since
  `tf.data` is that backend's pipeline;
- any other backend: the `ArrayBatches` itself, a `keras.utils.PyDataset`,
  so JAX runs never import TensorFlow.

Both yield the same batches in the same order for the same seed, and both
can be advanced past batches already seen with `.skip(n)` (how a resumed
`fit_phases` gets the batches of an uninterrupted run).
"""

import keras
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
    """Builds the `(x, y, sample_weight)` batches of `pairs` for `fit`.

    Rows go to the shortest bucket length that holds them and are cut to
    it, so a batch is padded only to its bucket, and every batch has a
    sequence length from `bucket_lengths` (one compiled shape per bucket,
    plus one per bucket for a final partial batch unless `drop_remainder`).
    Batches never mix buckets. With `shuffle`, rows are shuffled within
    each bucket and each epoch's batches are shuffled across buckets; the
    order is fixed by `seed` and changes each epoch.

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
        On the TensorFlow backend a `tf.data.Dataset`, on the others an
        `ArrayBatches` (a `keras.utils.PyDataset`); both yield
        `({"token_ids", "padding_mask"}, y, sample_weight)`, the same
        batches in the same order.

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
    if not isinstance(pairs, TokenizedPairs):
        raise ValueError(
            "`pairs` must be the `TokenizedPairs` from `tokenize_pairs`. "
            f"Received: {type(pairs).__name__}"
        )
    if len(pairs) == 0:
        raise ValueError("`pairs` is empty. Received: 0 rows")
    if bucket_lengths is None:
        bucket_lengths = linear_bucket_lengths(pairs.token_ids.shape[1])
    bucket_lengths = tuple(sorted(int(b) for b in bucket_lengths))
    elements = (
        {"token_ids": pairs.token_ids, "padding_mask": pairs.padding_mask},
        pairs.y,
        pairs.sample_weight,
    )
    return _feed(
        ArrayBatches(
            elements,
            batch_size,
            buckets=assign_buckets(pairs.lengths, bucket_lengths),
            bucket_lengths=bucket_lengths,
            shuffle=shuffle,
            seed=seed,
            repeat=repeat,
            drop_remainder=drop_remainder,
        )
    )


def make_array_dataset(
    elements,
    batch_size,
    shuffle=True,
    seed=0,
    repeat=False,
    drop_remainder=False,
):
    """Builds batches of whole arrays (no buckets) for `fit`.

    Args:
        elements: a nested structure (dict, tuple) of arrays sharing their
            first dimension, e.g. `(x, y)` or an `x` dict; each batch has
            the same structure.
        batch_size, shuffle, seed, repeat, drop_remainder: as in
            `make_sft_dataset`.

    Returns:
        A `tf.data.Dataset` on the TensorFlow backend, an `ArrayBatches`
        on the others, with the same batches.

    Raises:
        ValueError: for arrays of different lengths, no rows, or a bad
            `batch_size`.

    Example:

    >>> import numpy as np
    >>> ds = make_array_dataset(
    ...     (np.arange(5), np.ones(5)), batch_size=2, shuffle=False)
    >>> [np.asarray(x).tolist() for x, y in ds]
    [[0, 1], [2, 3], [4]]
    """
    leaves = keras.tree.flatten(elements)
    counts = {len(leaf) for leaf in leaves}
    if len(counts) != 1:
        raise ValueError(
            "Every array of `elements` must have the same number of rows. "
            f"Received: row counts {sorted(counts)}"
        )
    return _feed(
        ArrayBatches(
            elements,
            batch_size,
            shuffle=shuffle,
            seed=seed,
            repeat=repeat,
            drop_remainder=drop_remainder,
        )
    )


class ArrayBatches(keras.utils.PyDataset):
    """Seeded, bucketed batches of in-memory arrays, by index.

    Batch `i` is a pure function of the arrays, the settings and `i`: epoch
    `e = i // batches_per_epoch` shuffles each bucket's rows and the
    epoch's batches with `numpy.random.default_rng((seed, e))`. So batches
    can be read in any order, by any thread, and `skip(n)` costs nothing.
    Usually built by `make_sft_dataset` or `make_array_dataset`.

    Args:
        elements: nested structure of arrays sharing their first dimension.
        batch_size: int >= 1.
        buckets: optional int array, the bucket index of each row (see
            `assign_buckets`); `None` puts every row in one bucket.
        bucket_lengths: with `buckets`, the length of each bucket: arrays
            with a second dimension are cut to it.
        shuffle: bool.
        seed: int.
        repeat: bool. Cycle through epochs forever.
        drop_remainder: bool. Drop each bucket's final partial batch.
        start: int. Batches skipped at the start (see `skip`).
    """

    def __init__(
        self,
        elements,
        batch_size,
        *,
        buckets=None,
        bucket_lengths=None,
        shuffle=True,
        seed=0,
        repeat=False,
        drop_remainder=False,
        start=0,
    ):
        super().__init__()
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(
                f"`batch_size` must be a positive int. Received: {batch_size!r}"
            )
        self.elements = keras.tree.map_structure(np.asarray, elements)
        rows = len(keras.tree.flatten(self.elements)[0])
        if rows == 0:
            raise ValueError("There are no rows to batch. Received: 0 rows")
        if buckets is None:
            buckets, bucket_lengths = np.zeros(rows, "int64"), (None,)
        self.batch_size = int(batch_size)
        self.bucket_lengths = tuple(bucket_lengths)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.repeat = bool(repeat)
        self.drop_remainder = bool(drop_remainder)
        self.start = int(start)
        buckets = np.asarray(buckets)
        self._groups = [
            (k, np.flatnonzero(buckets == k))
            for k in range(len(self.bucket_lengths))
        ]
        self.batches_per_epoch = sum(
            self._count(len(r)) for _, r in self._groups
        )
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"`drop_remainder=True` leaves no batch of {batch_size}. "
                f"Received: {rows} rows"
            )
        self._cached_epoch = (None, None)

    @property
    def num_batches(self):
        if self.repeat:
            return None
        return max(0, self.batches_per_epoch - self.start)

    def __len__(self):
        if self.repeat:
            raise TypeError("A repeated `ArrayBatches` has no length.")
        return self.num_batches

    def __getitem__(self, index):
        position = self.start + int(index)
        epoch, offset = divmod(position, self.batches_per_epoch)
        if index < 0 or (epoch and not self.repeat):
            raise IndexError(
                f"Batch {index} is out of range. Received: "
                f"{self.num_batches} batches"
            )
        bucket, rows = self._plan(epoch)[offset]
        length = self.bucket_lengths[bucket]

        def take(array):
            array = array[rows]
            if length is not None and array.ndim > 1:
                array = array[:, :length]
            return array

        return keras.tree.map_structure(take, self.elements)

    def skip(self, count):
        """The same batches without the first `count` (like `tf.data`)."""
        return ArrayBatches(
            self.elements,
            self.batch_size,
            buckets=self._buckets(),
            bucket_lengths=self.bucket_lengths,
            shuffle=self.shuffle,
            seed=self.seed,
            repeat=self.repeat,
            drop_remainder=self.drop_remainder,
            start=self.start + int(count),
        )

    def to_tf_dataset(self):
        """These batches as a prefetched `tf.data.Dataset` (imports TF).

        What the TensorFlow backend gets; on other backends, for consumers
        that take only `tf.data` (keras-hub's `CausalLM.fit`).
        """
        return _tf_dataset(self)

    def _buckets(self):
        rows = len(keras.tree.flatten(self.elements)[0])
        buckets = np.zeros(rows, "int64")
        for k, group in self._groups:
            buckets[group] = k
        return buckets

    def _count(self, rows):
        if self.drop_remainder:
            return rows // self.batch_size
        return -(-rows // self.batch_size)

    def _plan(self, epoch):
        """The `(bucket, row indices)` of each batch of `epoch`, in order."""
        if self._cached_epoch[0] == epoch:
            return self._cached_epoch[1]
        rng = (
            np.random.default_rng((self.seed, epoch)) if self.shuffle else None
        )
        plan, size = [], self.batch_size
        for bucket, rows in self._groups:
            if rng is not None:
                rows = rng.permutation(rows)
            plan.extend(
                (bucket, rows[b * size : (b + 1) * size])
                for b in range(self._count(len(rows)))
            )
        if rng is not None:
            plan = [plan[i] for i in rng.permutation(len(plan))]
        self._cached_epoch = (epoch, plan)
        return plan


def _feed(batches):
    """The one backend choice: `tf.data` on TensorFlow, else the PyDataset."""
    if keras.config.backend() != "tensorflow":
        return batches
    return batches.to_tf_dataset()


def _tf_dataset(batches):
    import tensorflow as tf

    def spec(array):
        shape = (None,) + array.shape[1:]
        if batches.bucket_lengths != (None,) and array.ndim > 1:
            shape = (None, None) + array.shape[2:]
        return tf.TensorSpec(shape, tf.as_dtype(array.dtype))

    def generate():
        count, index = batches.num_batches, 0
        while count is None or index < count:
            yield batches[index]
            index += 1

    signature = keras.tree.map_structure(spec, batches.elements)
    dataset = tf.data.Dataset.from_generator(
        generate, output_signature=signature
    )
    if not batches.repeat:
        dataset = dataset.apply(
            tf.data.experimental.assert_cardinality(batches.num_batches)
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
