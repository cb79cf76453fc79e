"""How the grader reads an answer: labels, relations, intervals, lists.

Every rule that decides what object an answer states, rather than how its
expressions are written, is here: `parse.py` is the grammar, and
`structures.py` keys and matches what is read. The rules, in order:

On the string (steps 6 to 8 of `normalize_answer`):

1. `and`/`or` after a number or a closing bracket, and every `;`,
   separate items as commas do (`6 and 8` is `6,8`); braces around the
   whole answer go (`{1,3}` is `1,3`, as it renders).
2. A leading label of one letter (optionally subscripted) or one command
   (`x=`, `a_1=`, `\\theta=`) goes when its `=` is the only one and there
   is no `<` or `>` (`x=5` is `5`; `x=y=5` stays).
3. A leading `x \\in` goes (`x \\in [-2,7)` is `[-2,7)`).

On the tokens (`read_answer`), giving an answer structure:

4. A matrix environment is a matrix (`parse.parse_matrix`); words (three
   letters in a row, not a function name) are text; scientific notation
   next to variables (`1e3x`) is refused.
5. `\\cup` outside brackets makes a union of the parts.
6. Commas outside brackets make a list (a set: `structures.py` drops order
   and repeats). When every item bounds one quantity (`x<-1, x>1`) the
   list is the union of their intervals; bounds among other items are
   refused.
7. A labelled list is the list of its values (`k=45, n=2` is `45, 2`); a
   label may stand on the first item only (`a=4, -8, -10`); labels that
   repeat in blocks of two or more distinct labels (`p=5,q=2,p=7,q=2`)
   make one tuple per block, in the first block's label order; other
   repeated labels, or labels on some later items only, are refused.
8. `a \\approx b` is `a`, or `b` when `a` is only a label
   (`x = \\frac13 \\approx 0.33` is `\\frac13`, `x \\approx 11` is `11`).
9. After a label (`x=`, `f(x)=`, `(p,q)=`, `|AB|=`, `\\frac{NO}{BO}=`) or
   in a chain (`x = 5+5+1 = 11`), the last side; an equation of
   constants (`5+5+1 = 11`) is its right side; any other is an equation
   (`x+1 = 3`, `7=11a+c`).
10. An inequality bounding a lone variable or function value by a
    constant is its interval, the quantity dropped as a label is (`x>2`
    is `(2,\\infty)`, `x \\neq 3` is `(-\\infty,3) \\cup (3,\\infty)`); so is
    a chain `a < x \\le b` with constant ends (`(a,b]`), and other chains
    are refused; any other is a relation (`a > b` kept as `b < a`).
11. `a:b` is a ratio; brackets around a comma list are a tuple or an
    interval as written (`(1,2]`); `\\{...\\}` is a set; one `\\pm` makes
    two items (`a \\pm b` is `a+b, a-b`, `\\pm a` is `a, -a`), more are
    refused.

In `structures.canonical_form`:

12. A relation linear in one variable with a rational slope (`2x>4`,
    `3-x \\ge 1`) is that variable's interval (`solved_interval`).
    Nothing else is solved: `x>a`, `|x|<3`, `x^2>4` stay relations.
"""

import re
from fractions import Fraction

from keras_mathft.grading import canonical
from keras_mathft.grading import parse
from keras_mathft.grading.parse import ParseError

# --- Rules 1 to 3, on the string ---------------------------------------------
# `and`/`or` between two answers (after a number or a closing bracket)
# separate list items, as `;` does: `6 \text{ and } 8`, `(11,7) or (7,11)`.
_WORDED_SEPARATOR_RE = re.compile(
    r"(?<=[\d)\]}|!])\s*,?\s*\b(?:and|or)\b\s*(?=\S)", re.IGNORECASE
)
_LABEL_RE = re.compile(r"^([a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)\s*=(?!=)")
_MEMBERSHIP_RE = re.compile(r"^[a-zA-Z]\s*\\in(?![a-zA-Z])\s*")


