"""Losses of the generator and the evaluator, in float32 `keras.ops`.

Every function here takes logits or log-probabilities in any dtype, computes
in float32 and returns a float32 scalar, so mixed precision (`bfloat16`
activations) never reaches a softmax or a log.

The evaluator's score is the paper's (Liu et al., 2023, section 3)

    S = p(correct | T) / (p(correct | T) + p(incorrect | T))
      = sigmoid(log p(correct | T) - log p(incorrect | T))

so every evaluator loss below is written in terms of the two label
log-probabilities (`logp_correct`, `logp_incorrect`), which also covers label
words that tokenize to several tokens: there `log p(label | T)` is the sum of
the label tokens' log-probabilities.
"""

import dataclasses
import math

import keras
from keras import ops

# Keras' own losses divide by the replica count under `tf.distribute` (the
# replicas' gradients are summed, and Keras' train steps undo it for the
# loss they show); a model that computes its loss itself must do the same.
# Keras has no public name for it; a no-op on JAX, where `jit` computes
# global means over sharded batches.
from keras.src.losses.loss import scale_loss_for_distribution  # noqa: F401

EVALUATOR_LOSSES = ("xent", "margin", "mixture")
XENT_NORMALIZATIONS = ("vocabulary", "pair")


@dataclasses.dataclass(frozen=True)
class EvaluatorOptions:
    """How the evaluation objective turns label log-probabilities into a loss.

    The one place these options, their defaults and their checks live:
    `MathSolver.compile` and `MathRewardModel.compile` take the fields as
    keyword arguments, a `TrainingPhase` holds one, and the recipe's
    `--evaluator_loss` and `--margin` default to its fields.

    Args:
        evaluator_loss: `"margin"` (the paper's headline loss), `"xent"`
            (label-word cross-entropy) or `"mixture"` of both; see
            `pair_evaluator_loss`. Classification batches allow `"xent"`
            only.
        margin: float >= 0, lambda of the margin loss (the paper does not
            report its value).
        mixture_weight: float in [0, 1], the margin term's weight in
            `"mixture"` (not from the paper).
        xent_normalization: `"vocabulary"` (the paper's formula) or
            `"pair"`; see `evaluator_xent_loss`.
        mle_weight: float >= 0. With a combined batch (`{"evaluation":
            ..., "generation": ...}`), the weight of an MLE term on its
            generation half, trained in the same step.

    Raises:
        ValueError: for an unknown choice or a value out of range.

    Example:

    >>> EvaluatorOptions(evaluator_loss="xent").margin
    1.0
    >>> EvaluatorOptions(mixture_weight=2.0)
    Traceback (most recent call last):
    ...
    ValueError: `mixture_weight` must be a finite number in [0, 1]. ...
    """

    evaluator_loss: str = "margin"
    margin: float = 1.0
    mixture_weight: float = 0.5
    xent_normalization: str = "vocabulary"
    mle_weight: float = 0.0

    def __post_init__(self):
        check_choice("evaluator_loss", self.evaluator_loss, EVALUATOR_LOSSES)
        check_choice(
            "xent_normalization", self.xent_normalization, XENT_NORMALIZATIONS
        )
        for name, low, high in (
            ("margin", 0.0, math.inf),
            ("mixture_weight", 0.0, 1.0),
            ("mle_weight", 0.0, math.inf),
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not low <= value <= high
            ):
                bounds = f">= {low:g}" if high == math.inf else "in [0, 1]"
                raise ValueError(
                    f"`{name}` must be a finite number {bounds}. "
                    f"Received: {value!r}"
                )
            # Floats in the saved compile config, whatever was passed.
            object.__setattr__(self, name, float(value))

    @classmethod
    def pop_from(cls, kwargs, defaults=None):
        """Takes this record's fields out of `kwargs` (a `compile` call's).

        Args:
            kwargs: dict; the record's fields are removed from it.
            defaults: optional `EvaluatorOptions` for the fields not in
                `kwargs`; defaults to `EvaluatorOptions()`.

        Returns:
            An `EvaluatorOptions`.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        changes = {name: kwargs.pop(name) for name in names if name in kwargs}
        return dataclasses.replace(defaults or cls(), **changes)

    def pair_loss(self, logp_right, logp_wrong):
        """`pair_evaluator_loss` with these options (see there)."""
        return pair_evaluator_loss(
            logp_right,
            logp_wrong,
            loss=self.evaluator_loss,
            margin=self.margin,
            mixture_weight=self.mixture_weight,
            normalization=self.xent_normalization,
        )

    def get_config(self):
        return dataclasses.asdict(self)


def masked_token_loss(y_true, logits, sample_weight=None):
    """Token cross-entropy averaged over the weighted (response) tokens.

    Args:
        y_true: int tensor `[B, T]`, the next-token targets.
        logits: float tensor `[B, T, V]`.
        sample_weight: optional float tensor `[B, T]`; 1 on response tokens,
            0 on prompt and padding. `None` weights every token.

    Returns:
        A float32 scalar: `sum(w * ce) / max(sum(w), 1)`.

    Example:

    >>> import numpy as np
    >>> logits = np.zeros((1, 2, 4), "float32")
    >>> y = np.array([[1, 2]])
    >>> w = np.array([[0.0, 1.0]], "float32")
    >>> round(float(masked_token_loss(y, logits, w)), 4)  # log(4)
    1.3863
    """
    logits = ops.cast(logits, "float32")
    ce = keras.losses.sparse_categorical_crossentropy(
        y_true, logits, from_logits=True
    )
    if sample_weight is None:
        return ops.mean(ce)
    w = ops.cast(sample_weight, "float32")
    return ops.sum(ce * w) / ops.maximum(ops.sum(w), 1.0)


def vocab_log_probs(backbone, hidden):
    """Float32 log-probabilities over the vocabulary of hidden states.

    The logits are the backbone's reverse token embedding (its output
    projection), cast to float32 before the log-softmax.

    Args:
        backbone: a keras-hub backbone with a `token_embedding`.
        hidden: float tensor `[..., hidden_dim]`, the backbone's outputs.

    Returns:
        float32 tensor `[..., vocabulary_size]`.
    """
    logits = backbone.token_embedding(hidden, reverse=True)
    return ops.log_softmax(ops.cast(logits, "float32"), axis=-1)


def evaluator_log_score(logp_correct, logp_incorrect):
    """Returns `log S`, the log of the renormalised "correct" probability."""
    return ops.log_sigmoid(_diff(logp_correct, logp_incorrect))


def evaluator_score(logp_correct, logp_incorrect):
    """Returns `S = p_c / (p_c + p_i)` as float32, strictly inside (0, 1)."""
    return ops.sigmoid(_diff(logp_correct, logp_incorrect))


def evaluator_xent_loss(
    logp_correct,
    logp_incorrect,
    labels,
    sample_weight=None,
    normalization="vocabulary",
):
    """Binary cross-entropy on the label word.

    With `normalization="vocabulary"` (the paper's formula, with `p_M` over
    the whole vocabulary) the loss is `-log p(correct | T)` for a correct
    solution and `-log p(incorrect | T)` for an incorrect one: plain LM
    cross-entropy on the label word. With `normalization="pair"` the two
    label probabilities are first renormalised, so the loss is the BCE of the
    score `S` itself. Which one the paper used is not confirmed.

    Args:
        logp_correct: float tensor `[B]`, `log p(correct label | T)`.
        logp_incorrect: float tensor `[B]`.
        labels: tensor `[B]`, 1 for a correct solution, 0 otherwise.
        sample_weight: optional float tensor `[B]`.
        normalization: `"vocabulary"` or `"pair"`.

    Returns:
        A float32 scalar, the weighted mean over the batch.

    Raises:
        ValueError: for an unknown `normalization`.
    """
    check_choice("normalization", normalization, XENT_NORMALIZATIONS)
    lp_c = ops.cast(logp_correct, "float32")
    lp_i = ops.cast(logp_incorrect, "float32")
    y = ops.cast(labels, "float32")
    if normalization == "pair":
        lp_c, lp_i = (
            ops.log_sigmoid(lp_c - lp_i),
            ops.log_sigmoid(lp_i - lp_c),
        )
    per_example = -(y * lp_c + (1.0 - y) * lp_i)
    return _weighted_mean(per_example, sample_weight)


def pairwise_margin_loss(log_score_right, log_score_wrong, margin=1.0):
    """The paper's margin loss `max(0, log S(wrong) - log S(right) + margin)`.

    Args:
        log_score_right: float tensor `[B]`, `log S` of the correct solution
            of each pair (see `evaluator_log_score`).
        log_score_wrong: float tensor `[B]`, `log S` of the incorrect one.
        margin: float, the paper's lambda (its value is not reported).

    Returns:
        A float32 scalar, the mean over pairs.

    Example:

    >>> import numpy as np
    >>> right = np.log(np.array([0.8, 0.3], "float32"))
    >>> wrong = np.log(np.array([0.5, 0.6], "float32"))
    >>> # pair 1: max(0, log .5 - log .8 + .1) = 0
    >>> # pair 2: log .6 - log .3 + .1 = log 2 + .1
    >>> round(float(pairwise_margin_loss(right, wrong, 0.1)), 4)
    0.3966
    """
    right = ops.cast(log_score_right, "float32")
    wrong = ops.cast(log_score_wrong, "float32")
    return ops.mean(ops.relu(wrong - right + float(margin)))


def pair_evaluator_loss(
    logp_right,
    logp_wrong,
    loss="margin",
    margin=1.0,
    mixture_weight=0.5,
    normalization="vocabulary",
):
    """Evaluator loss of a batch of (right, wrong) pairs.

    Args:
        logp_right: float tensor `[B, 2]`: `log p(correct label)` and
            `log p(incorrect label)` for the right solution of each pair.
        logp_wrong: float tensor `[B, 2]`, the same for the wrong solution.
        loss: `"margin"` (the paper's headline loss), `"xent"` (label-word
            cross-entropy on both members, labels 1 and 0) or `"mixture"`:
            `mixture_weight * margin + (1 - mixture_weight) * xent`. The
            mixture is not from the paper.
        margin: float, lambda of the margin loss.
        mixture_weight: float in [0, 1], weight of the margin term.
        normalization: see `evaluator_xent_loss`.

    Returns:
        A float32 scalar.

    Raises:
        ValueError: for an unknown `loss` or a weight outside [0, 1].
    """
    check_choice("loss", loss, EVALUATOR_LOSSES)
    if not 0.0 <= mixture_weight <= 1.0:
        raise ValueError(
            "`mixture_weight` must be in [0, 1]. "
            f"Received: mixture_weight={mixture_weight}"
        )
    total = 0.0
    if loss in ("margin", "mixture"):
        margin_term = pairwise_margin_loss(
            evaluator_log_score(logp_right[:, 0], logp_right[:, 1]),
            evaluator_log_score(logp_wrong[:, 0], logp_wrong[:, 1]),
            margin,
        )
        weight = 1.0 if loss == "margin" else mixture_weight
        total = total + weight * margin_term
    if loss in ("xent", "mixture"):
        lp = ops.concatenate([logp_right, logp_wrong], axis=0)
        n = ops.shape(logp_right)[0]
        labels = ops.concatenate([ops.ones((n,)), ops.zeros((n,))], axis=0)
        xent_term = evaluator_xent_loss(
            lp[:, 0], lp[:, 1], labels, normalization=normalization
        )
        weight = 1.0 if loss == "xent" else 1.0 - mixture_weight
        total = total + weight * xent_term
    return total


def _diff(logp_correct, logp_incorrect):
    return ops.cast(logp_correct, "float32") - ops.cast(
        logp_incorrect, "float32"
    )


def _weighted_mean(values, sample_weight):
    if sample_weight is None:
        return ops.mean(values)
    w = ops.cast(ops.reshape(sample_weight, ops.shape(values)), "float32")
    return ops.sum(values * w) / ops.maximum(ops.sum(w), 1e-12)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {name}={value!r}"
        )
