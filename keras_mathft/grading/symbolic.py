"""Sympy comparisons of parse trees; runs inside the worker pool.

Trees are turned into sympy objects with constructors only (`Integer`,
`Rational`, `Symbol`, `Add`, `Mul`, `Pow`, named functions), never by
parsing strings, so no model text can run as Python. The callers
(`pool.py`) bound every call in wall-clock time.
"""

from fractions import Fraction

import sympy

_FUNCTIONS = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "log": sympy.log,
    "ln": sympy.log,
    "exp": sympy.exp,
}


def to_sympy(node):
    kind = node[0]
    if kind == "num":
        return sympy.Rational(node[1].numerator, node[1].denominator)
    if kind == "sym":
        return sympy.Symbol(node[1])
    if kind == "const":
        return {"pi": sympy.pi, "i": sympy.I, "inf": sympy.oo}[node[1]]
    if kind == "add":
        return sympy.Add(*[to_sympy(arg) for arg in node[1]])
    if kind == "neg":
        return -to_sympy(node[1])
    if kind == "mul":
        return sympy.Mul(*[to_sympy(arg) for arg in node[1]])
    if kind == "div":
        return to_sympy(node[1]) / to_sympy(node[2])
    if kind == "pow":
        return sympy.Pow(to_sympy(node[1]), to_sympy(node[2]))
    if kind == "root":
        return sympy.root(to_sympy(node[1]), to_sympy(node[2]))
    if kind == "fact":
        return sympy.factorial(to_sympy(node[1]))
    if kind == "binom":
        return sympy.binomial(to_sympy(node[1]), to_sympy(node[2]))
    if kind == "abs":
        return sympy.Abs(to_sympy(node[1]))
    if kind == "fn":
        return _FUNCTIONS[node[1]](to_sympy(node[2]))
    raise ValueError(f"unknown node {kind!r}")


def _is_zero(expr):
    if expr == 0:
        return True
    for transform in (sympy.expand, sympy.simplify):
        if transform(expr) == 0:
            return True
    return False


def compare(task):
    """Decides one comparison task; returns a bool.

    Tasks:
        ("equal", a, b): a - b simplifies to 0.
        ("proportional", a, b, positive): a / b simplifies to a nonzero
            constant (a positive real one when `positive`).
    """
    kind = task[0]
    a, b = to_sympy(task[1]), to_sympy(task[2])
    if kind == "equal":
        return bool(_is_zero(a - b))
    if kind == "proportional":
        if a == 0 or b == 0:
            return a == b
        ratio = sympy.simplify(a / b)
        if ratio.free_symbols or ratio == 0 or not ratio.is_number:
            return False
        if task[3]:
            return bool(ratio.is_positive)
        return True
    raise ValueError(f"unknown task {kind!r}")


# `\\sin^2 x + \\cos^2 x` = 1: the first simplification in a process loads
# much of sympy (about 0.1 s of CPU, six times a later one), so a worker
# runs this before it reports ready and that cost counts as its start-up.
_SIN2 = ("pow", ("fn", "sin", ("sym", "x")), ("num", Fraction(2)))
_COS2 = ("pow", ("fn", "cos", ("sym", "x")), ("num", Fraction(2)))
_WARM_UP = ("equal", ("add", (_SIN2, _COS2)), ("num", Fraction(1)))


def warm_up():
    """Runs one trigonometric simplification; returns its verdict."""
    return run_task(_WARM_UP)


def run_task(task):
    """`compare` that reports failures as False instead of raising."""
    try:
        return compare(task)
    except Exception:  # noqa: BLE001 - any sympy failure means "not shown"
        return False
