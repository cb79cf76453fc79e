"""Step-labelled training data of the process evaluator, and its batches.

A process evaluator reads the label words at the end of every step of a
solution (`keras_mathft.models.process`). Its data is solutions with one
label per step (`keras_mathft.data.step_labels`: `RIGHT`, `WRONG` or
`None` for an unlabelled step), from the embedded task's exact checker or
from Monte-Carlo rollouts (`keras_mathft.sampling.rollouts`).

Batch formats (what `ProcessEvaluator` trains on and scores):

- solutions: `x = {"token_ids": int32[B, T], "padding_mask": bool[B, T],
  "step_positions": int32[B, S]}`, where `step_positions[b, s]` is the
  index of the last token of step `s` (0 for padding steps);
  `y = float32[B, S]` the step labels (1 right, 0 wrong, 0 where
  unlabelled) and `sample_weight = float32[B, S]`, 1 exactly on the
  labelled steps.
- pairs: the same keys with a `[B, 2, ...]` shape (index 0 the solution
  with a good step, 1 the one with a bad step, of the same problem) and
  `x["pair_steps"] = int32[B, 2]`, the good and the bad step's index.

The text is the evaluation template up to its `{solution}` field, then
the solution: the label word after step `s` is predicted from the
problem and the solution up to that step.
"""

import dataclasses
import random

import numpy as np

from keras_mathft.data.step_labels import RIGHT
from keras_mathft.data.step_labels import WRONG
from keras_mathft.data.step_labels import split_steps
from keras_mathft.data.tokenization import pad_token_id
from keras_mathft.data.tokenization import token_id_lists

_MARK = "\x00solution\x00"


@dataclasses.dataclass(frozen=True)
class ProcessExample:
    """One solution with a label per step (`split_steps(solution)`).

    Args:
        problem: str, the problem text.
        solution: str.
        labels: tuple, one per step of `split_steps(solution)`: 1, 0 or
            None.
    """

    problem: str
    solution: str
    labels: tuple

    def __post_init__(self):
        steps = len(split_steps(self.solution))
        labels = tuple(self.labels)
        if len(labels) != steps or any(v not in (0, 1, None) for v in labels):
            raise ValueError(
                "`labels` must hold one of 1, 0 or None per step of the "
                f"solution ({steps} steps). Received: {labels!r}"
            )
        object.__setattr__(self, "labels", labels)

    @property
    def good_steps(self):
        return [i for i, v in enumerate(self.labels) if v == RIGHT]

    @property
    def bad_steps(self):
        return [i for i, v in enumerate(self.labels) if v == WRONG]


@dataclasses.dataclass(frozen=True)
class ProcessPair:
    """A good step and a bad step of two solutions of the same problem.

    Args:
        good: `ProcessExample` with a step labelled right.
        good_step: int, that step (its last right step).
        bad: `ProcessExample` with a step labelled wrong.
        bad_step: int, that step (its first wrong step).
    """

    good: ProcessExample
    good_step: int
    bad: ProcessExample
    bad_step: int


