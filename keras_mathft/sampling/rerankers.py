"""Re-rankers: pick one answer from N solutions, counting evaluator calls.

Every re-ranker takes one problem's sampled `answers` (None where no answer
was found), the grader's `clusters` of those answers
(`keras_mathft.grading.cluster_answers`: sorted by size, ties by smallest
member index, None answers in no cluster) and, where it needs them,
evaluator `scores`: an array of N floats, or a callable
`score_fn(indices) -> scores` called only on the solutions the method needs.
Each returns a `Selection` with the chosen answer and the number of
distinct solutions the evaluator had to score.

Tie-breaks are deterministic: among equal scores the smallest solution
index wins; among equal cluster sizes or cluster scores the earlier
cluster (larger, then holding the smaller index) wins.
"""

import dataclasses
from typing import Callable

import numpy as np

DEFAULT_TOP_K = 8


@dataclasses.dataclass(frozen=True)
class Selection:
    """A re-ranker's pick.

    Args:
        answer: str or None. The chosen final answer.
        index: int or None. A solution (index into the N samples) holding it.
        evaluator_calls: int. Distinct solutions scored by the evaluator.
    """

    answer: str | None
    index: int | None
    evaluator_calls: int


class _Scores:
    """Scores on demand, counting the distinct solutions scored."""

    def __init__(self, scores, num):
        if scores is None:
            raise ValueError(
                "This re-ranker needs evaluator scores; pass an array or a "
                "callable `score_fn(indices)`. Received: scores=None"
            )
        self._fn = scores if callable(scores) else None
        self._all = None
        if self._fn is None:
            self._all = np.asarray(scores, dtype="float64")
            if self._all.shape != (num,):
                raise ValueError(
                    f"`scores` must hold one score per solution ({num}). "
                    f"Received: shape {self._all.shape}"
                )
        self._known = {}

    def get(self, indices):
        indices = [int(i) for i in indices]
        missing = sorted({i for i in indices if i not in self._known})
        if missing:
            if self._fn is not None:
                values = np.asarray(self._fn(missing), dtype="float64")
            else:
                values = self._all[missing]
            self._known.update(zip(missing, values.tolist()))
        return np.asarray([self._known[i] for i in indices], dtype="float64")

    @property
    def calls(self):
        return len(self._known)


def _clusters(answers, clusters):
    if clusters is None:
        from keras_mathft.grading import cluster_answers

        clusters = cluster_answers(list(answers))
    return list(clusters)


def _argmax(indices, values):
    """Index with the highest value; the smallest index among ties."""
    best = None
    for i, v in sorted(zip(indices, values)):
        if best is None or v > best[1]:
            best = (i, v)
    return best[0]


def maj1(answers, clusters=None, scores=None):
    """Majority vote: the largest cluster (ties: smallest member index)."""
    clusters = _clusters(answers, clusters)
    if not clusters:
        return Selection(None, None, 0)
    c = clusters[0]
    return Selection(c.representative, min(c.members), 0)


def rr_all(answers, clusters=None, scores=None):
    """Best-of-N: the best-scored of all N solutions (Cobbe et al.)."""
    s = _Scores(scores, len(answers))
    indices = list(range(len(answers)))
    if not indices:
        return Selection(None, None, 0)
    best = _argmax(indices, s.get(indices))
    return Selection(answers[best], best, s.calls)


def rr_top_k(answers, clusters=None, scores=None, k=DEFAULT_TOP_K):
    """Solution-cluster re-ranking (the paper's RR.Top-K, K = 8).

    Scores only the members of the K largest clusters and returns the
    answer of the best-scored one.
    """
    clusters = _clusters(answers, clusters)[:k]
    indices = [i for c in clusters for i in c.members]
    if not indices:
        return Selection(None, None, 0)
    s = _Scores(scores, len(answers))
    best = _argmax(indices, s.get(indices))
    owner = next(c for c in clusters if best in c.members)
    return Selection(owner.representative, best, s.calls)


def _weighted(answers, clusters, scores):
    if not clusters:
        return Selection(None, None, 0)
    s = _Scores(scores, len(answers))
    best, best_total = None, None
    for c in clusters:
        total = float(np.sum(s.get(c.members)))
        if best is None or total > best_total:
            best, best_total = c, total
    return Selection(best.representative, min(best.members), s.calls)


