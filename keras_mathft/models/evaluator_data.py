"""Evaluator training data: examples, balanced pairs, tokenized batches.

Batch formats (what `MathSolver.compile(objective="evaluation")` trains on):

- classification: `x = {"token_ids": int32[B, T], "padding_mask":
  bool[B, T]}` holding the evaluation prompt (start token, right padding,
  no label word), `y = float32[B]` with 1 for a correct solution.
- pairs: the same keys with shape `[B, 2, T]`, index 0 the right solution
  and index 1 the wrong one of each pair; `y` is unused.

The model appends the label words itself, so one tokenization serves every
loss and the label tokenization can never drift from the model's.
"""

import dataclasses
import random

import numpy as np
from keras import ops

from keras_mathft.data.bucketing import geometric_bucket
from keras_mathft.data.tokenization import token_id_lists
from keras_mathft.data.tokenization import tokenize_prompts


@dataclasses.dataclass(frozen=True)
class EvaluatorExample:
    """One (problem, candidate solution, label) classification example."""

    problem: str
    solution: str
    label: int


@dataclasses.dataclass(frozen=True)
class EvaluatorPair:
    """One (problem, right solution, wrong solution) ranking pair."""

    problem: str
    right: str
    wrong: str


@dataclasses.dataclass(frozen=True)
class EvaluatorDataStats:
    """Counts of what `build_evaluator_examples` kept and skipped."""

    problems: int
    problems_with_pairs: int
    skipped_no_right: int
    skipped_no_wrong: int
    examples: int
    right_examples: int
    wrong_examples: int
    pairs: int

    @classmethod
    def of(cls, problems, examples, pairs, with_pairs, no_right, no_wrong):
        """Counts of the examples and pairs built from `problems` problems,
        of which `with_pairs` gave pairs and the others lacked a right
        (`no_right`) or a wrong (`no_wrong`) sample."""
        n_right = sum(e.label for e in examples)
        return cls(
            problems=problems,
            problems_with_pairs=with_pairs,
            skipped_no_right=no_right,
            skipped_no_wrong=no_wrong,
            examples=len(examples),
            right_examples=n_right,
            wrong_examples=len(examples) - n_right,
            pairs=len(pairs),
        )

    def summary(self):
        """Returns a one-line human-readable summary."""
        return (
            f"{self.problems} problems: {self.problems_with_pairs} with "
            f"pairs, {self.skipped_no_right} skipped (no right sample), "
            f"{self.skipped_no_wrong} skipped (no wrong sample); "
            f"{self.examples} examples ({self.right_examples} right, "
            f"{self.wrong_examples} wrong); {self.pairs} pairs"
        )


@dataclasses.dataclass(frozen=True)
class EvaluatorData:
    """The output of `build_evaluator_examples`."""

    examples: list
    pairs: list
    stats: EvaluatorDataStats


def build_evaluator_examples(
    problems, samples, labels, *, max_pairs_per_problem=10, seed=0
):
    """Builds classification examples and balanced ranking pairs.

    Every (problem, sample, label) becomes a classification example. For the
    margin loss each problem gives up to `max_pairs_per_problem` (the
    paper's 10) (right, wrong) pairs, drawn without repetition from all
    right x wrong combinations, cycling through the right samples and the
    wrong samples so no single sample dominates. Problems with no right or
    no wrong sample give no pairs and are counted in the stats.

    Args:
        problems: list of problem texts (str) or objects with a `.problem`
            attribute (e.g. `keras_mathft.data.MathProblem`).
        samples: list (one entry per problem) of lists of solution texts.
        labels: list (one entry per problem) of lists of bools or 0/1, the
            grader's verdict for each sample.
        max_pairs_per_problem: int >= 1.
        seed: int, for the pair draw.

    Returns:
        An `EvaluatorData` with `examples`, `pairs` and `stats`.

    Raises:
        ValueError: when the lists have different lengths.

    Example:

    >>> data = build_evaluator_examples(
    ...     ["1+1?"], [["2", "3", "2"]], [[1, 0, 1]], seed=0)
    >>> data.stats.pairs
    2
    """
    if not len(problems) == len(samples) == len(labels):
        raise ValueError(
            "`problems`, `samples` and `labels` must have the same length. "
            f"Received: {len(problems)}, {len(samples)}, {len(labels)}"
        )
    if max_pairs_per_problem < 1:
        raise ValueError(
            "`max_pairs_per_problem` must be >= 1. "
            f"Received: {max_pairs_per_problem}"
        )
    rng = random.Random(seed)
    examples, pairs = [], []
    no_right = no_wrong = with_pairs = 0
    for problem, texts, verdicts in zip(problems, samples, labels):
        problem = getattr(problem, "problem", problem)
        if len(texts) != len(verdicts):
            raise ValueError(
                "Each problem needs one label per sample. Received: "
                f"{len(texts)} samples and {len(verdicts)} labels"
            )
        right = [t for t, v in zip(texts, verdicts) if v]
        wrong = [t for t, v in zip(texts, verdicts) if not v]
        examples.extend(
            EvaluatorExample(problem, t, int(bool(v)))
            for t, v in zip(texts, verdicts)
        )
        if not right:
            no_right += 1
            continue
        if not wrong:
            no_wrong += 1
            continue
        with_pairs += 1
        chosen = _balanced_pairs(len(right), len(wrong), max_pairs_per_problem)
        rng.shuffle(chosen)
        pairs.extend(
            EvaluatorPair(problem, right[i], wrong[j]) for i, j in chosen
        )
    stats = EvaluatorDataStats.of(
        len(problems), examples, pairs, with_pairs, no_right, no_wrong
    )
    return EvaluatorData(examples, pairs, stats)


