"""A small, safe parser for the MATH answer grammar.

Model output is untrusted text, so it is never handed to `eval`, `exec`,
`sympify` or `parse_expr`. This module tokenizes a normalized answer and
builds a tree of plain tuples (picklable, hashable, cheap to send to the
sympy worker pool). Nothing here runs code from the input.

Expression nodes:
    ("num", Fraction)          exact number (decimals are exact)
    ("sym", name)              a variable (`x`, `x_1`, `\\alpha`)
    ("const", "pi"|"i"|"inf")  the constants π, the imaginary unit, ∞
    ("add", (n, ...)), ("mul", (n, ...)), ("neg", n), ("div", n, d)
    ("pow", base, exp), ("root", radicand, index), ("fact", n)
    ("fn", name, arg), ("binom", n, k), ("abs", n)
    ("big", "sum"|"prod", index, low, high, body)  `\\sum_{k=a}^{b}`
A numeral's base subscript is dropped (`1011_2` is the number 1011): it
restates the base the question asked for.

Answer structures (the top level):
    ("expr", node), ("text", words), ("list", items) (bare commas, order
    free; items are ("expr", node) or tuples), ("set", nodes),
    ("seq", open, close, nodes) (tuples, intervals, and ratios `a:b` with
    ":" as both brackets), ("union", parts), ("matrix", rows),
    ("eq", lhs, rhs), ("rel", op, lhs, rhs) with op in `<`, `<=`, `!=`.

Read before the structure: a label (`x=`, `a_3=`, `f(x)=`, `(p,q)=`,
`|AB|=`, `\\frac{NO}{BO}=`) is dropped; a comma list of labelled items is
the list of its values, and labels repeating in blocks (`p=5,q=2,p=7,
q=2`) make one tuple per block, in the first block's label order; a
chain `a = b = c` is its last side; `a \\approx b` is `a` (or `b` when
`a` is only a label); an equation of constants (`5+5+1 = 11`) is its
right side; one `\\pm` anywhere in an item makes two items. An
inequality bounding a lone variable or function value by constants
(`x > 2`, `a \\le x < b`, `x \\neq 3`) is the interval (or union) it
describes, and a list of such bounds on one variable is their union.
"""

import re
from fractions import Fraction

# Parse trees deeper or longer than this are refused (treated as text).
MAX_DEPTH = 60
MAX_TOKENS = 400

FUNCTIONS = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln "
    "exp lg".split()
)
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta "
    "kappa lambda mu nu xi rho sigma tau phi varphi chi psi omega Gamma "
    "Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
# Commands that begin an operand (and so may follow one, multiplying it).
_ATOM_COMMANDS = (
    frozenset(("frac", "sqrt", "binom", "pi", "infty", "sum", "prod"))
    | _GREEK
    | FUNCTIONS
)
_REL_COMMANDS = {"leq": "<=", "geq": ">=", "neq": "!=", "lt": "<", "gt": ">"}

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\[{}|,\\])"
    r"|(?P<op><=|>=|!=|[-+*/^_(){}\[\],=<>!|&':])"
    r"|(?P<letter>[a-zA-Z]))"
)


class ParseError(ValueError):
    pass


