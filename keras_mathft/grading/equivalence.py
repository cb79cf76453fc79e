"""Deciding whether two answers are mathematically the same.

The decision runs from cheap to expensive and stops at the first verdict:

1. identical strings, then identical normalized strings (`normalize.py`);
2. the answers are parsed (`parse.py`, no code execution) into structures
   (expressions, tuples/intervals, sets and lists, matrices, equations,
   inequalities, text) and their exact canonical keys (`canonical.py`)
   are compared: equal keys mean equivalent;
3. structures are matched part by part (brackets, arity and kinds must
   agree); a part whose numeric fingerprints differ proves the answers
   different;
4. the remaining part pairs go to sympy in the worker pool (`pool.py`).
   The call's `timeout` is one deadline for all of it (`deadline.py`);
   the first failing part decides, and a pair not decided in time counts
   as "not equivalent".

In-process work is bounded too: an analysis is cached per answer string,
its exact arithmetic has a fixed budget (`canonical.MAX_WORK`), and
answers over `MAX_ANSWER_CHARS` are never parsed.

The policy is written in the package docstring (`grading/__init__.py`).
"""

from keras_mathft.grading import canonical
from keras_mathft.grading import parse
from keras_mathft.grading.deadline import Deadline
from keras_mathft.grading.memo import bounded_memo
from keras_mathft.grading.normalize import _LABEL_RE
from keras_mathft.grading.normalize import MAX_ANSWER_CHARS
from keras_mathft.grading.normalize import normalize_answer
from keras_mathft.grading.pool import get_pool

DEFAULT_TIMEOUT = 5.0
# Trees above this many nodes never reach sympy.
_MAX_SYMPY_NODES = 150
# Exponents a sympy task may carry: a literal of at most this magnitude or
# an expression with no powers or factorials inside.
_MAX_SYMPY_EXPONENT = 1000


class Leaf:
    """One expression of an answer with its exact key and fingerprint.

    Both are computed once, when the answer is analyzed, so comparisons
    between cached analyses never redo in-process arithmetic.
    """

    __slots__ = ("node", "key", "print")

    def __init__(self, node):
        self.node = node
        sign = _is_inf(node)
        self.key = ("inf", sign) if sign else canonical.exact_key(node)
        self.print = None if sign else canonical.fingerprint(node)


class Analysis:
    """Everything cheap known about one answer string (cached)."""

    __slots__ = ("normalized", "structure", "key", "equation")

    def __init__(self, normalized, structure, key, equation=None):
        self.normalized = normalized
        self.structure = structure
        self.key = key
        # For a labelled answer (`y=2x+3`, read as `2x+3`), the equation it
        # also states, so that it still matches `2x-y+3=0`.
        self.equation = equation


def _is_inf(node):
    if node == ("const", "inf"):
        return 1
    if node[0] == "neg" and node[1] == ("const", "inf"):
        return -1
    return 0


def _difference(lhs, rhs):
    return ("add", (lhs, ("neg", rhs)))


def _scaled_key(node, positive):
    """Key of a polynomial up to a nonzero (positive) rational factor."""
    poly = canonical.exact_poly(node)
    if poly is None:
        return None
    if not poly:
        return ()
    lead = poly[min(poly, key=repr)]
    scale = abs(lead) if positive else lead
    return tuple(sorted(((m, c / scale) for m, c in poly.items()), key=repr))


def _vector_items(structure):
    """A one-row or one-column matrix read as an ordered tuple."""
    rows = structure[1]
    if len(rows) == 1:
        return rows[0]
    if all(len(row) == 1 for row in rows):
        return tuple(row[0] for row in rows)
    return None


def _canonical_structure(structure):
    """Merges notations of one object, and wraps expressions in leaves."""
    kind = structure[0]
    # Column/row vectors and parenthesized tuples are the same object.
    if kind == "matrix":
        items = _vector_items(structure)
        if items is not None and len(items) > 1:
            return ("seq", "(", ")", tuple(map(Leaf, items)))
        rows = tuple(tuple(map(Leaf, row)) for row in structure[1])
        return ("matrix", rows)
    if kind in ("set", "list"):
        return ("list", tuple(map(Leaf, structure[1])))
    if kind == "expr":
        return ("expr", Leaf(structure[1]))
    if kind == "seq":
        return structure[:3] + (tuple(map(Leaf, structure[3])),)
    if kind == "union":
        return ("union", tuple(map(_canonical_structure, structure[1])))
    return structure