def _brace_encloses(s):
    """True when the brace opening `s` closes at its last character."""
    depth = 0
    for i, char in enumerate(s):
        if char == "{" and (i == 0 or s[i - 1] != "\\"):
            depth += 1
        elif char == "}" and s[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


def comma_separated(s):
    """Rule 1: list separators as commas, outer braces dropped.

    Args:
        s: str. An answer whose units and `\\text` are gone.

    Returns:
        `s` with its worded and `;` separators as commas.
    """
    s = _WORDED_SEPARATOR_RE.sub(",", s).replace(";", ",")
    if s.startswith("{") and s.endswith("}") and _brace_encloses(s):
        s = s[1:-1].strip()
    return s


def without_label(s):
    """Rule 2: `s` without a leading `x=`-style label.

    Args:
        s: str. An answer normalized up to rule 1.

    Returns:
        The value after the label, or `s` when it has none.
    """
    match = _LABEL_RE.match(s)
    if match and s.count("=") == 1 and not re.search(r"[<>]", s):
        return s[match.end() :].strip()
    return s


def without_membership(s):
    """Rule 3: `s` without a leading `x \\in`.

    Args:
        s: str. An answer normalized up to rule 2.

    Returns:
        The set after `\\in`, or `s` when it does not start so.
    """
    return _MEMBERSHIP_RE.sub("", s)


# --- Rules 4 to 6: the answer's top level ------------------------------------
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z ]*$")
_DIGIT_E_DIGIT_RE = re.compile(r"\d[eE]\d")


def read_answer(normalized):
    """Reads a normalized answer as an answer structure (rules 4 to 11).

    Structures: ("expr", node), ("text", words), ("list", items) (bare
    commas, order free; items are ("expr", node) or tuples), ("set",
    nodes), ("seq", open, close, nodes) (tuples, intervals, and ratios
    `a:b` with ":" as both brackets), ("union", parts), ("matrix", rows),
    ("eq", lhs, rhs), ("rel", op, lhs, rhs) with op in `<`, `<=`, `!=`;
    nodes are `parse.py` expression trees.

    Args:
        normalized: str. An answer from `normalize_answer`.

    Returns:
        The answer structure.

    Raises:
        ParseError: when the answer is outside the grammar or its
            reading is refused.
    """
    s = normalized
    matrix = parse.parse_matrix(s)
    if matrix is not None:
        return matrix
    if _WORD_RE.match(s) and re.search(r"[A-Za-z]{3}", s):
        words = s.lower().strip(" .")
        if words not in parse.FUNCTIONS:
            return ("text", " ".join(words.split()))
    if _DIGIT_E_DIGIT_RE.search(s):
        # Scientific notation among variables (`1e3x`; normalization reads
        # it only in answers without other letters): neither 1000x nor 3ex
        # is safe, so the answer is compared as written.
        raise ParseError("scientific notation next to variables")
    tokens = parse.tokenize(s)
    if not tokens:
        raise ParseError("empty answer")
    unions = parse.split_top(tokens, ("\\cup",))
    if len(unions) > 1:
        return ("union", tuple(_structure(part) for part in unions))
    return _structure(tokens)


def _structure(tokens):
    if not tokens:
        raise ParseError("empty answer")
    parts = parse.split_top(tokens, (",",))
    if len(parts) > 1:
        items = [_item(part) for part in parts]
        bound = {_bound_quantity(part, v) for part, (_, v) in zip(parts, items)}
        if len(bound) == 1 and None not in bound:
            # `x < -1 or x > 1`: the solution set is the union.
            pieces = []
            for _, value in items:
                pieces.extend(value[1] if value[0] == "union" else [value])
            return ("union", tuple(pieces))
        if any(name is not None for name in bound):
            raise ParseError("relations mixed with values or variables")
        return _list(items)
    return _item(tokens)[1]


def _bound_quantity(tokens, value):
    """The quantity an item bounds when it is an inequality read as an
    interval (`x` for `x > 2` and `0 < x < 1`), else None."""
    if value[0] not in ("seq", "union"):
        return None
    positions = parse.top_positions(tokens, _is_relation)
    if not positions or any(tokens[i][1] == "=" for i in positions):
        return None
    starts = [0] + [i + 1 for i in positions]
    ends = positions + [len(tokens)]
    names = [
        _label(tokens[a:b])
        for a, b in zip(starts, ends)
        if _quantity(tokens[a:b])
    ]
    return names[0] if len(names) == 1 else None


# --- Rule 7: labelled lists --------------------------------------------------
def _list(items):
    """A comma list of (label, structure) items: the list of its values.

    Labels are dropped: `k=45, n=2` is the list `45, 2` (a list is a set,
    so this stays transitive). A label may stand on every item or on the
    first one only (`a=4, -8, -10`). When the labels repeat in blocks of
    two or more distinct labels (`p=5, q=2; p=7, q=2`), each block is one
    solution: the tuple of its values in the first block's label order.
    """
    labels = [label for label, _ in items]
    named = [label for label in labels if label is not None]
    if named and len(named) != len(items):
        if not (labels[0] is not None and len(named) == 1):
            raise ParseError("labels on some items only")
    elif named:
        blocks = _label_blocks(labels)
        if blocks is not None:
            return ("list", tuple(_block_tuple(items, *b) for b in blocks))
        if len(set(named)) not in (1, len(named)):
            raise ParseError("repeated labels that are not solution blocks")
    values = []
    for _, value in items:
        if value[0] in ("expr", "seq"):
            values.append(value)
        elif value[0] == "list":
            values.extend(value[1])
        else:
            raise ParseError(f"a {value[0]} inside a list")
    return ("list", tuple(values))