def tokenize(s):
    """Splits a normalized answer into (kind, text) tokens.

    Raises:
        ParseError: on a character outside the grammar or too many tokens.
    """
    tokens, pos = [], 0
    s = s.strip()
    while pos < len(s):
        match = _TOKEN_RE.match(s, pos)
        if match is None or match.end() == pos:
            raise ParseError(f"unexpected character {s[pos]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        if len(tokens) > MAX_TOKENS:
            raise ParseError("answer too long")
        while pos < len(s) and s[pos] == " ":
            pos += 1
    return tokens


def _num(value):
    return ("num", Fraction(value))


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    # --- token helpers -------------------------------------------------
    def peek(self, offset=0):
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def at(self, value):
        return self.peek()[1] == value

    def expect(self, value):
        if not self.at(value):
            raise ParseError(f"expected {value!r}, got {self.peek()[1]!r}")
        self.pos += 1

    def done(self):
        return self.pos >= len(self.tokens)

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("answer nested too deeply")

    # --- grammar -------------------------------------------------------
    def expression(self):
        self.enter()
        terms = []
        if self.at("\\pm") or self.at("\\mp"):
            # `\pm 2` is the two values 2 and -2.
            self.take()
            term = self.term()
            self.depth -= 1
            return ("pm", _num(0), term)
        terms.append(self.term())
        pm = None
        while self.peek()[1] in ("+", "-", "\\pm", "\\mp"):
            op = self.take()[1]
            term = self.term()
            if op == "-":
                term = ("neg", term)
            elif op in ("\\pm", "\\mp"):
                if pm is not None:
                    raise ParseError("more than one plus-minus")
                pm = (len(terms), term)
                continue
            terms.append(term)
        self.depth -= 1
        node = terms[0] if len(terms) == 1 else ("add", tuple(terms))
        if pm is not None:
            # `a \pm b` keeps both branches: ("pm", a, b) is split by the
            # caller into the two answers a + b and a - b.
            return ("pm", node, pm[1])
        return node

    def term(self):
        self.enter()
        if self.peek()[1] in ("-", "+"):
            op = self.take()[1]
            inner = self.term()
            self.depth -= 1
            return ("neg", inner) if op == "-" else inner
        factors = [self.power()]
        while not self.done():
            kind, value = self.peek()
            if value in ("*", "\\cdot", "\\times", "\\ast"):
                self.take()
                factors.append(self.power())
            elif value in ("/", "\\div"):
                self.take()
                denominator = self.power()
                numerator = (
                    factors[0] if len(factors) == 1 else ("mul", tuple(factors))
                )
                factors = [("div", numerator, denominator)]
            elif self._starts_atom():
                right = self.power()
                left = factors[-1]
                if (
                    len(factors) == 1
                    and left[0] == "num"
                    and left[1].denominator == 1
                    and right[0] == "div"
                    and right[1][0] == "num"
                    and right[2][0] == "num"
                    and kind == "cmd"
                    and value == "\\frac"
                ):
                    # A mixed number: `1\frac{4}{5}` is 1 + 4/5, not 4/5.
                    factors = [("add", (left, right))]
                else:
                    factors.append(right)
            else:
                break
        self.depth -= 1
        return factors[0] if len(factors) == 1 else ("mul", tuple(factors))

    def _starts_atom(self):
        kind, value = self.peek()
        if kind in ("num", "letter"):
            return True
        if kind == "cmd":
            return value[1:] in _ATOM_COMMANDS
        return value in ("(", "{")

    def power(self):
        self.enter()
        base = self.postfix(self.atom())
        if self.at("^"):
            self.take()
            if self.at("-"):
                self.take()
                exponent = ("neg", self.postfix(self.atom()))
            else:
                exponent = self.postfix(self.atom())
            base = ("pow", base, exponent)
            base = self.postfix(base)
        self.depth -= 1
        return base

    def postfix(self, node):
        while self.at("!"):
            self.take()
            node = ("fact", node)
        while self.at("'"):
            raise ParseError("primes are not supported")
        return node

    def group(self, close):
        node = self.expression()
        self.expect(close)
        return node

    def braced(self):
        if self.at("{"):
            self.take()
            return self.group("}")
        # `\frac12`-style single-token arguments.
        kind, value = self.take()
        if kind == "num":
            return _num(value[0]) if len(value) > 1 else _num(value)
        if kind == "letter":
            return ("sym", value)
        if kind == "cmd":
            self.pos -= 1
            return self.atom()
        raise ParseError(f"expected an argument, got {value!r}")

    def atom(self):
        self.enter()
        kind, value = self.take()
        if kind is None:
            raise ParseError("unexpected end")
        if kind == "num":
            node = _num(value)
            if self.at("_"):
                # A numeral in another base: `1011_2`, `4210_{5}`. The
                # subscript only restates the base; the digits are kept.
                self.take()
                base = self.braced()
                if base[0] != "num" or base[1].denominator != 1:
                    raise ParseError("bad base subscript")
                if "." in value:
                    raise ParseError("fractional numeral in a base")
        elif kind == "letter":
            name = value
            if self.at("_"):
                self.take()
                sub = self.braced()
                name = f"{value}_{_flat_name(sub)}"
            # Policy: a bare `i` is the imaginary unit, never a variable.
            node = ("const", "i") if name == "i" else ("sym", name)
        elif kind == "cmd":
            node = self._command(value[1:])
        elif value == "(":
            node = self.group(")")
        elif value == "{":
            node = self.group("}")
        elif value == "|":
            node = ("abs", self.group("|"))
        else:
            raise ParseError(f"unexpected token {value!r}")
        self.depth -= 1
        return node

    def _command(self, name):
        if name == "frac":
            numerator = self.braced()
            return ("div", numerator, self.braced())
        if name == "sqrt":
            index = _num(2)
            if self.at("["):
                self.take()
                index = self.group("]")
            return ("root", self.braced(), index)
        if name == "binom":
            top = self.braced()
            return ("binom", top, self.braced())
        if name == "pi":
            return ("const", "pi")
        if name == "infty":
            return ("const", "inf")
        if name in _GREEK:
            return ("sym", name)
        if name in ("sum", "prod"):
            return self._big_operator(name)
        if name in FUNCTIONS:
            exponent = None
            if self.at("^"):
                self.take()
                exponent = self.postfix(self.atom())
            if name == "log" and self.at("_"):
                self.take()
                base = self.braced()
                arg = self._function_argument()
                node = ("div", ("fn", "log", arg), ("fn", "log", base))
            else:
                node = ("fn", "log" if name == "lg" else name, None)
                node = ("fn", node[1], self._function_argument())
            if exponent is not None:
                node = ("pow", node, exponent)
            return node
        raise ParseError(f"unsupported command \\{name}")

    def _big_operator(self, name):
        """`\\sum_{k=a}^{b} body`: the body is the product that follows."""
        self.expect("_")
        self.expect("{")
        kind, index = self.take()
        if kind != "letter":
            raise ParseError("a sum needs an index variable")
        self.expect("=")
        low = self.group("}")
        self.expect("^")
        high = self.postfix(self.atom())
        return ("big", name, index, low, high, self._function_argument())

    def _function_argument(self):
        if self.at("("):
            self.take()
            return self.group(")")
        if self.at("{"):
            self.take()
            return self.group("}")
        factors = [self.power()]
        while not self.done() and self._starts_atom():
            if self.peek()[0] == "cmd" and self.peek()[1][1:] in FUNCTIONS:
                break
            factors.append(self.power())
        return factors[0] if len(factors) == 1 else ("mul", tuple(factors))


def _flat_name(node):
    if node[0] == "num":
        return str(node[1])
    if node[0] == "sym":
        return node[1]
    return repr(node)


_OPENERS = ("(", "[", "{", "\\{")
_CLOSERS = (")", "]", "}", "\\}")
_RELATIONS = frozenset(("=", "<", ">", "<=", ">=", "!="))


def _split_top(tokens, separators):
    """Splits a token list at depth-0 separators."""
    parts, current, depth = [], [], 0
    for token in tokens:
        value = token[1]
        if value in _OPENERS:
            depth += 1
        elif value in _CLOSERS:
            depth -= 1
        if depth == 0 and value in separators:
            parts.append(current)
            current = []
            continue
        current.append(token)
    parts.append(current)
    return parts


def _is_relation(value):
    return value in _RELATIONS or (
        value.startswith("\\") and value[1:] in _REL_COMMANDS
    )


def _top_positions(tokens, predicate):
    positions, depth = [], 0
    for i, (_, value) in enumerate(tokens):
        if value in _OPENERS:
            depth += 1
        elif value in _CLOSERS:
            depth -= 1
        elif depth == 0 and predicate(value):
            positions.append(i)
    return positions


def parse_expression(tokens):
    """Parses a whole token list as one expression tree (see module)."""
    parser = _Parser(tokens)
    node = parser.expression()
    if not parser.done():
        raise ParseError(f"trailing input at {parser.peek()[1]!r}")
    return node


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


def _single_expression(tokens):
    nodes = _expand_pm(parse_expression(tokens))
    if len(nodes) > 1:
        raise ParseError("plus-minus where one value is needed")
    return nodes[0]


def _items(tokens):
    """Parses comma-separated expressions, splitting each `a \\pm b`."""
    items = []
    for part in _split_top(tokens, (",",)):
        if not part:
            raise ParseError("empty item")
        items.extend(_expand_pm(parse_expression(part)))
    return tuple(items)


def _matrix(tokens):
    # tokens hold the body between \begin{..matrix} and \end{..matrix}.
    rows = []
    for row in _split_top(tokens, ("\\\\",)):
        if not row:
            continue
        rows.append(
            tuple(_single_expression(cell) for cell in _split_top(row, ("&",)))
        )
    if not rows or len({len(row) for row in rows}) != 1:
        raise ParseError("ragged matrix")
    return ("matrix", tuple(rows))


_MATRIX_RE = re.compile(
    r"^\\begin\{([pbvB]?matrix|array)\}(?:\{[lcr|]*\})?(.*)\\end\{\1\}$",
    re.DOTALL,
)
# One pair of brackets around a whole matrix: `\left[\begin{array}...`.
_BRACKETED_MATRIX_RE = re.compile(
    r"^[(\[](\\begin\{([pbvB]?matrix|array)\}.*\\end\{\2\})[)\]]$", re.DOTALL
)
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z ]*$")
_DIGIT_E_DIGIT_RE = re.compile(r"\d[eE]\d")


