"""keras_mathft: fine-tune keras-hub decoders to solve math problems.

Implements "Improving Large Language Model Fine-tuning for Solving Math
Problems" (Liu et al., 2023, https://arxiv.org/abs/2310.10047):

- `keras_mathft.grading`: pure-Python answer extraction, equivalence and
  clustering (no keras import).
- `keras_mathft.data`: MATH / PRM800K loaders, prompt formats, tokenization
  and the embedded offline task.
- `keras_mathft.models`: the solver (generator) and evaluator over any
  keras-hub causal LM, and multi-task sequential fine-tuning.
- `keras_mathft.sampling`: fast N-sample decoding, sample stores,
  re-rankers and metrics.
- `keras_mathft.recipes`: the end-to-end pipeline behind
  `examples/train.py`.
- `keras_mathft.runtime`: what every stage shares at run time: processes,
  progress display, the writer lock.

Subpackages are imported lazily so that `import keras_mathft.grading` never
pulls in keras, jax or tensorflow.
"""

from importlib import import_module as _import_module

from keras_mathft.version import __version__

_SUBPACKAGES = (
    "grading",
    "data",
    "models",
    "sampling",
    "recipes",
    "runtime",
)
__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return _import_module(f"keras_mathft.{name}")
    raise AttributeError(f"module 'keras_mathft' has no attribute {name!r}")