def _label_blocks(labels):
    """(start, order) of each solution block of a labelled list, or None.

    Blocks are consecutive runs of k >= 2 distinct labels, all with the
    first block's labels; `order` maps a label to its tuple position.
    """
    if labels[0] not in labels[1:]:
        return None
    k = labels.index(labels[0], 1)
    first = labels[:k]
    if k < 2 or len(labels) % k or len(set(first)) != k:
        return None
    order = {label: position for position, label in enumerate(first)}
    blocks = []
    for start in range(0, len(labels), k):
        block = labels[start : start + k]
        if len(set(block)) != k or set(block) != set(first):
            return None
        blocks.append((start, order))
    return blocks


def _block_tuple(items, start, order):
    """One solution block as the tuple of its values in label order."""
    values = [None] * len(order)
    for label, value in items[start : start + len(order)]:
        if value[0] != "expr":
            raise ParseError("a solution block holds more than one value")
        values[order[label]] = value[1]
    return ("seq", "(", ")", tuple(values))


# --- Rules 8 and 9: one item, its approximation, label and chain -------------
def _item(tokens):
    """One answer item as (label or None, structure)."""
    tokens = _before_approximation(tokens)
    positions = parse.top_positions(tokens, _is_relation)
    if not positions:
        return None, _value(tokens)
    ops = [tokens[i][1] for i in positions]
    lhs = tokens[: positions[0]]
    if all(op == "=" for op in ops):
        label = _label(lhs)
        if len(ops) > 1 or label is not None:
            # A chain `x = 5+5+1 = 11` states its result last.
            return label, _value(tokens[positions[-1] + 1 :])
        rhs = tokens[positions[0] + 1 :]
        lhs_node = parse.parse_expression(lhs)
        rhs_node = parse.parse_expression(rhs)
        if not (_has_symbol(lhs_node) or _has_symbol(rhs_node)):
            return None, _value(rhs)
    return None, _relation(tokens, positions)


def _before_approximation(tokens):
    """`a \\approx b` is its exact side `a`, or `b` if `a` is a label."""
    parts = parse.split_top(tokens, ("\\approx",))
    if len(parts) == 1:
        return tokens
    left = parts[0]
    relations = parse.top_positions(left, _is_relation)
    if not relations and _label(left) is not None:
        return left + [("op", "=")] + parts[-1]
    return left


# Commands that may appear in a label: names and decorations, not
# operations (`\sin x = 1` is an equation).
_LABEL_COMMANDS = (
    parse.GREEK
    | frozenset(("frac", "overline", "angle", "vec", "hat", "bar", "mathbf"))
    | frozenset(("left", "right", "|"))
)


def _label(tokens):
    """The canonical name of a label (`a_{37}` -> `a_37`), or None.

    A label is made of letters, named symbols, subscripts, and the
    brackets, bars, commas and colons of `(p,q)`, `f(x)`, `|AB|` and
    `A:B`; numbers only inside subscripts and function arguments.
    """
    if not tokens:
        return None
    named, stack, previous = False, [], None
    for kind, value in tokens:
        if kind == "letter":
            named = True
        elif kind == "cmd":
            if value[1:] not in _LABEL_COMMANDS:
                return None
            named = named or value[1:] in parse.GREEK
        elif kind == "num":
            if previous != "_" and not (stack and stack[-1] in "_f"):
                return None
        elif value in ("(", "{"):
            call = previous is not None and previous[0].isalpha()
            stack.append("_" if previous == "_" else "f" if call else "(")
        elif value in (")", "}"):
            if not stack:
                return None
            stack.pop()
        elif value not in ("_", ",", "|", ":", "'"):
            return None
        previous = "letter" if kind == "letter" else value
    if not named or stack:
        return None
    return "".join(v for _, v in tokens if v not in ("{", "}"))