def build_process_pairs(examples, max_pairs_per_problem=10, seed=0):
    """Pairs a good step with a bad step of the same problem.

    For each problem (equal `problem` text), the solutions with a step
    labelled right are paired with the other solutions that have a
    step labelled wrong, walking the grid of combinations diagonal by
    diagonal so that every solution is used once before any twice;
    solutions labelled right throughout come first among the good ones.
    The good step is the good solution's last right step, the bad step
    the bad solution's first wrong one. A problem with no good or no
    bad step gives no pairs.

    Args:
        examples: list of `ProcessExample`.
        max_pairs_per_problem: int >= 1.
        seed: int, shuffles each problem's pairs.

    Returns:
        A list of `ProcessPair`.

    Example:

    >>> a = ProcessExample("1+1?", "1 + 1 = 2\\n\\\\boxed{2}", (1, 1))
    >>> b = ProcessExample("1+1?", "1 + 1 = 3\\n\\\\boxed{3}", (0, None))
    >>> [(p.good_step, p.bad_step) for p in build_process_pairs([a, b])]
    [(1, 0)]
    """
    if max_pairs_per_problem < 1:
        raise ValueError(
            "`max_pairs_per_problem` must be >= 1. "
            f"Received: {max_pairs_per_problem}"
        )
    rng = random.Random(seed)
    by_problem = {}
    for example in examples:
        by_problem.setdefault(example.problem, []).append(example)
    pairs = []
    for group in by_problem.values():
        good = [e for e in group if e.good_steps]
        good.sort(key=lambda e: not all(v == RIGHT for v in e.labels))
        bad = [e for e in group if e.bad_steps]
        chosen = []
        for d in range(len(bad)):
            for i, g in enumerate(good):
                b = bad[(i + d) % len(bad)]
                if b is not g and (g, b) not in chosen:
                    chosen.append((g, b))
        chosen = chosen[:max_pairs_per_problem]
        rng.shuffle(chosen)
        pairs.extend(
            ProcessPair(g, g.good_steps[-1], b, b.bad_steps[0])
            for g, b in chosen
        )
    return pairs


def process_texts(template, problems, solutions):
    """`(heads, texts)`: the evaluation template's text before
    `{solution}`, and that head followed by each solution.

    Args:
        template: a `data.PromptTemplate`.
        problems: list of str (or objects with `.problem`).
        solutions: list of str.

    Returns:
        Two lists of str.
    """
    if len(problems) != len(solutions):
        raise ValueError(
            "`problems` and `solutions` must have the same length. "
            f"Received: {len(problems)} and {len(solutions)}"
        )
    heads = [
        template.evaluation_prompt(getattr(p, "problem", p), _MARK).split(
            _MARK
        )[0]
        for p in problems
    ]
    return heads, [h + s for h, s in zip(heads, solutions)]


def tokenize_steps(tokenizer, template, problems, solutions, sequence_length):
    """Token ids of each solution's text and the positions of its steps.

    The text is the template head then the solution, after the
    tokenizer's start token; step `s` ends at the last token of the
    text up to the end of step `s` (exactly where that prefix's
    tokenization agrees with the whole text's). A blank solution has one
    step, ending at the last token of the head. Text past
    `sequence_length` tokens is cut, and so are the steps that end
    there.

    Args:
        tokenizer: a keras-hub tokenizer.
        template: a `data.PromptTemplate`.
        problems: list of str (or objects with `.problem`).
        solutions: list of str.
        sequence_length: int.

    Returns:
        `(ids, positions, kept)`: per solution, its token ids (a list of
        int), the end position of each kept step, and how many of its
        `split_steps` steps were kept (a blank solution keeps 0).
    """
    heads, texts = process_texts(template, problems, solutions)
    prefixes, owners = [], []
    for i, (head, solution) in enumerate(zip(heads, solutions)):
        prefixes.append(texts[i])
        owners.append((i, -1))
        for s, step in enumerate(split_steps(solution)):
            prefixes.append(head + solution[: step.end])
            owners.append((i, s))
        if not split_steps(solution):
            prefixes.append(head)
            owners.append((i, 0))
    ids = token_id_lists(tokenizer, prefixes)
    start = getattr(tokenizer, "start_token_id", None)
    offset = 0 if start is None else 1
    full, positions = {}, [[] for _ in solutions]
    for (i, s), row in zip(owners, ids):
        if s == -1:
            full[i] = ([] if start is None else [int(start)]) + row
            continue
        whole = full[i][offset:]
        agree = 0
        while agree < min(len(row), len(whole)) and row[agree] == whole[agree]:
            agree += 1
        positions[i].append(offset + max(agree, 1) - 1)
    out_ids, out_positions, kept = [], [], []
    for i, solution in enumerate(solutions):
        row = full[i][:sequence_length]
        ends = [p for p in positions[i] if p < len(row)]
        out_ids.append(row)
        out_positions.append(ends)
        kept.append(len(ends) if split_steps(solution) else 0)
    return out_ids, out_positions, kept