def _balanced_pairs(n_right, n_wrong, k):
    # Walk the grid of right x wrong indices diagonal by diagonal: every
    # combination appears once, and each diagonal spreads over all samples,
    # so the first pairs use every sample before any is used twice.
    grid = [
        (i, (i + d) % n_wrong) for d in range(n_wrong) for i in range(n_right)
    ]
    return grid[:k]


def _tokenize_prompts(tokenizer, texts, sequence_length):
    # Right-padded after a start token; a long prompt keeps its start and
    # its tail, which the label word continues.
    x, _ = tokenize_prompts(
        tokenizer, texts, sequence_length, padding_side="right"
    )
    return x


def evaluation_texts(template, problems, solutions):
    """Evaluation prompts for (problem, solution) pairs.

    Args:
        template: a `PromptTemplate`.
        problems: list of str or objects with `.problem`.
        solutions: list of str, as long as `problems`.

    Returns:
        A list of str.

    Raises:
        ValueError: when the lists differ in length.
    """
    if len(problems) != len(solutions):
        raise ValueError(
            "`problems` and `solutions` must have the same length. "
            f"Received: {len(problems)} and {len(solutions)}"
        )
    return [
        template.evaluation_prompt(getattr(p, "problem", p), s)
        for p, s in zip(problems, solutions)
    ]


def classification_inputs(model, examples, sequence_length):
    """Tokenizes `EvaluatorExample`s into `(x, y)` for the evaluator.

    Args:
        model: a `MathSolver` (its tokenizer and template are used).
        examples: list of `EvaluatorExample`.
        sequence_length: int.

    Returns:
        `(x, y)`: the classification batch format of this module.
    """
    texts = [
        model.prompt_template.evaluation_prompt(e.problem, e.solution)
        for e in examples
    ]
    x = _tokenize_prompts(model.tokenizer, texts, sequence_length)
    y = np.array([e.label for e in examples], "float32")
    return x, y


def pair_inputs(model, pairs, sequence_length):
    """Tokenizes `EvaluatorPair`s into the `[N, 2, T]` pair format.

    Args:
        model: a `MathSolver`.
        pairs: list of `EvaluatorPair`.
        sequence_length: int.

    Returns:
        `x`, a dict of `[N, 2, sequence_length]` arrays.
    """
    template = model.prompt_template
    texts = []
    for p in pairs:
        texts.append(template.evaluation_prompt(p.problem, p.right))
        texts.append(template.evaluation_prompt(p.problem, p.wrong))
    x = _tokenize_prompts(model.tokenizer, texts, sequence_length)
    return {
        k: v.reshape((len(pairs), 2, sequence_length)) for k, v in x.items()
    }


def bucketed_scores(
    tokenizer, texts, score_function, batch_size, sequence_length
):
    """Scores texts in fixed-shape batches, grouped by length bucket.

    Args:
        tokenizer: a keras-hub tokenizer.
        texts: list of str, the full scoring prompts.
        score_function: `(token_ids, padding_mask) -> [B]` scores.
        batch_size: int; every batch is padded to it (repeating a row), so
            `score_function` sees one shape per bucket.
        sequence_length: int, the largest bucket.

    Returns:
        float32 numpy array `[len(texts)]`.
    """
    extra = 0 if getattr(tokenizer, "start_token_id", None) is None else 1
    buckets = {}
    for i, ids in enumerate(token_id_lists(tokenizer, texts)):
        length = geometric_bucket(
            len(ids) + extra, minimum=64, maximum=sequence_length
        )
        buckets.setdefault(length, []).append(i)
    scores = np.zeros((len(texts),), "float32")
    for length, rows in sorted(buckets.items()):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            padded = chunk + [chunk[0]] * (batch_size - len(chunk))
            x = _tokenize_prompts(tokenizer, [texts[i] for i in padded], length)
            out = score_function(x["token_ids"], x["padding_mask"])
            scores[chunk] = ops.convert_to_numpy(out)[: len(chunk)]
    return scores
