"""The process evaluator: the paper's LM-as-evaluator applied per step.

The outcome evaluator (`MathSolver` with `objective="evaluation"`) reads
the label words once, after the whole solution. `ProcessEvaluator` reads
them at the end of every step, in one pass over the solution: the hidden
states at the step boundaries go through the LM head, as the outcome
scorer reads the last token, and each step's score is

    S_step = p(correct) / (p(correct) + p(incorrect))

at that step's last token (`keras_mathft.models.process_data` builds the
batches). It holds a `MathSolver` and shares its causal LM, template and
label words, so a process evaluator fine-tuned from the generator is the
generator's weights trained further, like the paper's evaluator.

Training (Keras' own train step, `compute_loss` below) takes the
`losses.EvaluatorOptions` of the outcome evaluator: `"xent"` is the
label-word cross-entropy on every labelled step, `"margin"` the paper's
margin loss between the good and the bad step of a pair (two solutions
of the same problem), `"mixture"` (the default here) both. A solution's
score aggregates its steps (`aggregate_step_scores`: the minimum or the
product), and `score_solutions` returns it, so the process evaluator
plugs into every re-ranker as `scores` (or through
`sampling.evaluator_score_fn`).
"""

import keras
import numpy as np
from keras import ops

from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.data.tokenization import pad_token_id
from keras_mathft.models import losses
from keras_mathft.models.compiled import CompiledFunctions
from keras_mathft.models.compiled import compile_inference_function
from keras_mathft.models.process_data import pack_steps
from keras_mathft.models.process_data import tokenize_steps

AGGREGATES = ("min", "product")


def aggregate_step_scores(step_scores, how="min"):
    """A solution's score from its steps' scores.

    Args:
        step_scores: list (one per solution) of sequences of step scores
            in (0, 1).
        how: `"min"` (the weakest step) or `"product"` (the chance that
            every step is right, were they independent).

    Returns:
        float64 numpy array, one score per solution.

    Example:

    >>> aggregate_step_scores([[0.9, 0.5], [0.8]], "product").tolist()
    [0.45, 0.8]
    """
    losses.check_choice("how", how, AGGREGATES)
    fn = np.min if how == "min" else np.prod
    return np.asarray(
        [float(fn(np.asarray(s, "float64"))) for s in step_scores], "float64"
    )


