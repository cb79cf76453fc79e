"""`MathRewardModel`: an optional scalar-head evaluator.

Not the paper's evaluator (which reads label words off the LM head, see
`MathSolver`); for users who want a separate reward model.
"""

import dataclasses

import keras
import keras_hub
from keras import ops

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.models import losses
from keras_mathft.models.compile_config import CompileOptionsMixin
from keras_mathft.models.compile_config import deserialize_nested
from keras_mathft.models.compiled import compile_inference_function
from keras_mathft.models.evaluator_data import bucketed_scores
from keras_mathft.models.evaluator_data import evaluation_texts

# A scalar head reads classification batches as naturally as pairs, so the
# reward model trains with label cross-entropy unless told otherwise.
_DEFAULT_OPTIONS = losses.EvaluatorOptions(evaluator_loss="xent")


@keras.saving.register_keras_serializable(package="keras_mathft")
class MathRewardModel(CompileOptionsMixin, keras.Model):
    """A keras-hub backbone with a `Dense(1)` head on the last token.

    The score of a candidate is `S = sigmoid(r)`, where `r` is the head's
    float32 output on the hidden state of the last non-padding token of the
    evaluation prompt. It trains on the same batch formats as
    `MathSolver(objective="evaluation")` (see `evaluator_data`), with the
    same losses: `"xent"` is the BCE of `S`, `"margin"` is
    `max(0, log S(wrong) - log S(right) + margin)` on pair batches.

    Args:
        backbone: a `keras_hub.models.Backbone` (decoder).
        tokenizer: optional keras-hub tokenizer, for `score_solutions`.
        prompt_template: a `PromptTemplate` (or its config dict).
        **kwargs: `keras.Model` arguments.

    Example:

    >>> from keras_mathft import data, models
    >>> lm = models.build_causal_lm(
    ...     "gemma", data.embedded_tokenizer_proto(), num_layers=1,
    ...     hidden_dim=16, sequence_length=64)
    >>> rm = models.MathRewardModel.from_causal_lm(lm)
    >>> rm.compile("adamw", evaluator_loss="margin")
    >>> pair = models.EvaluatorPair("1 + 1 = ?", "2", "3")
    >>> history = rm.fit(models.pair_inputs(rm, [pair], 64), verbose=0)
    >>> rm.score_solutions(["1 + 1 = ?"], ["2"], sequence_length=64).shape
    (1,)
    """

    def __init__(self, backbone, tokenizer=None, prompt_template=None, **kw):
        super().__init__(**kw)
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.prompt_template = PromptTemplate.get(prompt_template)
        self.head = keras.layers.Dense(1, dtype="float32", name="reward_head")
        self.head.build((None, backbone.hidden_dim))
        self.evaluator_options = _DEFAULT_OPTIONS
        self.score_function = None
        self.built = True

    def call(self, inputs, training=False):
        """Returns float32 rewards `[B]` (or `[B, 2]` for pair batches)."""
        token_ids, mask = inputs["token_ids"], inputs["padding_mask"]
        pairs = len(token_ids.shape) == 3
        if pairs:
            length = token_ids.shape[2]
            token_ids = ops.reshape(token_ids, (-1, length))
            mask = ops.reshape(mask, (-1, length))
        hidden = self.backbone(
            {"token_ids": token_ids, "padding_mask": mask}, training=training
        )
        last = ops.sum(ops.cast(mask, "int32"), axis=1) - 1
        one_hot = ops.one_hot(last, ops.shape(hidden)[1], dtype=hidden.dtype)
        pooled = ops.einsum("bt,bth->bh", one_hot, hidden)
        reward = self.head(ops.cast(pooled, "float32"))[:, 0]
        return ops.reshape(reward, (-1, 2)) if pairs else reward

    def compile(self, optimizer="adamw", **kwargs):
        """Configures training; see `losses.pair_evaluator_loss`.

        Args:
            optimizer: a `keras.Optimizer` or name.
            **kwargs: fields of `losses.EvaluatorOptions` (here
                `evaluator_loss` defaults to `"xent"`; `xent_normalization`
                and `mle_weight` do not apply: scores are always
                normalised as `S = sigmoid(r)`), then `keras.Model.compile`
                arguments.
        """
        self.evaluator_options = losses.EvaluatorOptions.pop_from(
            kwargs, _DEFAULT_OPTIONS
        )
        super().compile(optimizer=optimizer, loss=None, **kwargs)
        self.score_function = None

    def _compile_options(self):
        return self.evaluator_options.get_config()

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """BCE / margin / mixture on the rewards, in float32."""
        options = dataclasses.replace(
            self.evaluator_options, xent_normalization="pair"
        )
        zeros = ops.zeros_like(y_pred)
        if len(y_pred.shape) == 2:
            # As label log-probs: S = sigmoid(r - 0).
            loss = options.pair_loss(
                ops.stack([y_pred[:, 0], zeros[:, 0]], axis=1),
                ops.stack([y_pred[:, 1], zeros[:, 1]], axis=1),
            )
        elif options.evaluator_loss != "xent":
            raise ValueError(
                f"evaluator_loss={options.evaluator_loss!r} needs pair "
                "batches (`token_ids` of shape [B, 2, T]). Received: "
                f"rewards of shape {tuple(y_pred.shape)}"
            )
        else:
            loss = losses.evaluator_xent_loss(
                y_pred, zeros, y, sample_weight, normalization="pair"
            )
        return losses.scale_loss_for_distribution(loss)

    def score_solutions(
        self, problems, solutions, batch_size=16, sequence_length=512
    ):
        """Scores `S = sigmoid(r)` in (0, 1); see `MathSolver`'s method."""
        if self.tokenizer is None:
            raise ValueError(
                "`score_solutions` needs a tokenizer. Pass `tokenizer=` to "
                "MathRewardModel. Received: tokenizer=None"
            )
        if self.score_function is None:
            self.score_function = compile_inference_function(
                self,
                lambda t, m: ops.sigmoid(
                    self({"token_ids": t, "padding_mask": m})
                ),
            )
        texts = evaluation_texts(self.prompt_template, problems, solutions)
        return bucketed_scores(
            self.tokenizer,
            texts,
            self.score_function,
            batch_size,
            sequence_length,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "tokenizer": None
                if self.tokenizer is None
                else keras.saving.serialize_keras_object(self.tokenizer),
                "prompt_template": self.prompt_template.get_config(),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, "backbone", "tokenizer"))

    @classmethod
    def from_causal_lm(cls, causal_lm, prompt_template=None):
        """Builds a reward model on a `CausalLM`'s backbone and tokenizer."""
        if not isinstance(causal_lm, keras_hub.models.CausalLM):
            raise ValueError(
                "`causal_lm` must be a keras-hub CausalLM. "
                f"Received: {type(causal_lm).__name__}"
            )
        tokenizer = (
            None
            if causal_lm.preprocessor is None
            else causal_lm.preprocessor.tokenizer
        )
        return cls(causal_lm.backbone, tokenizer, prompt_template)