def _structure_key(s):
    kind = s[0]
    if kind == "expr":
        key = s[1].key
        return None if key is None else ("expr", key)
    if kind == "text":
        return s
    if kind == "list":
        keys = [item.key for item in s[1]]
        if None in keys:
            return None
        return ("list", tuple(sorted(keys, key=repr)))
    if kind == "seq":
        keys = tuple(item.key for item in s[3])
        return None if None in keys else ("seq", s[1], s[2], keys)
    if kind == "matrix":
        keys = tuple(tuple(c.key for c in row) for row in s[1])
        if any(None in row for row in keys):
            return None
        return ("matrix", keys)
    if kind == "union":
        keys = [_structure_key(part) for part in s[1]]
        if None in keys:
            return None
        return ("union", tuple(sorted(keys, key=repr)))
    if kind == "eq":
        key = _scaled_key(_difference(s[1], s[2]), positive=False)
        return None if key is None else ("eq", key)
    if kind == "rel":
        key = _scaled_key(_difference(s[3], s[2]), positive=s[1] != "!=")
        return None if key is None else ("rel", s[1], key)
    return None


# The summed length of cached answers is bounded as well as their number:
# a long answer's trees and keys take room in proportion.
@bounded_memo(
    max_entries=65536, max_chars=2_000_000, max_key_chars=MAX_ANSWER_CHARS
)
def analyze(answer):
    """Normalizes, parses and keys one answer (cached per string)."""
    normalized = normalize_answer(answer)
    if not normalized or len(normalized) > MAX_ANSWER_CHARS:
        return Analysis(normalized, None, None)
    try:
        structure = _canonical_structure(parse.parse_answer(normalized))
    except (parse.ParseError, RecursionError, ValueError, ArithmeticError):
        return Analysis(normalized, None, None)
    equation = None
    label = _LABEL_RE.match(answer.strip().strip("$").strip())
    if label and structure[0] == "expr":
        try:
            lhs = parse.parse_expression(parse.tokenize(label.group(1)))
            equation = ("eq", lhs, structure[1].node)
        except parse.ParseError:
            pass
    return Analysis(normalized, structure, _structure_key(structure), equation)


# ----------------------------------------------------------------------
# Part-by-part matching. Each function returns None when the structures
# are provably different, else a list of sympy tasks that must all hold.
# ----------------------------------------------------------------------
def _base_digits(node):
    if node[0] == "base":
        return node[1]
    if node[0] == "num" and node[1].denominator == 1 and node[1] >= 0:
        return str(node[1])
    return None


def _leaf_tasks(leaf_a, leaf_b):
    ka, kb = leaf_a.key, leaf_b.key
    if ka is not None and ka == kb:
        return []
    a, b = leaf_a.node, leaf_b.node
    if "base" in (a[0], b[0]):
        # `52_8` and `52` are the same digits; the subscript only restates
        # the base the question asked for. Different digits never match.
        same = _base_digits(a) == _base_digits(b) is not None
        if a[0] == b[0] == "base":
            same = same and a[2] == b[2]
        return [] if same else None
    if _is_inf(a) or _is_inf(b):
        return None
    if ka is not None and kb is not None and _is_pure_rational(ka, kb):
        return None
    if not canonical.fingerprints_close(leaf_a.print, leaf_b.print):
        return None
    return [("equal", a, b)]


def _is_pure_rational(ka, kb):
    # Two exact rational numbers with different keys are different numbers.
    def rational(key):
        return key[0] == "poly" and all(m == canonical._ONE for m, _ in key[1])

    return rational(ka) and rational(kb)


def _ordered_tasks(items_a, items_b):
    if len(items_a) != len(items_b):
        return None
    tasks = []
    for a, b in zip(items_a, items_b):
        sub = _leaf_tasks(a, b)
        if sub is None:
            return None
        tasks += sub
    return tasks


def _unordered_tasks(items_a, items_b):
    if len(items_a) != len(items_b):
        return None
    remaining = list(items_b)
    unmatched = []
    for a in items_a:
        key = a.key
        for j, b in enumerate(remaining):
            if key is not None and b.key == key:
                del remaining[j]
                break
        else:
            unmatched.append(a)
    tasks = []
    for a in unmatched:
        candidates = [
            j for j, b in enumerate(remaining) if _leaf_tasks(a, b) is not None
        ]
        if not candidates:
            return None
        tasks += _leaf_tasks(a, remaining.pop(candidates[0]))
    return tasks