@keras.saving.register_keras_serializable(package="keras_mathft")
class ProcessEvaluator(keras.Model):
    """Step-level LM-as-evaluator over a `MathSolver`'s causal LM.

    Args:
        solver: a `keras_mathft.models.MathSolver`; its causal LM's weights
            are this model's (shared, not copied).
        **kwargs: `keras.Model` arguments.

    The label words must differ in their first token, which is the one
    read at each step (one pass reads every step).

    Example:

    >>> from keras_mathft import data, models
    >>> lm = models.build_causal_lm(
    ...     "gemma", data.embedded_tokenizer_proto(), num_layers=1,
    ...     hidden_dim=16, sequence_length=64)
    >>> evaluator = ProcessEvaluator(models.MathSolver(lm))
    >>> steps = evaluator.score_steps(["1+1?"], ["1 + 1 = 2\\n\\\\boxed{2}"])
    >>> len(steps[0])
    2
    >>> bool(0 < evaluator.score_solutions(["1+1?"], ["\\\\boxed{2}"])[0] < 1)
    True
    """

    def __init__(self, solver, **kwargs):
        super().__init__(**kwargs)
        self.solver = solver
        self.evaluator_options = losses.EvaluatorOptions(
            evaluator_loss="mixture"
        )
        self._functions = None
        self.built = True

    @property
    def backbone(self):
        return self.solver.backbone

    @property
    def label_ids(self):
        """`(correct, incorrect)`: the first token of each label word."""
        correct, incorrect = self.solver.label_token_ids
        if correct[0] == incorrect[0]:
            raise ValueError(
                "The process evaluator reads the first token of each label "
                "word; the label words must differ in it. Received: label "
                f"token ids {correct} and {incorrect}"
            )
        return int(correct[0]), int(incorrect[0])

    def enable_lora(self, rank, target_layer_names=None):
        """Enables LoRA on the shared causal LM (`MathSolver.enable_lora`);
        `models.fit_phases` calls it for a `trainable="lora"` phase."""
        self.solver.enable_lora(rank, target_layer_names)

    # === Forward pass ===

    def call(self, inputs, training=False):
        """Label log-probabilities at every step end.

        Args:
            inputs: a solutions batch (`[B, T]` tokens, `[B, S]` step
                positions) or a pairs batch (`[B, 2, ...]`), see
                `keras_mathft.models.process_data`.
            training: bool.

        Returns:
            float32 `[B, S, 2]` (or `[B, 2, S, 2]`): `log p(correct)` and
            `log p(incorrect)` after each step.
        """
        token_ids = inputs["token_ids"]
        mask = inputs["padding_mask"]
        positions = inputs["step_positions"]
        if len(token_ids.shape) == 3:
            length, steps = token_ids.shape[2], positions.shape[2]
            lp = self.step_log_probs(
                ops.reshape(token_ids, (-1, length)),
                ops.reshape(mask, (-1, length)),
                ops.reshape(positions, (-1, steps)),
                training=training,
            )
            return ops.reshape(lp, (-1, 2, steps, 2))
        return self.step_log_probs(token_ids, mask, positions, training)

    def step_log_probs(
        self, token_ids, padding_mask, positions, training=False
    ):
        """`[B, S, 2]` float32 label log-probabilities at `positions`."""
        hidden = self.backbone(
            {"token_ids": token_ids, "padding_mask": padding_mask},
            training=training,
        )
        one_hot = ops.one_hot(
            positions, ops.shape(hidden)[1], dtype=hidden.dtype
        )
        at_steps = ops.einsum("bst,bth->bsh", one_hot, hidden)
        logp = losses.vocab_log_probs(self.backbone, at_steps)
        return ops.take(logp, list(self.label_ids), axis=2)

    # === Training ===

    def compile(self, optimizer="auto", objective="evaluation", **kwargs):
        """Configures training on step labels.

        Args:
            optimizer: a `keras.Optimizer` or name; `"auto"` is
                `AdamW(2e-5)`.
            objective: `"evaluation"`, the only one a process evaluator
                trains (it is there so that `models.fit_phases` trains an
                evaluation phase of a schedule on this model).
            **kwargs: fields of `losses.EvaluatorOptions` (`evaluator_loss`
                defaults to `"mixture"` here: cross-entropy on every
                labelled step plus the margin between each pair's good and
                bad step; `"xent"` trains on solutions batches too), then
                `keras.Model.compile` arguments.

        Raises:
            ValueError: for another objective.
        """
        if objective != "evaluation":
            raise ValueError(
                "A `ProcessEvaluator` trains the evaluation objective only; "
                "train generation phases on its `solver`. Received: "
                f"objective={objective!r}"
            )
        defaults = losses.EvaluatorOptions(evaluator_loss="mixture")
        self.evaluator_options = losses.EvaluatorOptions.pop_from(
            kwargs, defaults
        )
        _ = self.label_ids
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(2e-5)
        super().compile(optimizer=optimizer, loss=None, **kwargs)
        self._functions = None

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The float32 loss of `call`'s outputs on step labels.

        Args:
            x: a solutions or pairs batch.
            y: float32 step labels shaped like `x["step_positions"]`.
            y_pred: what `call` returned.
            sample_weight: 1 on labelled steps, 0 elsewhere.
            training: bool.

        Returns:
            A float32 scalar.

        Raises:
            ValueError: when the margin is asked of a batch without pairs.
        """
        options = self.evaluator_options
        if y is None or sample_weight is None:
            raise ValueError(
                "Process batches need step labels `y` and their weights "
                "`sample_weight` (1 on labelled steps). Received: y="
                f"{type(y).__name__}, sample_weight="
                f"{type(sample_weight).__name__}"
            )
        lp = ops.reshape(y_pred, (-1, 2))
        total = 0.0
        margin_weight = {"xent": 0.0, "margin": 1.0}.get(
            options.evaluator_loss, options.mixture_weight
        )
        if margin_weight > 0:
            if "pair_steps" not in x:
                raise ValueError(
                    f"evaluator_loss={options.evaluator_loss!r} needs pair "
                    "batches (`x['pair_steps']`). Received: a batch of "
                    "solutions; compile with evaluator_loss='xent'"
                )
            good, bad = _pair_steps(y_pred, x["pair_steps"])
            total = total + margin_weight * losses.pairwise_margin_loss(
                losses.evaluator_log_score(good[:, 0], good[:, 1]),
                losses.evaluator_log_score(bad[:, 0], bad[:, 1]),
                options.margin,
            )
        if margin_weight < 1:
            xent = losses.evaluator_xent_loss(
                lp[:, 0],
                lp[:, 1],
                ops.reshape(y, (-1,)),
                ops.reshape(sample_weight, (-1,)),
                normalization=options.xent_normalization,
            )
            total = total + (1.0 - margin_weight) * xent
        return losses.scale_loss_for_distribution(total)

    # === Scoring ===

    def _score_function(self):
        # Resolve the label ids in Python, outside any traced function.
        _ = self.label_ids
        if self._functions is None:
            self._functions = CompiledFunctions(self)

        def fn(token_ids, padding_mask, positions):
            lp = self.step_log_probs(token_ids, padding_mask, positions)
            return losses.evaluator_score(lp[..., 0], lp[..., 1])

        return self._functions.get(
            "steps", lambda: compile_inference_function(self, fn)
        )

    def score_steps(
        self, problems, solutions, batch_size=16, sequence_length=None
    ):
        """The score of every step of every solution, one pass each.

        Args:
            problems: list of str (or objects with `.problem`), one per
                solution.
            solutions: list of str.
            batch_size: int, solutions per compiled call.
            sequence_length: int; defaults to the preprocessor's. Longer
                texts are cut, with the steps that end past the cut.

        Returns:
            A list of float32 numpy arrays, one per solution, one score
            per step kept (a blank solution, or one cut before its first
            step ends, has one score: after the template head).
        """
        solver = self.solver
        length = sequence_length or solver.preprocessor.sequence_length
        ids, positions, _ = tokenize_steps(
            solver.tokenizer,
            solver.prompt_template,
            problems,
            solutions,
            length,
        )
        # A solution without a kept step reads its last kept token.
        positions = [p or [len(row) - 1] for p, row in zip(positions, ids)]
        order = sorted(range(len(ids)), key=lambda i: len(positions[i]))
        out = [None] * len(ids)
        fn = self._score_function()
        pad = pad_token_id(solver.tokenizer)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            padded = chunk + [chunk[0]] * (batch_size - len(chunk))
            steps = geometric_bucket(
                max(len(positions[i]) for i in chunk), minimum=4
            )
            used = geometric_bucket(
                max(len(ids[i]) for i in chunk), minimum=16, maximum=length
            )
            x, _, _ = pack_steps(
                [ids[i] for i in padded],
                [positions[i] for i in padded],
                None,
                used,
                steps,
                pad,
            )
            scores = fn(x["token_ids"], x["padding_mask"], x["step_positions"])
            scores = np.asarray(ops.convert_to_numpy(scores), "float32")
            for row, i in enumerate(chunk):
                out[i] = scores[row, : len(positions[i])]
        return out

    def score_solutions(
        self,
        problems,
        solutions,
        batch_size=16,
        sequence_length=None,
        aggregate="min",
    ):
        """One score per solution: its step scores aggregated.

        The same call as `MathSolver.score_solutions`, so a process
        evaluator goes wherever an evaluator does
        (`sampling.evaluator_score_fn`, the re-rankers' `scores`).

        Args:
            problems: list of str (or objects with `.problem`).
            solutions: list of str.
            batch_size: int.
            sequence_length: int or None.
            aggregate: `"min"` or `"product"`.

        Returns:
            float32 numpy array `[N]`.
        """
        steps = self.score_steps(
            problems, solutions, batch_size, sequence_length
        )
        return aggregate_step_scores(steps, aggregate).astype("float32")

    def get_config(self):
        config = super().get_config()
        config["solver"] = keras.saving.serialize_keras_object(self.solver)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        solver = keras.saving.deserialize_keras_object(config.pop("solver"))
        return cls(solver, **config)


def _pair_steps(y_pred, pair_steps):
    """`(good, bad)` `[B, 2]` log-probs of each pair's chosen steps."""
    steps = ops.shape(y_pred)[2]
    one_hot = ops.one_hot(pair_steps, steps, dtype=y_pred.dtype)  # [B, 2, S]
    chosen = ops.einsum("bks,bksl->bkl", one_hot, y_pred)
    return chosen[:, 0], chosen[:, 1]