def step_inputs(
    tokenizer, template, problems, solutions, labels, sequence_length, steps
):
    """The solutions batch format of this module, as numpy arrays.

    Args:
        tokenizer: a keras-hub tokenizer.
        template: a `data.PromptTemplate`.
        problems: list of str (or objects with `.problem`).
        solutions: list of str.
        labels: list of label tuples (see `ProcessExample`), or None.
        sequence_length: int, `T`.
        steps: int, `S`; solutions with more steps keep their first `S`.

    Returns:
        `(x, y, sample_weight)`.
    """
    ids, positions, _ = tokenize_steps(
        tokenizer, template, problems, solutions, sequence_length
    )
    return pack_steps(
        ids, positions, labels, sequence_length, steps, pad_token_id(tokenizer)
    )


def pack_steps(ids, positions, labels, sequence_length, steps, pad=0):
    """Packs `tokenize_steps`' lists into the solutions batch format.

    Args:
        ids: list of token id lists.
        positions: list of step end position lists.
        labels: list of label tuples, or None.
        sequence_length: int, `T` (at least the longest row).
        steps: int, `S`; rows with more steps keep their first `S`.
        pad: int, the padding token id.

    Returns:
        `(x, y, sample_weight)` numpy arrays.
    """
    n = len(ids)
    token_ids = np.full((n, sequence_length), pad, "int32")
    mask = np.zeros((n, sequence_length), bool)
    step_positions = np.zeros((n, steps), "int32")
    y = np.zeros((n, steps), "float32")
    weight = np.zeros((n, steps), "float32")
    for i, (row, ends) in enumerate(zip(ids, positions)):
        token_ids[i, : len(row)] = row
        mask[i, : len(row)] = True
        ends = ends[:steps]
        step_positions[i, : len(ends)] = ends
        if labels is None:
            continue
        for s, value in enumerate(labels[i][: len(ends)]):
            if value is not None:
                y[i, s] = float(value)
                weight[i, s] = 1.0
    x = {
        "token_ids": token_ids,
        "padding_mask": mask,
        "step_positions": step_positions,
    }
    return x, y, weight


def example_inputs(solver, examples, sequence_length, steps):
    """Tokenizes `ProcessExample`s into `(x, y, sample_weight)`.

    Args:
        solver: a `MathSolver` (its tokenizer and template).
        examples: list of `ProcessExample`.
        sequence_length: int.
        steps: int, most steps per solution.

    Returns:
        The solutions batch format.
    """
    return step_inputs(
        solver.tokenizer,
        solver.prompt_template,
        [e.problem for e in examples],
        [e.solution for e in examples],
        [e.labels for e in examples],
        sequence_length,
        steps,
    )


def pair_step_inputs(solver, pairs, sequence_length, steps):
    """Tokenizes `ProcessPair`s into the pairs batch format.

    Args:
        solver: a `MathSolver`.
        pairs: list of `ProcessPair`.
        sequence_length: int.
        steps: int, most steps per solution; a pair whose good or bad
            step is past it (or cut by `sequence_length`) is dropped.

    Returns:
        `(x, y, sample_weight)` with `[N, 2, ...]` arrays and
        `x["pair_steps"]`.
    """
    flat = [e for p in pairs for e in (p.good, p.bad)]
    x, y, weight = example_inputs(solver, flat, sequence_length, steps)
    chosen = np.asarray(
        [[p.good_step, p.bad_step] for p in pairs], "int32"
    ).reshape((-1, 2))
    weight2 = weight.reshape((-1, 2, steps))
    rows = np.arange(len(pairs))
    keep = (chosen < steps).all(axis=1)
    keep &= weight2[rows, 0, np.minimum(chosen[:, 0], steps - 1)] > 0
    keep &= weight2[rows, 1, np.minimum(chosen[:, 1], steps - 1)] > 0
    x = {
        k: v.reshape((len(pairs), 2) + v.shape[1:])[keep] for k, v in x.items()
    }
    x["pair_steps"] = chosen[keep]
    return (
        x,
        y.reshape((-1, 2, steps))[keep],
        weight2[keep],
    )