def weighted_rr(answers, clusters=None, scores=None):
    """Weighted re-ranking: the cluster with the largest sum of scores."""
    return _weighted(answers, _clusters(answers, clusters), scores)


def weighted_rr_top_k(answers, clusters=None, scores=None, k=DEFAULT_TOP_K):
    """Weighted re-ranking restricted to the K largest clusters."""
    return _weighted(answers, _clusters(answers, clusters)[:k], scores)


def maj1_top_n(answers, clusters=None, scores=None, n=DEFAULT_TOP_K):
    """Majority vote among the `n` best-scored solutions.

    Scores all N solutions; ties in score keep the smaller index, ties in
    votes keep the earlier (larger) cluster.
    """
    clusters = _clusters(answers, clusters)
    s = _Scores(scores, len(answers))
    indices = list(range(len(answers)))
    if not indices:
        return Selection(None, None, 0)
    values = s.get(indices)
    order = sorted(indices, key=lambda i: (-values[i], i))[:n]
    chosen = set(order)
    best, best_votes = None, 0
    for c in clusters:
        votes = len(chosen.intersection(c.members))
        if votes > best_votes:
            best, best_votes = c, votes
    if best is None:
        return Selection(None, None, s.calls)
    index = min(chosen.intersection(best.members))
    return Selection(best.representative, index, s.calls)


def evaluator_score_fn(evaluator, problem, solutions, **kwargs):
    """A lazy `score_fn(indices)` over one problem's solutions.

    Args:
        evaluator: anything with `score_solutions(problems, solutions)`
            returning one float per pair, e.g. a `MathSolver`.
        problem: the problem (a `MathProblem` or its text).
        solutions: list of the N solution texts.
        **kwargs: passed to `score_solutions` (batch size, length).

    Returns:
        A callable for the re-rankers' `scores` argument: it asks the
        evaluator only for the solutions a re-ranker needs.
    """

    def score_fn(indices):
        texts = [solutions[i] for i in indices]
        return evaluator.score_solutions(
            [problem] * len(texts), texts, **kwargs
        )

    return score_fn


@dataclasses.dataclass(frozen=True)
class Reranker:
    """A re-ranker in the registry: its function, label and needs.

    `evaluate`, the report and the benchmarks read `RERANKERS`, so a new
    re-ranker is one function above plus one entry below.

    Args:
        name: str, the key in reports (`result["overall"]["methods"]`).
        label: str, the name in tables (the paper's); a `-K` in it is
            replaced by the K used.
        select: the function, `(answers, clusters=None, scores=None,
            **budget) -> Selection`.
        needs_scores: bool, whether it reads evaluator scores.
        budget: `None`, `"k"` (takes `k=top_k`: the K largest clusters) or
            `"n"` (takes `n=top_n`: the N best-scored solutions).

    Example:

    >>> RERANKERS["rr_top_k"](["2", "3", "2"], scores=[0.1, 0.9, 0.2]).answer
    '3'
    >>> RERANKERS["rr_top_k"].display_name(k=8)
    'RR.Top-8'
    """

    name: str
    label: str
    select: Callable
    needs_scores: bool = True
    budget: str | None = None

    def __call__(
        self,
        answers,
        clusters=None,
        scores=None,
        top_k=DEFAULT_TOP_K,
        top_n=DEFAULT_TOP_K,
    ):
        """Runs `select` with the budget it takes (`top_k` or `top_n`)."""
        kwargs = {}
        if self.budget == "k":
            kwargs["k"] = top_k
        elif self.budget == "n":
            kwargs["n"] = top_n
        return self.select(answers, clusters, scores, **kwargs)

    def display_name(self, k=None):
        """The label, with `-K` written as `-{k}` when `k` is given."""
        return self.label if k is None else self.label.replace("-K", f"-{k}")


# Every re-ranker, in report order.
RERANKERS = {
    r.name: r
    for r in (
        Reranker("maj1", "Maj1", maj1, needs_scores=False),
        Reranker("rr_all", "RR.All", rr_all),
        Reranker("rr_top_k", "RR.Top-K", rr_top_k, budget="k"),
        Reranker("weighted_rr", "W.RR", weighted_rr),
        Reranker(
            "weighted_rr_top_k", "W.RR.Top-K", weighted_rr_top_k, budget="k"
        ),
        Reranker("maj1_top_n", "Maj1.TopN", maj1_top_n, budget="n"),
    )
}
