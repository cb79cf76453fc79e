"""Grouping many answers into equivalence clusters."""

import dataclasses

from keras_mathft.grading import equivalence
from keras_mathft.grading.deadline import Deadline


@dataclasses.dataclass(frozen=True)
class AnswerCluster:
    """One group of equivalent answers.

    Attributes:
        representative: str. The answer of the cluster's first member.
        members: tuple of int. Indices into the clustered list, ascending.
    """

    representative: str
    members: tuple

    @property
    def size(self):
        return len(self.members)


class _UnionFind:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, i):
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i, j):
        i, j = self.find(i), self.find(j)
        if i != j:
            # The smaller index stays the root, so roots are first members.
            self.parent[max(i, j)] = min(i, j)


def cluster_answers(answers, *, timeout=equivalence.DEFAULT_TIMEOUT):
    """Groups answers into clusters of mutually equivalent answers.

    Works in three passes so that 64 or more answers cost few sympy calls:
    answers are first hashed by normalized string and by exact canonical
    key (fractions, decimals, radicals, polynomials, tuples, ...), which
    settles most duplicates in-process; then only one representative per
    group is compared with the others, where structure and numeric
    fingerprints rule out almost every pair for free; the few remaining
    pairs go to the sympy pool together, and a pair whose answers were
    merged meanwhile is skipped. Merges are transitive (union-find), so
    the partition does not depend on the order of `answers`.

    `timeout` bounds the whole call, except the time spent waiting for
    worker processes to start (see `answers_equivalent`). Pairs not
    decided by then stay apart (and count in
    `grading_stats()["timeouts"]`); answers not analyzed by then are
    grouped by identical strings only.

    Args:
        answers: list of str or None. `None` (no answer extracted) belongs
            to no cluster.
        timeout: float. Seconds allowed for the whole call. Defaults to 5.
            A call on 64 answers returns within `timeout` + 1 s
            (benchmarks/README.md, "Hostile inputs"), plus any worker
            start-up it waited for.

    Returns:
        A list of `AnswerCluster`, largest first, ties broken by the
        smallest member index.

    Raises:
        RuntimeError: only when no worker process could start within
            `pool.STARTUP_TIMEOUT` seconds (see `answers_equivalent`).

    Example:

    >>> clusters = cluster_answers(["1/2", "0.5", None, "3", r"\\frac12"])
    >>> [(c.representative, c.members) for c in clusters]
    [('1/2', (0, 1, 4)), ('3', (3,))]
    """
    deadline = Deadline(timeout)
    indices = [i for i, a in enumerate(answers) if isinstance(a, str)]
    forest = _UnionFind(len(answers))
    # Identical strings merge first, so each distinct string is analyzed
    # and hashed once (64 samples repeat answers a lot).
    distinct = _merge_identical(answers, indices, forest)
    analyzed = _merge_equal_keys(answers, distinct, forest, deadline)
    roots = sorted({forest.find(i) for i in indices if i in analyzed})
    _merge_equivalent_roots(answers, roots, forest, deadline)
    return _clusters(answers, indices, forest)


def _merge_identical(answers, indices, forest):
    """Merges equal strings; returns the first index of each distinct one."""
    first_by_string = {}
    for i in indices:
        first = first_by_string.setdefault(answers[i], i)
        if first != i:
            forest.union(first, i)
    return list(first_by_string.values())


def _merge_equal_keys(answers, distinct, forest, deadline):
    """Merges answers of equal normalized string or exact canonical key.

    Returns the set of indices analyzed before `deadline` expired.
    """
    first_by_key = {}
    analyzed = set()
    for i in distinct:
        if deadline.expired():
            break
        analysis = equivalence.analyze(answers[i])
        analyzed.add(i)
        keys = [("normalized", analysis.normalized)]
        if analysis.key is not None:
            keys.append(("exact", analysis.key))
        for key in keys:
            if key == ("normalized", ""):
                continue
            if key in first_by_key:
                forest.union(first_by_key[key], i)
            else:
                first_by_key[key] = i
    return analyzed


def _merge_equivalent_roots(answers, roots, forest, deadline):
    """Compares the group representatives pair by pair, within `deadline`.

    Pairs that structure and fingerprints cannot settle go to the sympy
    pool together; a pair merged meanwhile is skipped there.
    """
    pending, pairs = [], []
    for x, i in enumerate(roots):
        for j in roots[x + 1 :]:
            if deadline.expired():
                break
            a, b = sorted((answers[i], answers[j]))
            verdict = equivalence.safe_plan(a, b)
            if verdict is True:
                forest.union(i, j)
            elif verdict:
                pending.append(verdict)
                pairs.append((i, j))
    if not pending:
        return

    def merged(k):
        i, j = pairs[k]
        return forest.find(i) == forest.find(j)

    def merge(k):
        forest.union(*pairs[k])

    equivalence.run_tasks(pending, deadline, skip=merged, on_hold=merge)


def _clusters(answers, indices, forest):
    """The forest's groups as `AnswerCluster`s, largest first."""
    groups = {}
    for i in indices:
        groups.setdefault(forest.find(i), []).append(i)
    clusters = [
        AnswerCluster(answers[members[0]], tuple(members))
        for members in groups.values()
    ]
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters
