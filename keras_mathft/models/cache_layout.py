"""The layout of a keras-hub causal LM's KV cache, found by probing it.

keras-hub families lay their caches out differently (Gemma: one tensor
`[B, layers, 2, T, heads, dim]`; Gemma 3: per-layer `(key, value)` tuples
of `[B, T, heads, dim]`; ...). Building two tiny caches of lengths 2 and 3
finds each leaf's sequence axis; the batch axis is always 0.
"""

import inspect
import math

import keras
import numpy as np
from keras import ops


class CacheLayout:
    """Shapes, sequence axes and dtypes of a causal LM's cache leaves.

    Args:
        causal_lm: a keras-hub `CausalLM` with `_build_cache`.

    Example:

    >>> layout = CacheLayout(causal_lm)  # doctest: +SKIP
    >>> cache = layout.zeros(batch=4, length=64)  # doctest: +SKIP
    """

    def __init__(self, causal_lm):
        self.causal_lm = causal_lm
        self._spec = None

    def per_row(self):
        """This layout with an axis of size 1 after the rows.

        A leaf `[rows, T, ...]` becomes `[rows, 1, T, ...]`: each row is a
        batch of one for a model call mapped over rows
        (`compiled.per_row_map`).

        Returns:
            A `CacheLayout` of the same model.
        """
        layout = CacheLayout(self.causal_lm)
        leaves = [
            (shape[:1] + (1,) + shape[1:], axis + 1, dtype)
            for shape, axis, dtype in self.leaves()
        ]
        layout._spec = _pack(self.spec, iter(leaves))
        return layout

    def _probe(self, length):
        lm = self.causal_lm
        tokens = ops.zeros((1, length), "int32")
        # keras-hub has no public way to build a cache: each family's
        # private `_build_cache` (its own extra arguments left None) is
        # what its `generate` calls.
        extra = len(inspect.signature(lm._build_cache).parameters) - 1
        _, cache = lm._build_cache(tokens, *([None] * extra))
        return cache

    def _probe_shapes(self):
        # Run eagerly, JAX would compile each of the model's ops on its
        # own (about 10 s for Gemma 3 270M); only the shapes are needed.
        if keras.backend.backend() == "jax":
            import jax

            return jax.eval_shape(lambda: (self._probe(2), self._probe(3)))
        return self._probe(2), self._probe(3)

    @property
    def spec(self):
        """Per leaf: (shape with batch 1, sequence axis, dtype)."""
        if self._spec is None:
            a, b = self._probe_shapes()

            def spec(x, y):
                diff = [
                    i
                    for i, (m, n) in enumerate(zip(x.shape, y.shape))
                    if m != n
                ]
                if len(diff) != 1:
                    raise ValueError(
                        "Could not find the sequence axis of the KV cache. "
                        f"Received: cache shapes {x.shape} and {y.shape}"
                    )
                return (
                    tuple(x.shape),
                    diff[0],
                    keras.backend.standardize_dtype(x.dtype),
                )

            self._spec = keras.tree.map_structure(spec, a, b)
        return self._spec

    def leaves(self):
        """The flat list of leaf specs."""
        return _leaves(self.spec)

    def map(self, fn, *caches):
        """`fn(spec, *leaves)` over every leaf; returns the same structure."""
        flat = [keras.tree.flatten(c) for c in caches]
        out = [fn(s, *xs) for s, *xs in zip(self.leaves(), *flat)]
        return _pack(self.spec, iter(out))

    def zeros(self, batch, length):
        """A zero cache for `batch` rows of `length` positions."""

        def make(spec):
            shape, axis, dtype = spec
            shape = list(shape)
            shape[0], shape[axis] = batch, length
            return ops.zeros(shape, dtype)

        return self.map(make)

    def bytes_per_row(self, length):
        """Bytes of cache one row needs at total length `length`."""
        total = 0
        for shape, axis, dtype in self.leaves():
            n = math.prod(shape) // shape[axis] * length
            total += n * np.dtype(dtype).itemsize
        return total


def _is_leaf(spec):
    return (
        isinstance(spec, tuple) and len(spec) == 3 and isinstance(spec[1], int)
    )


def _leaves(spec):
    if _is_leaf(spec):
        return [spec]
    return [leaf for s in spec for leaf in _leaves(s)]


def _pack(spec, values):
    if _is_leaf(spec):
        return next(values)
    return type(spec)(_pack(s, values) for s in spec)
