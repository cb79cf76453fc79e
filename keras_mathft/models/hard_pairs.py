"""Harder outcome pairs: the wrong solution has a plausible answer.

The paper's pairs (`evaluator_data.build_evaluator_examples`) take any
wrong sample, so many of them end in no answer, an answer of another
form than the gold one (`7` where a fraction is asked) or an answer the
generator wrote once. An evaluator can separate those by the answer
alone. `hard_outcome_pairs` keeps only wrong samples whose answer is
plausible: of the gold answer's form (`answer_form`) and in one of the
generator's own largest wrong answer clusters for that problem. It is
the outcome baseline of the process evaluator's study.
"""

import random
import re

from keras_mathft import grading
from keras_mathft.models.evaluator_data import EvaluatorData
from keras_mathft.models.evaluator_data import EvaluatorDataStats
from keras_mathft.models.evaluator_data import EvaluatorExample
from keras_mathft.models.evaluator_data import EvaluatorPair

FORMS = ("integer", "fraction", "decimal", "other")


def answer_form(answer):
    """The form of an answer: integer, fraction, decimal or other.

    A leading label (`x=`) and sign are ignored; `\\frac{a}{b}` and
    `a/b` of integers are fractions.

    Args:
        answer: str or None.

    Returns:
        One of `FORMS`, or None for no answer.

    Example:

    >>> [answer_form(a) for a in ("7", "x=-\\\\frac{3}{2}", "0.5", "\\\\pi")]
    ['integer', 'fraction', 'decimal', 'other']
    """
    if answer is None:
        return None
    text = re.sub(r"^[a-zA-Z]\s*=\s*", "", answer.replace(" ", ""))
    text = text.lstrip("-+")
    if re.fullmatch(r"\d+", text):
        return "integer"
    if re.fullmatch(r"\d*\.\d+", text):
        return "decimal"
    if re.fullmatch(r"\\[dt]?frac\{\d+\}\{\d+\}|\d+/\d+", text):
        return "fraction"
    return "other"


def plausible_wrong(answers, correct, gold, min_cluster_size=2):
    """Indices of the wrong samples whose answer is plausible.

    A wrong answer is plausible when it has the gold answer's form and
    its cluster among the problem's samples is one of the largest wrong
    ones: at least `min_cluster_size` samples, or, when no wrong cluster
    of the form is that large, the largest.

    Args:
        answers: list of str or None, the samples' answers.
        correct: list of bool.
        gold: str, the reference answer.
        min_cluster_size: int >= 1.

    Returns:
        A list of sample indices, larger clusters first (ties: the
        cluster holding the smaller index), then by index.

    Example:

    >>> plausible_wrong(["3", "3", "5", None, "2.5", "4"],
    ...                 [False, False, False, False, False, True], "4")
    [0, 1]
    """
    form = answer_form(gold)
    clusters = [
        c
        for c in grading.cluster_answers(list(answers))
        if not correct[c.members[0]] and answer_form(c.representative) == form
    ]
    if not clusters:
        return []
    largest = max(len(c.members) for c in clusters)
    size = min(min_cluster_size, largest)
    return [i for c in clusters if len(c.members) >= size for i in c.members]


def hard_outcome_pairs(
    problems,
    samples,
    labels,
    answers=None,
    *,
    max_pairs_per_problem=10,
    min_cluster_size=2,
    seed=0,
):
    """Outcome pairs whose wrong member has a plausible answer.

    Each problem pairs its right samples with its plausible wrong ones
    (`plausible_wrong`), the most plausible first and every wrong sample
    once before any twice, cycling through the right samples; up to
    `max_pairs_per_problem` pairs, shuffled. Every sample is also a
    classification example, as in `build_evaluator_examples`.

    Args:
        problems: list of `MathProblem` (the gold `answer` is read).
        samples: list (one per problem) of lists of solution texts.
        labels: list (one per problem) of lists of bools.
        answers: optional list (one per problem) of lists of the samples'
            answers; extracted from the texts when None.
        max_pairs_per_problem: int >= 1.
        min_cluster_size: int >= 1, see `plausible_wrong`.
        seed: int.

    Returns:
        An `EvaluatorData`; `skipped_no_wrong` counts the problems with a
        right sample and no plausible wrong one.

    Raises:
        ValueError: when the lists differ in length.
    """
    if not len(problems) == len(samples) == len(labels):
        raise ValueError(
            "`problems`, `samples` and `labels` must have the same length. "
            f"Received: {len(problems)}, {len(samples)}, {len(labels)}"
        )
    if answers is None:
        answers = [[grading.extract_answer(t) for t in g] for g in samples]
    rng = random.Random(seed)
    examples, pairs = [], []
    no_right = no_wrong = with_pairs = 0
    for problem, texts, verdicts, found in zip(
        problems, samples, labels, answers
    ):
        examples.extend(
            EvaluatorExample(problem.problem, t, int(bool(v)))
            for t, v in zip(texts, verdicts)
        )
        right = [i for i, v in enumerate(verdicts) if v]
        wrong = plausible_wrong(
            found, verdicts, problem.answer, min_cluster_size
        )
        if not right:
            no_right += 1
            continue
        if not wrong:
            no_wrong += 1
            continue
        with_pairs += 1
        chosen = [
            (right[(j + d) % len(right)], w)
            for d in range(len(right))
            for j, w in enumerate(wrong)
        ][:max_pairs_per_problem]
        rng.shuffle(chosen)
        pairs.extend(
            EvaluatorPair(problem.problem, texts[i], texts[j])
            for i, j in chosen
        )
    stats = EvaluatorDataStats.of(
        len(problems), examples, pairs, with_pairs, no_right, no_wrong
    )
    return EvaluatorData(examples, pairs, stats)