def parse_answer(normalized):
    """Parses a normalized answer into an answer structure (see module).

    Raises:
        ParseError: when the answer is outside the supported grammar.
    """
    s = normalized
    bracketed = _BRACKETED_MATRIX_RE.match(s)
    if bracketed:
        s = bracketed.group(1)
    matrix = _MATRIX_RE.match(s)
    if matrix:
        return _matrix(tokenize(matrix.group(2)))
    if _WORD_RE.match(s) and re.search(r"[A-Za-z]{3}", s):
        words = s.lower().strip(" .")
        if words not in FUNCTIONS:
            return ("text", " ".join(words.split()))
    if _DIGIT_E_DIGIT_RE.search(s):
        # Scientific notation among variables (`1e3x`; normalization reads
        # it only in answers without other letters): neither 1000x nor 3ex
        # is safe, so the answer is compared as written.
        raise ParseError("scientific notation next to variables")
    tokens = tokenize(s)
    if not tokens:
        raise ParseError("empty answer")
    unions = _split_top(tokens, ("\\cup",))
    if len(unions) > 1:
        return ("union", tuple(_structure(part) for part in unions))
    return _structure(tokens)


def _structure(tokens):
    if not tokens:
        raise ParseError("empty answer")
    parts = _split_top(tokens, (",",))
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
    label, value = _item(tokens)
    return value


