"""`MathSolver`: one keras-hub causal LM as generator and evaluator."""

import keras
import keras_hub
from keras import ops

from keras_mathft.data.prompts import PromptTemplate
from keras_mathft.data.tokenization import token_id_lists
from keras_mathft.models import hf_export
from keras_mathft.models import losses
from keras_mathft.models.compile_config import CompileOptionsMixin
from keras_mathft.models.compile_config import deserialize_nested
from keras_mathft.models.presets import load_causal_lm
from keras_mathft.models.presets import read_solver_settings
from keras_mathft.models.presets import write_solver_settings

OBJECTIVES = ("generation", "evaluation")


@keras.saving.register_keras_serializable(package="keras_mathft")
class MathSolver(CompileOptionsMixin, keras.Model):
    """A keras-hub `CausalLM` trained to solve and to grade math solutions.

    The model holds (does not subclass) a causal LM of any keras-hub family
    with `call_with_cache` (Gemma, Gemma3, Llama3, Qwen, Qwen3, Mistral,
    GPT-2, ...), and trains it with the objective chosen at compile time:

    - `objective="generation"` (SSFT): token cross-entropy on the response
      tokens only, on keras-hub `CausalLMPreprocessor` batches
      `({"token_ids", "padding_mask"}, y, sample_weight)`.
    - `objective="evaluation"`: the paper's LM-as-evaluator. The score of a
      candidate is `S = p(correct) / (p(correct) + p(incorrect))` read after
      the evaluation template. Label words that tokenize to several tokens
      use the full label-sequence log-probability
      `log p(label | T) = sum_k log p(label_k | T, label_<k)`, and then
      `S = sigmoid(log p(correct | T) - log p(incorrect | T))`, which equals
      the formula above. Single-token labels cost one forward pass over the
      prompt; multi-token labels cost one pass per label word. Losses:
      `"xent"`, `"margin"` (needs pair batches) or `"mixture"`; with
      `mle_weight > 0` a generation batch is trained in the same step. See
      `keras_mathft.models.evaluator_data` for the batch formats.

    Every objective trains with Keras' own train step on every backend:
    `call` returns what the compiled objective needs (logits, or the label
    log-probabilities of classification or pair batches) and one
    `compute_loss` turns that into the loss.

    Args:
        causal_lm: a `keras_hub.models.CausalLM`.
        prompt_template: a `keras_mathft.data.PromptTemplate` (or its config
            dict); kept in the saved config. Defaults to the paper's.
        label_token_ids: optional pair of int sequences, the token ids of the
            correct and incorrect label words. Defaults to tokenizing the
            template's label words with the causal LM's tokenizer (needed
            when the causal LM has no preprocessor).
        **kwargs: `keras.Model` arguments (`name`, ...).

    Example:

    A tiny decoder from scratch (`MathSolver.from_preset("gemma3_1b")`
    loads a pretrained one), trained on solutions, then scoring one:

    >>> from keras_mathft import data, models
    >>> lm = models.build_causal_lm(
    ...     "gemma", data.embedded_tokenizer_proto(), num_layers=1,
    ...     hidden_dim=16, sequence_length=64)
    >>> solver = models.MathSolver(lm)
    >>> solver.compile(keras.optimizers.AdamW(1e-3))
    >>> prompts, solutions = data.sft_pairs(data.make_synthetic_problems(8))
    >>> pairs = data.tokenize_pairs(solver.tokenizer, prompts, solutions, 64)
    >>> x, y, weights = pairs.as_tuple()
    >>> history = solver.fit(x, y, sample_weight=weights, verbose=0)
    >>> score = solver.score_solutions(["1 + 1 = ?"], ["$\\\\boxed{2}$"])
    >>> bool(0 < score[0] < 1)
    True
    """

    def __init__(
        self, causal_lm, prompt_template=None, label_token_ids=None, **kwargs
    ):
        super().__init__(**kwargs)
        if not isinstance(causal_lm, keras_hub.models.CausalLM):
            raise ValueError(
                "`causal_lm` must be a `keras_hub.models.CausalLM`. "
                f"Received: {type(causal_lm).__name__}"
            )
        self.causal_lm = causal_lm
        self.prompt_template = PromptTemplate.get(prompt_template)
        self._explicit_label_ids = _normalize_label_ids(label_token_ids)
        self._label_ids = self._explicit_label_ids
        self.objective = "generation"
        self.evaluator_options = losses.EvaluatorOptions()
        self._inference_helpers = {}
        self.built = True

    # === Components ===

    @property
    def backbone(self):
        """The keras-hub backbone of the wrapped causal LM."""
        return self.causal_lm.backbone

    @property
    def preprocessor(self):
        """The causal LM's preprocessor (may be `None`)."""
        return self.causal_lm.preprocessor

    @property
    def tokenizer(self):
        """The causal LM's tokenizer.

        Raises:
            ValueError: when the causal LM has no preprocessor.
        """
        if self.preprocessor is None:
            raise ValueError(
                "This MathSolver's causal LM has no preprocessor, so it has "
                "no tokenizer. Build the causal LM with a preprocessor. "
                "Received: preprocessor=None"
            )
        return self.preprocessor.tokenizer

    @property
    def label_token_ids(self):
        """`(correct_ids, incorrect_ids)`, tuples of label token ids."""
        if self._label_ids is None:
            correct, incorrect = token_id_lists(
                self.tokenizer,
                [
                    self.prompt_template.correct_label,
                    self.prompt_template.incorrect_label,
                ],
            )
            self._label_ids = _normalize_label_ids((correct, incorrect))
        return self._label_ids

    # === Forward passes ===

    def call(self, inputs, training=False):
        """Runs the model on any of its batch formats.

        Args:
            inputs: a generation (or classification) batch
                `{"token_ids": [B, T], "padding_mask": [B, T]}`, a pair batch
                (`[B, 2, T]` arrays), or `{"evaluation": ..., "generation":
                ...}`.
            training: bool.

        Returns:
            Logits `[B, T, V]` for `[B, T]` inputs, or, once compiled with
            `objective="evaluation"`, their label log-probabilities
            `[B, 2]` (see `label_log_probs`); `[B, 2, 2]` label
            log-probabilities for pair batches; a dict of those for the
            combined format.
        """
        if "evaluation" in inputs:
            outputs = {
                "evaluation": self._evaluator_outputs(
                    inputs["evaluation"], training
                )
            }
            if "generation" in inputs:
                outputs["generation"] = self.causal_lm(
                    inputs["generation"], training=training
                )
            return outputs
        if (
            self.objective == "evaluation"
            or len(inputs["token_ids"].shape) == 3
        ):
            return self._evaluator_outputs(inputs, training)
        return self.causal_lm(inputs, training=training)

    def _evaluator_outputs(self, inputs, training):
        token_ids, mask = inputs["token_ids"], inputs["padding_mask"]
        if len(token_ids.shape) == 2:
            return self.label_log_probs(token_ids, mask, training=training)
        length = token_ids.shape[2]
        lp = self.label_log_probs(
            ops.reshape(token_ids, (-1, length)),
            ops.reshape(mask, (-1, length)),
            training=training,
        )
        return ops.reshape(lp, (-1, 2, 2))

    def label_log_probs(self, token_ids, padding_mask, training=False):
        """Log-probabilities of both label words after each prompt.

        Args:
            token_ids: int tensor `[B, T]`, right-padded evaluation prompts.
            padding_mask: bool tensor `[B, T]`.
            training: bool.

        Returns:
            float32 tensor `[B, 2]`: `log p(correct label | prompt)` and
            `log p(incorrect label | prompt)`, full label sequences.
        """
        correct, incorrect = self.label_token_ids
        lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        if len(correct) == 1 and len(incorrect) == 1:
            hidden = self.backbone(
                {"token_ids": token_ids, "padding_mask": padding_mask},
                training=training,
            )
            last = _gather_positions(hidden, lengths[:, None] - 1)
            logp = losses.vocab_log_probs(self.backbone, last)[:, 0, :]
            return ops.take(logp, [correct[0], incorrect[0]], axis=1)
        return ops.stack(
            [
                self._label_sequence_log_prob(
                    token_ids, padding_mask, lengths, label, training
                )
                for label in (correct, incorrect)
            ],
            axis=1,
        )

    def _label_sequence_log_prob(
        self, token_ids, padding_mask, lengths, label, training
    ):
        # Write the label tokens right after each prompt's last token.
        n = len(label)
        batch = ops.shape(token_ids)[0]
        token_ids = ops.concatenate(
            [token_ids, ops.zeros((batch, n), token_ids.dtype)], axis=1
        )
        padding_mask = ops.concatenate(
            [ops.cast(padding_mask, "bool"), ops.zeros((batch, n), "bool")],
            axis=1,
        )
        positions = ops.arange(ops.shape(token_ids)[1])[None, :]
        offset = positions - lengths[:, None]
        in_label = ops.logical_and(offset >= 0, offset < n)
        label_ids = ops.take(
            ops.convert_to_tensor(label, token_ids.dtype),
            ops.clip(offset, 0, n - 1),
        )
        token_ids = ops.where(in_label, label_ids, token_ids)
        padding_mask = ops.logical_or(padding_mask, in_label)
        hidden = self.backbone(
            {"token_ids": token_ids, "padding_mask": padding_mask},
            training=training,
        )
        # Position `length - 1 + k` predicts label token k.
        predicting = lengths[:, None] - 1 + ops.arange(n)[None, :]
        logp = losses.vocab_log_probs(
            self.backbone, _gather_positions(hidden, predicting)
        )
        targets = ops.convert_to_tensor(label, "int32")
        picked = ops.take_along_axis(
            logp,
            ops.broadcast_to(targets[None, :, None], (batch, n, 1)),
            axis=2,
        )
        return ops.sum(picked[:, :, 0], axis=1)

    # === Training ===

    def compile(
        self,
        optimizer="auto",
        *,
        objective="generation",
        weighted_metrics=None,
        **kwargs,
    ):
        """Configures the model for one training objective.

        Args:
            optimizer: a `keras.Optimizer` or name; `"auto"` is
                `AdamW(2e-5)`. Use `gradient_accumulation_steps=` on the
                optimizer for gradient accumulation.
            objective: `"generation"` (SSFT, MLE on response tokens) or
                `"evaluation"` (the LM-as-evaluator losses).
            weighted_metrics: Keras metrics for the generation objective.
            **kwargs: fields of `losses.EvaluatorOptions` (`evaluator_loss`,
                `margin`, `mixture_weight`, `xent_normalization`,
                `mle_weight`; its defaults where not given), then
                `keras.Model.compile` arguments (`jit_compile`,
                `steps_per_execution`, ...).

        Raises:
            ValueError: for an unknown objective or loss, or an option out
                of range.
        """
        losses.check_choice("objective", objective, OBJECTIVES)
        options = losses.EvaluatorOptions.pop_from(kwargs)
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(2e-5)
        if objective == "evaluation":
            # Resolve label ids in Python, outside any traced function.
            _ = self.label_token_ids
            weighted_metrics = None
        self.objective = objective
        self.evaluator_options = options
        super().compile(
            optimizer=optimizer,
            loss=None,
            weighted_metrics=weighted_metrics,
            **kwargs,
        )
        self._inference_helpers.clear()

    def _compile_options(self):
        return {
            "objective": self.objective,
            **self.evaluator_options.get_config(),
        }

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The compiled objective's float32 loss on `call`'s outputs.

        The one loss behind Keras' train and test steps on every backend.

        Args:
            x: the batch's inputs, in the compiled objective's format.
            y: next-token targets (generation), labels (classification),
                `None` (pairs) or a dict of those (combined format).
            y_pred: what `call` returned for `x`.
            sample_weight: optional weights, shaped like `y`.
            training: bool.

        Returns:
            A float32 scalar, divided by the replica count under
            `tf.distribute` like Keras' own losses.

        Raises:
            ValueError: when the batch does not fit the objective.
        """
        options = self.evaluator_options
        if isinstance(y_pred, dict):
            y, sample_weight = y or {}, sample_weight or {}
            loss = self._evaluator_loss(
                x["evaluation"],
                y_pred["evaluation"],
                y.get("evaluation"),
                sample_weight.get("evaluation"),
            )
            if "generation" in y_pred and options.mle_weight > 0:
                mle = losses.masked_token_loss(
                    y.get("generation"),
                    y_pred["generation"],
                    sample_weight.get("generation"),
                )
                loss = loss + options.mle_weight * mle
        elif self.objective == "evaluation":
            loss = self._evaluator_loss(x, y_pred, y, sample_weight)
        elif len(x["token_ids"].shape) == 3:
            raise ValueError(
                "Pair batches (`token_ids` of shape [B, 2, T]) train the "
                "evaluator: compile with objective='evaluation'. Received: "
                "objective='generation'"
            )
        else:
            loss = losses.masked_token_loss(y, y_pred, sample_weight)
        return losses.scale_loss_for_distribution(loss)

    def _evaluator_loss(self, x, label_log_probs, y, sample_weight):
        options = self.evaluator_options
        lp = label_log_probs
        if len(lp.shape) == 3:
            return options.pair_loss(lp[:, 0], lp[:, 1])
        if options.evaluator_loss != "xent":
            raise ValueError(
                f"evaluator_loss={options.evaluator_loss!r} needs pair "
                "batches (`token_ids` of shape [B, 2, T]); classification "
                "batches train with evaluator_loss='xent'. Received: "
                f"token_ids of shape {tuple(x['token_ids'].shape)}"
            )
        if y is None:
            raise ValueError(
                "Classification batches need labels `y` (1 correct, "
                "0 incorrect). Received: y=None"
            )
        return losses.evaluator_xent_loss(
            lp[:, 0],
            lp[:, 1],
            y,
            sample_weight,
            normalization=options.xent_normalization,
        )

    # === LoRA ===

    def enable_lora(self, rank, target_layer_names=None):
        """Enables LoRA on the backbone (freezes all other weights).

        Drops every compiled inference function (scorer, samplers): one
        traced before would run the graph without the adapters.

        Args:
            rank: int, the LoRA rank.
            target_layer_names: optional list of layer names; defaults to
                keras-hub's (query and value projections).
        """
        self.backbone.enable_lora(rank, target_layer_names=target_layer_names)
        self._inference_helpers.clear()

    # === Scoring ===

    def inference_helper(self, key, build):
        """The inference helper stored under `key`, made by `build()` once.

        Helpers (the scorer, `keras_mathft.sampling` samplers) own compiled
        functions of this model. The model keeps them so repeated calls
        reuse those functions, and drops them all on `compile()` and
        `enable_lora()`, like keras-hub's `generate_function`.

        Args:
            key: hashable.
            build: callable returning the helper.

        Returns:
            The helper.
        """
        if key not in self._inference_helpers:
            self._inference_helpers[key] = build()
        return self._inference_helpers[key]

    @property
    def scorer(self):
        """This model's `keras_mathft.models.scorer.SolutionScorer`."""
        from keras_mathft.models.scorer import SolutionScorer

        return self.inference_helper("scorer", lambda: SolutionScorer(self))

    def score_solutions(
        self,
        problems,
        solutions,
        batch_size=16,
        sequence_length=None,
        share_prefix=True,
    ):
        """Evaluator scores `S` of many candidate solutions.

        Candidates of the same problem (equal problem text, anywhere in the
        lists) share the tokens of their evaluation prompt up to the
        candidate: that prefix runs once and each candidate runs only its
        own tokens and the template tail against its cache (see
        `keras_mathft.models.scorer`). The scores equal the full-prompt
        ones (`share_prefix=False`) up to float rounding. Lengths are
        bucketed so one compiled function serves many batches. Prompts
        longer than `sequence_length` (less the label length for multi-token
        labels) keep their start and their last tokens.

        Args:
            problems: list of str (or objects with `.problem`), one per
                solution.
            solutions: list of str.
            batch_size: int. Candidates per compiled call.
            sequence_length: int; defaults to the preprocessor's.
            share_prefix: bool. False runs every full prompt.

        Returns:
            float32 numpy array `[N]` of scores in (0, 1).

        Raises:
            ValueError: when the lists differ in length.
        """
        return self.scorer.score(
            problems,
            solutions,
            batch_size=batch_size,
            sequence_length=sequence_length,
            share_prefix=share_prefix,
        )

    def generate_solutions(self, problems, max_length=None, **kwargs):
        """Generates one solution per problem with the causal LM's sampler.

        Args:
            problems: list of str (or objects with `.problem`).
            max_length: int, total length (prompt included).
            **kwargs: passed to `CausalLM.generate` (`stop_token_ids`, ...).

        Returns:
            A list of solution strings (prompt stripped).
        """
        prompts = [
            self.prompt_template.generation_prompt(getattr(p, "problem", p))
            for p in problems
        ]
        outputs = self.causal_lm.generate(
            prompts, max_length=max_length, strip_prompt=True, **kwargs
        )
        return list(outputs)

    def get_config(self):
        config = super().get_config()
        causal_lm = keras.saving.serialize_keras_object(self.causal_lm)
        # Keras cannot restore the compile state of a keras-hub task (its
        # `compile` is custom) and warns on every load; the solver's own
        # compile config is what training needs.
        causal_lm.pop("compile_config", None)
        config.update(
            {
                "causal_lm": causal_lm,
                "prompt_template": self.prompt_template.get_config(),
                "label_token_ids": _to_lists(self._explicit_label_ids),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nested(config, "causal_lm"))

    @classmethod
    def from_preset(
        cls, preset, prompt_template=None, label_token_ids=None, **kwargs
    ):
        """Builds a `MathSolver` from a keras-hub preset, HF dir or GGUF.

        Works with built-in preset names, `hf://` / `kaggle://` handles, a
        local Keras preset directory (as written by `save_to_preset`, whose
        saved template is restored), a local Hugging Face checkpoint
        directory (`config.json`, `model.safetensors`, tokenizer files) and
        a llama.cpp `.gguf` file (through `load_gguf`, cached); see
        `keras_mathft.models.presets.load_causal_lm`.

        Args:
            preset: str, the preset name or path.
            prompt_template: optional `PromptTemplate`; overrides a saved
                one.
            label_token_ids: optional label token ids.
            **kwargs: passed to `keras_hub.models.CausalLM.from_preset`
                (e.g. `dtype="mixed_bfloat16"`), or to `load_gguf`.

        Returns:
            A `MathSolver`.
        """
        causal_lm = load_causal_lm(preset, **kwargs)
        saved = read_solver_settings(preset)
        if prompt_template is None and "prompt_template" in saved:
            prompt_template = saved["prompt_template"]
        if label_token_ids is None:
            label_token_ids = saved.get("label_token_ids")
        return cls(
            causal_lm,
            prompt_template=prompt_template,
            label_token_ids=label_token_ids,
        )

    def save_to_preset(self, preset_dir):
        """Writes a keras-hub preset plus the template (`mathft_config.json`).

        Args:
            preset_dir: str, the directory to write.
        """
        self.causal_lm.save_to_preset(preset_dir)
        write_solver_settings(
            preset_dir,
            {
                "prompt_template": self.prompt_template.get_config(),
                "label_token_ids": _to_lists(self._explicit_label_ids),
            },
        )

    def export_hf(self, path, **kwargs):
        """Writes the causal LM as a Hugging Face checkpoint folder.

        See `keras_mathft.models.hf_export.export_hf` (LoRA merged,
        quantized models refused, sharded above `max_shard_bytes`).

        Args:
            path: str, a new or empty folder.
            **kwargs: passed to `hf_export.export_hf`.

        Returns:
            str, the folder.
        """
        return hf_export.export_hf(self, path, **kwargs)


def _gather_positions(hidden, positions):
    # One-hot contraction instead of a gather: shards like any matmul.
    one_hot = ops.one_hot(positions, ops.shape(hidden)[1], dtype=hidden.dtype)
    return ops.einsum("bkt,bth->bkh", one_hot, hidden)


def _normalize_label_ids(label_token_ids):
    if label_token_ids is None:
        return None
    correct, incorrect = (tuple(int(i) for i in ids) for ids in label_token_ids)
    if not correct or not incorrect or correct == incorrect:
        raise ValueError(
            "Label token ids must be two different, non-empty sequences. "
            f"Received: {label_token_ids!r}"
        )
    return correct, incorrect


def _to_lists(label_ids):
    return None if label_ids is None else [list(ids) for ids in label_ids]