# --- Rule 10: relations, and the intervals of bounded quantities -------------
_RELATIONS = frozenset(("=", "<", ">", "<=", ">=", "!="))
_REL_COMMANDS = {"leq": "<=", "geq": ">=", "neq": "!=", "lt": "<", "gt": ">"}
# op -> (direction: 1 bounds from above, -1 from below; closed end).
_INEQUALITIES = {"<": (1, False), "<=": (1, True), ">": (-1, False)}
_INEQUALITIES[">="] = (-1, True)
_INFINITY = ("const", "inf")


def _is_relation(value):
    return value in _RELATIONS or (
        value.startswith("\\") and value[1:] in _REL_COMMANDS
    )


def _operator(token):
    op = token[1]
    return _REL_COMMANDS.get(op[1:], op) if op.startswith("\\") else op


def _has_symbol(node):
    return parse.contains(node, "sym")


def _quantity(tokens):
    """True for a lone quantity a relation can bound: a variable (`x`,
    `a_1`, `\\theta`) or a function value (`f(x)`), not a tuple, ratio
    or absolute value."""
    if not tokens or tokens[0][1] == "(":
        return False
    if any(value in (",", "|", ":", "\\|") for _, value in tokens):
        return False
    return _label(tokens) is not None


def _interval(low, low_closed, high, high_closed):
    brackets = ("[" if low_closed else "(", "]" if high_closed else ")")
    return ("seq", *brackets, (low, high))


def _bounded(direction, closed, bound):
    """The interval of `x` where `x op bound` (direction 1: `<`, -1: `>`,
    0: `\\neq`, two open half-lines)."""
    if not direction:
        below = _interval(("neg", _INFINITY), False, bound, False)
        return ("union", (below, _interval(bound, False, _INFINITY, False)))
    if direction > 0:
        return _interval(("neg", _INFINITY), False, bound, closed)
    return _interval(bound, closed, _INFINITY, False)


def _relation(tokens, positions):
    """A relation; one bounding a lone quantity is read as its interval.

    `x > 2` is `(2, \\infty)` and `a \\le x < b` is `[a, b)`: the quantity
    is dropped, as a label is. Other relations stay relations.
    """
    ops = [_operator(tokens[i]) for i in positions]
    if len(positions) == 2:
        return _chain(tokens, positions, ops)
    if len(positions) != 1:
        raise ParseError("chained relations are not supported")
    i, op = positions[0], ops[0]
    lhs = _single_expression(tokens[:i])
    rhs = _single_expression(tokens[i + 1 :])
    if op in _INEQUALITIES or op == "!=":
        direction, closed = _INEQUALITIES.get(op, (0, False))
        if _quantity(tokens[:i]) and not _has_symbol(rhs):
            return _bounded(direction, closed, rhs)
        if _quantity(tokens[i + 1 :]) and not _has_symbol(lhs):
            return _bounded(-direction, closed, lhs)
    if op == "=":
        return ("eq", lhs, rhs)
    # `a > b` is stored as `b < a` so that both directions compare equal.
    if op in (">", ">="):
        return ("rel", "<" if op == ">" else "<=", rhs, lhs)
    return ("rel", op, lhs, rhs)


def _chain(tokens, positions, ops):
    """`a < x \\le b` (or `b > x > a`) with a lone quantity `x` in the
    middle and constant ends: the interval `(a, b]`. Other chains (an
    ordering `a < b < c`, `0 < 2x < 4`) are not parsed."""
    if not all(op in _INEQUALITIES for op in ops):
        raise ParseError("unsupported chained relation")
    (d1, c1), (d2, c2) = (_INEQUALITIES[op] for op in ops)
    i, j = positions
    middle = tokens[i + 1 : j]
    if d1 != d2 or not _quantity(middle):
        raise ParseError("unsupported chained relation")
    first = _single_expression(tokens[:i])
    last = _single_expression(tokens[j + 1 :])
    if _has_symbol(first) or _has_symbol(last):
        raise ParseError("a chain with variable ends")
    if d1 < 0:
        first, c1, last, c2 = last, c2, first, c1
    return _interval(first, c1, last, c2)


# --- Rule 11: values (ratios, tuples and intervals, sets, plus-minus) --------
_INTERVAL_BRACKETS = frozenset((("(", ")"), ("[", "]"), ("(", "]"), ("[", ")")))