def _tasks(sa, sb):
    if sa[0] != sb[0]:
        return None
    kind = sa[0]
    if kind == "expr":
        return _leaf_tasks(sa[1], sb[1])
    if kind == "text":
        return [] if sa == sb else None
    if kind == "list":
        return _unordered_tasks(sa[1], sb[1])
    if kind == "seq":
        if sa[1:3] != sb[1:3]:
            return None  # open/closed ends must match
        return _ordered_tasks(sa[3], sb[3])
    if kind == "matrix":
        if [len(r) for r in sa[1]] != [len(r) for r in sb[1]]:
            return None
        return _ordered_tasks(
            [c for row in sa[1] for c in row], [c for row in sb[1] for c in row]
        )
    if kind == "union":
        if len(sa[1]) != len(sb[1]):
            return None
        keys_a = sorted(map(repr, map(_structure_key, sa[1])))
        keys_b = sorted(map(repr, map(_structure_key, sb[1])))
        if None not in map(_structure_key, sa[1] + sb[1]) and keys_a == keys_b:
            return []
        return None
    if kind in ("eq", "rel"):
        if kind == "rel" and sa[1] != sb[1]:
            return None
        positive = kind == "rel" and sa[1] != "!="
        da = _difference(*sa[1:3]) if kind == "eq" else _difference(*sa[:1:-1])
        db = _difference(*sb[1:3]) if kind == "eq" else _difference(*sb[:1:-1])
        if not canonical.fingerprints_proportional(
            canonical.fingerprint(da), canonical.fingerprint(db), positive
        ):
            return None
        return [("proportional", da, db, positive)]
    return None


def _node_count(node, limit):
    count, stack = 0, [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            count += 1
            if count > limit:
                return count
            stack.extend(item)
    return count


def _safe_node(node):
    """Refuses trees that could make sympy explode (power towers, big
    exponents, factorials of non-literals)."""
    if not isinstance(node, tuple) or not node:
        return True
    kind = node[0]
    if kind == "pow":
        exponent = node[2]
        value = canonical.exact_poly(exponent)
        rational = canonical._rational(value) if value is not None else None
        if rational is not None:
            if abs(rational) > _MAX_SYMPY_EXPONENT:
                return False
        elif _contains(exponent, ("pow", "fact", "binom")):
            return False
    if kind in ("fact", "binom"):
        for arg in node[1:]:
            value = canonical.exact_poly(arg)
            rational = canonical._rational(value) if value is not None else None
            if rational is None and _contains(arg, ("pow", "fact", "binom")):
                return False
            if rational is not None and abs(rational) > canonical.MAX_FACTORIAL:
                return False
    return all(_safe_node(child) for child in node[1:])


def _contains(node, kinds):
    if not isinstance(node, tuple) or not node:
        return False
    if node[0] in kinds:
        return True
    return any(_contains(child, kinds) for child in node[1:])


def _task_is_safe(task):
    return all(
        _node_count(node, _MAX_SYMPY_NODES) <= _MAX_SYMPY_NODES
        and _safe_node(node)
        for node in task[1:3]
    )


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
    tasks = _tasks(x.structure, y.structure)
    if tasks is None:
        # A labelled answer against an equation: compare the equations.
        if x.equation is not None and y.structure[0] == "eq":
            tasks = _tasks(x.equation, y.structure)
        elif y.equation is not None and x.structure[0] == "eq":
            tasks = _tasks(x.structure, y.equation)
    if tasks is None:
        return False
    if not tasks:
        return True
    if not all(_task_is_safe(task) for task in tasks):
        return False
    return tasks


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
    lists in any order, matrices, equations up to a nonzero factor,
    inequalities up to a positive one) and finally sympy in a worker
    process, bounded by `timeout` seconds. Anything that cannot be shown
    equal (parse failure, refused input, timeout) is False; nothing
    raises. See the package docstring for the policy.

    Args:
        a: str. An answer (e.g. from `extract_answer`).
        b: str. Another answer; the order does not matter.
        timeout: float. Wall-clock bound in seconds for the whole call,
            including waiting for a worker; what is not decided by then
            is False. Defaults to 5.

    Returns:
        bool.

    Example:

    >>> answers_equivalent(r"\\frac{1}{2}", "0.5")
    True
    >>> answers_equivalent("(1,2)", "[1,2]")
    False
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


def safe_plan(a, b):
    """`plan` that reads any internal failure as "not shown equal"."""
    try:
        return plan(a, b)
    except (RecursionError, ValueError, ArithmeticError, TypeError):
        return False