def _bound_quantity(tokens, value):
    """The quantity an item bounds when it is an inequality read as an
    interval (`x` for `x > 2` and `0 < x < 1`), else None."""
    if value[0] not in ("seq", "union"):
        return None
    positions = _top_positions(tokens, _is_relation)
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


def _item(tokens):
    """One answer item as (label or None, structure)."""
    tokens = _before_approximation(tokens)
    positions = _top_positions(tokens, _is_relation)
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
        lhs_node, rhs_node = parse_expression(lhs), parse_expression(rhs)
        if not (_has_symbol(lhs_node) or _has_symbol(rhs_node)):
            return None, _value(rhs)
    return None, _relation(tokens, positions)


def _before_approximation(tokens):
    """`a \\approx b` is its exact side `a`, or `b` if `a` is a label."""
    parts = _split_top(tokens, ("\\approx",))
    if len(parts) == 1:
        return tokens
    left = parts[0]
    if not _top_positions(left, _is_relation) and _label(left) is not None:
        return left + [("op", "=")] + parts[-1]
    return left


def _has_symbol(node):
    """True when a tree holds a variable."""
    if not isinstance(node, tuple) or not node:
        return False
    if node[0] == "sym":
        return True
    # A node is (kind, *args), and an argument may be a tuple of nodes.
    children = node[1:] if isinstance(node[0], str) else node
    return any(_has_symbol(child) for child in children)


# Commands that may appear in a label: names and decorations, not
# operations (`\sin x = 1` is an equation).
_LABEL_COMMANDS = (
    _GREEK
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
            named = named or value[1:] in _GREEK
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


def _value(tokens):
    """An answer item with no relation at the top level."""
    if not tokens:
        raise ParseError("empty answer")
    values = [token[1] for token in tokens]
    ratio = _split_top(tokens, (":",))
    if len(ratio) > 1:
        return ("seq", ":", ":", tuple(map(_single_expression, ratio)))
    first, last = values[0], values[-1]
    inner = tokens[1:-1]
    pairs = {("(", ")"), ("[", "]"), ("(", "]"), ("[", ")")}
    if (first, last) in pairs and len(_split_top(inner, (",",))) > 1:
        if _encloses(values):
            items = tuple(map(_single_expression, _split_top(inner, (",",))))
            return ("seq", first, last, items)
    if first == "\\{" and last == "\\}" and _encloses(values):
        return ("set", _items(inner) if inner else ())
    nodes = _expand_pm(parse_expression(tokens))
    if len(nodes) > 1:
        return ("list", tuple(("expr", node) for node in nodes))
    return ("expr", nodes[0])


def _encloses(values):
    """True when the first bracket closes at the last token."""
    depth = 0
    for i, value in enumerate(values):
        if value in _OPENERS:
            depth += 1
        elif value in _CLOSERS:
            depth -= 1
            if depth == 0 and i != len(values) - 1:
                return False
    return depth == 0


_INEQUALITIES = {"<": (1, False), "<=": (1, True), ">": (-1, False)}
_INEQUALITIES[">="] = (-1, True)
_INFINITY = ("const", "inf")


def _operator(token):
    op = token[1]
    return _REL_COMMANDS.get(op[1:], op) if op.startswith("\\") else op


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
    return (
        "seq",
        "[" if low_closed else "(",
        "]" if high_closed else ")",
        (low, high),
    )


def excluded_point(point):
    """The solution set of `x \\neq point`: two open half-lines."""
    return (
        "union",
        (
            _interval(("neg", _INFINITY), False, point, False),
            _interval(point, False, _INFINITY, False),
        ),
    )


def _bounded(direction, closed, bound):
    """The interval of `x` where `x op bound` (direction 1: `<`, -1: `>`,
    0: `\\neq`, two half-lines)."""
    if not direction:
        return excluded_point(bound)
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
