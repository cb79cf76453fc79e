"""Deciding whether two answers are mathematically the same.

The decision runs from cheap to expensive and stops at the first verdict:

1. identical strings, then identical normalized strings (`normalize.py`);
2. the answers are parsed (`parse.py`, no code execution) and read
   (`reading.py`: labels, relations and intervals, lists) into structures
   (expressions, tuples/intervals, lists and sets, unions, matrices,
   equations, inequalities, text) and their exact
   canonical keys (`structures.py`, `canonical.py`) are compared: equal
   keys mean equivalent;
3. structures are matched part by part (brackets, arity, labels and kinds
   must agree); a part whose numeric fingerprints differ proves the
   answers different;
4. the remaining part pairs go to sympy in the worker pool (`pool.py`),
   unless `guard.py` refuses them. The call's `timeout` is one deadline
   for all of it (`deadline.py`), worker start-up excepted; the first
   failing part decides, and a pair not decided in time counts as "not
   equivalent".

An input that reads as a solution rather than an answer (it holds a box
or an answer phrase, or does not parse but `extract_answer` finds an
answer in it) is graded by its extracted answer.

In-process work is bounded too: an analysis is cached per answer string,
its exact arithmetic has a fixed budget (`canonical.MAX_WORK`), and
answers over `MAX_ANSWER_CHARS` are never parsed. Every verdict depends
only on the two analyses, so equivalence is transitive wherever the
exact keys decide (see the package docstring for the policy).
"""

import re

from keras_mathft.grading import parse
from keras_mathft.grading import reading
from keras_mathft.grading import structures
from keras_mathft.grading.deadline import Deadline
from keras_mathft.grading.extract import extract_answer
from keras_mathft.grading.extract import is_prose
from keras_mathft.grading.guard import task_is_safe
from keras_mathft.grading.memo import bounded_memo
from keras_mathft.grading.normalize import MAX_ANSWER_CHARS
from keras_mathft.grading.normalize import normalize_answer
from keras_mathft.grading.pool import get_pool

DEFAULT_TIMEOUT = 5.0
# Inputs holding one of these are solutions: their answer is extracted.
_SOLUTION_RE = re.compile(r"\\boxed|\\fbox|\banswer\b|####", re.IGNORECASE)


class Analysis:
    """Everything cheap known about one answer string (cached).

    Attributes:
        normalized: str. The normalized answer (of the extracted answer,
            for a solution-like input).
        structure: canonical structure, or None when it does not parse.
        key: hashable exact key of the structure, or None.
    """

    __slots__ = ("normalized", "structure", "key")

    def __init__(self, normalized, structure, key):
        self.normalized = normalized
        self.structure = structure
        self.key = key


def _analyze_answer(answer):
    normalized = normalize_answer(answer)
    if not normalized or len(normalized) > MAX_ANSWER_CHARS:
        return Analysis(normalized, None, None)
    try:
        structure = structures.canonical_form(reading.read_answer(normalized))
        key = structures.structure_key(structure)
    except (parse.ParseError, RecursionError, ValueError, ArithmeticError):
        return Analysis(normalized, None, None)
    return Analysis(normalized, structure, key)


def _extracted(answer):
    """The answer inside a solution-like input, if strictly shorter."""
    inner = extract_answer(answer)
    if inner is not None and len(inner) < len(answer.strip()):
        return inner
    return None


# The summed length of cached answers is bounded as well as their number:
# a long answer's trees and keys take room in proportion.
@bounded_memo(
    max_entries=65536, max_chars=2_000_000, max_key_chars=MAX_ANSWER_CHARS
)
def analyze(answer):
    """Normalizes, parses and keys one answer (cached per string)."""
    if not isinstance(answer, str):
        return Analysis("", None, None)
    if _SOLUTION_RE.search(answer) or is_prose(answer):
        inner = _extracted(answer)
        if inner is not None:
            return analyze(inner)
    analysis = _analyze_answer(answer)
    if analysis.structure is None:
        inner = _extracted(answer)
        if inner is not None:
            return analyze(inner)
    return analysis


def plan(a, b):
    """Cheap verdict for two answers: True, False, or a list of sympy
    tasks that must all succeed."""
    if a == b:
        return True
    x, y = analyze(a), analyze(b)
    if x.normalized == y.normalized and x.normalized:
        return True
    if x.structure is None or y.structure is None:
        return False
    if x.key is not None and x.key == y.key:
        return True
    tasks = structures.tasks(x.structure, y.structure)
    if tasks is None:
        return False
    if not tasks:
        return True
    if not all(task_is_safe(task) for task in tasks):
        return False
    return tasks


def safe_plan(a, b):
    """`plan` that reads any internal failure as "not shown equal"."""
    try:
        return plan(a, b)
    except (RecursionError, ValueError, ArithmeticError, TypeError):
        return False


def run_tasks(task_lists, deadline, skip=None, on_hold=None):
    """Decides several pairs' task lists together; one bool each.

    Args:
        task_lists: list of lists of sympy tasks (from `plan`).
        deadline: `Deadline` of the calling public function.
        skip, on_hold: optional callbacks, see `SympyPool.run_jobs`.
    """
    if not any(task_lists):
        return [True] * len(task_lists)
    return get_pool().run_jobs(task_lists, deadline, skip, on_hold)


def answers_equivalent(a, b, *, timeout=DEFAULT_TIMEOUT):
    """Returns True when two answers are the same mathematical object.

    Symmetric and deterministic. Strings are compared first, then
    normalized strings, exact canonical forms (fractions vs decimals,
    radicals, powers, complex numbers, polynomials), structures (tuples and
    intervals element by element with matching brackets, sets and comma
    lists in any order, labelled lists by their values, matrices,
    equations up to a nonzero factor, inequalities up to a positive one
    or as the interval of their variable) and finally
    sympy in a worker process. A solution text given instead of an answer
    is graded by its extracted answer. Anything that cannot be shown equal
    (parse failure, refused input, timeout) is False. See the package
    docstring for the policy.

    Args:
        a: str. An answer (e.g. from `extract_answer`).
        b: str. Another answer; the order does not matter.
        timeout: float. Wall-clock bound in seconds for the whole call,
            including waiting for a busy worker; what is not decided by
            then is False. Defaults to 5. The call returns within
            `timeout` + 1 s (benchmarks/README.md, "Hostile inputs"),
            plus the time it waited for a worker process to start, which
            is not counted (at most `pool.STARTUP_TIMEOUT`, 60 s).

    Returns:
        bool.

    Raises:
        RuntimeError: only when no worker process could start within
            `pool.STARTUP_TIMEOUT` seconds (an overloaded machine or a
            broken environment), rather than answer False for a
            comparison that never ran.

    Example:

    >>> answers_equivalent(r"\\frac{1}{2}", "0.5")
    True
    >>> answers_equivalent("(1,2)", "[1,2]")
    False
    >>> answers_equivalent("(p,q)=(3,2)", "(3, 2)")
    True
    >>> answers_equivalent("-2 < x \\\\le 7", "(-2, 7]")
    True
    """
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    deadline = Deadline(timeout)
    # A fixed argument order makes every step below symmetric.
    if b < a:
        a, b = b, a
    verdict = safe_plan(a, b)
    if isinstance(verdict, bool):
        return verdict
    return run_tasks([verdict], deadline)[0]