def _value(tokens):
    """An answer item with no relation at the top level."""
    if not tokens:
        raise ParseError("empty answer")
    values = [token[1] for token in tokens]
    ratio = parse.split_top(tokens, (":",))
    if len(ratio) > 1:
        return ("seq", ":", ":", tuple(map(_single_expression, ratio)))
    first, last = values[0], values[-1]
    inner = tokens[1:-1]
    items = parse.split_top(inner, (",",))
    if (first, last) in _INTERVAL_BRACKETS and len(items) > 1:
        if parse.encloses(values):
            return ("seq", first, last, tuple(map(_single_expression, items)))
    if first == "\\{" and last == "\\}" and parse.encloses(values):
        return ("set", _items(inner) if inner else ())
    nodes = _expand_pm(parse.parse_expression(tokens))
    if len(nodes) > 1:
        return ("list", tuple(("expr", node) for node in nodes))
    return ("expr", nodes[0])


def _items(tokens):
    """Parses comma-separated expressions, splitting each `a \\pm b`."""
    items = []
    for part in parse.split_top(tokens, (",",)):
        if not part:
            raise ParseError("empty item")
        items.extend(_expand_pm(parse.parse_expression(part)))
    return tuple(items)


def _single_expression(tokens):
    nodes = _expand_pm(parse.parse_expression(tokens))
    if len(nodes) > 1:
        raise ParseError("plus-minus where one value is needed")
    return nodes[0]


def _expand_pm(node):
    """The trees of `node` with its one `\\pm` read as + and as -."""
    found = []

    def walk(item):
        if not isinstance(item, tuple) or not item:
            return
        if item[0] == "pm":
            found.append(item)
            if len(found) > 1:
                raise ParseError("more than one plus-minus")
        for child in item[1:] if isinstance(item[0], str) else item:
            walk(child)

    walk(node)
    if not found:
        return [node]
    pm = found[0]

    def replace(item, branch):
        if item is pm:
            return branch
        if isinstance(item, tuple) and item and isinstance(item[0], str):
            return (item[0],) + tuple(replace(c, branch) for c in item[1:])
        if isinstance(item, tuple):
            return tuple(replace(c, branch) for c in item)
        return item

    plus = ("add", (pm[1], pm[2]))
    minus = ("add", (pm[1], ("neg", pm[2])))
    return [replace(node, plus), replace(node, minus)]


# --- Rule 12: relations linear in one variable, solved -----------------------
_TWO = ("num", Fraction(2))
_PI = ("const", "pi")


def solved_interval(relation):
    """The interval a relation linear in one variable states, or None.

    `2x > 4` and `x - 2 > 0` are `(2, \\infty)`, `3 - x \\ge 1` is
    `(-\\infty, 2]`, `2x \\neq 4` is `(-\\infty,2) \\cup (2,\\infty)`: the
    relation must be linear in one variable with a rational slope, and
    its constant made of rationals, square roots and powers of π.

    Args:
        relation: a ("rel", op, lhs, rhs) structure from `read_answer`.

    Returns:
        A "seq" or "union" structure, or None for any other relation.
    """
    _, op, lhs, rhs = relation
    # rhs - lhs > 0 (or >= 0, or != 0).
    poly = canonical.exact_poly(("add", (rhs, ("neg", lhs))))
    if not poly:
        return None
    variable = [m for m in poly if any(name != "pi" for name, _ in m[2])]
    if len(variable) != 1:
        return None
    imag, radicand, gens = variable[0]
    if imag or radicand != 1 or len(gens) != 1 or gens[0][1] != 1:
        return None
    if "(" in gens[0][0]:
        return None  # an opaque generator (a function, a quotient), no variable
    slope = poly[variable[0]]
    constant = {m: c for m, c in poly.items() if m != variable[0]}
    # slope * x + constant > 0, so x > -constant / slope when slope > 0.
    bound = _constant_node(constant, -1 / slope)
    if bound is None:
        return None
    direction = 0 if op == "!=" else -1 if slope > 0 else 1
    return _bounded(direction, op == "<=", bound)


def _constant_node(poly, scale):
    """The tree of a constant polynomial (rationals, square roots and
    powers of π) times `scale`, or None if `poly` is not such a constant."""
    terms = []
    for (imag, radicand, gens), coeff in sorted(poly.items(), key=repr):
        if imag or any(name != "pi" for name, _ in gens):
            return None
        factors = [("num", coeff * scale)]
        if radicand != 1:
            factors.append(("root", ("num", Fraction(radicand)), _TWO))
        for _, exponent in gens:
            factors.append(("pow", _PI, ("num", Fraction(exponent))))
        terms.append(
            factors[0] if len(factors) == 1 else ("mul", tuple(factors))
        )
    if not terms:
        return ("num", Fraction(0))
    return terms[0] if len(terms) == 1 else ("add", tuple(terms))
