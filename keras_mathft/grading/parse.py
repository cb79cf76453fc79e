"""The answer grammar: a tokenizer and an expression parser.

Model output is untrusted text, so it is never handed to `eval`, `exec`,
`sympify` or `parse_expr`. This module tokenizes a normalized answer and
parses an expression (`parse_expression`) or a matrix environment
(`parse_matrix`) into trees of plain tuples (picklable, hashable, cheap
to send to the sympy worker pool); `split_top`, `top_positions` and
`encloses` find tokens outside brackets. Nothing here runs code from the
input, and inputs over `MAX_TOKENS` tokens or nested deeper than
`MAX_DEPTH` are refused. How a whole answer is read (labels, relations,
intervals, lists) is `reading.py`'s.

Expression nodes:
    ("num", Fraction)          exact number (decimals are exact)
    ("sym", name)              a variable (`x`, `x_1`, `\\alpha`)
    ("const", "pi"|"i"|"inf")  the constants π, the imaginary unit, ∞
    ("add", (n, ...)), ("mul", (n, ...)), ("neg", n), ("div", n, d)
    ("pow", base, exp), ("root", radicand, index), ("fact", n)
    ("fn", name, arg), ("binom", n, k), ("abs", n)
    ("big", "sum"|"prod", index, low, high, body)  `\\sum_{k=a}^{b}`
    ("pm", a, b)               `a \\pm b` or `a \\mp b` (`\\pm b`: a is 0)
Juxtaposition multiplies (`2x`, `x\\sqrt2`), except that an integer
before a numeric `\\frac` is a mixed number (`1\\frac{4}{5}` is 9/5).
A numeral's base subscript is dropped (`1011_2` is the number 1011): it
restates the base the question asked for.

Unbraced arguments are one token, as TeX reads them: one digit of a
numeral (`\\frac12`, `\\binom52`, `x^2`, `\\sqrt[3]2`, `x_1`), a
letter or a command. The digits left over are read as what follows:
the next argument (`\\frac123`'s `2`) or a function's argument
(`\\log_28` is log 8 / log 2, `\\sin^23x` is sin(3x)²). Left over
anywhere else (`\\sqrt23`, `\\sqrt[3]27`, `x^23`, `2^10`, `x_12`,
`x^2.5`) they would multiply what TeX renders before them, while the
writer most likely meant one number (√23, x²³, 2¹⁰): neither reading is
safe, so such an answer is refused, never read with a digit dropped.
A factorial after a script applies to the power (`x^2!` is (x²)!, as
TeX renders it).
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
GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta "
    "kappa lambda mu nu xi rho sigma tau phi varphi chi psi omega Gamma "
    "Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
# Commands that begin an operand (and so may follow one, multiplying it).
_ATOM_COMMANDS = (
    frozenset(("frac", "sqrt", "binom", "pi", "infty", "sum", "prod"))
    | GREEK
    | FUNCTIONS
)

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\[{}|,\\])"
    r"|(?P<op><=|>=|!=|[-+*/^_(){}\[\],=<>!|&':])"
    r"|(?P<letter>[a-zA-Z]))"
)


class ParseError(ValueError):
    """An answer outside the grammar (or over its size bounds)."""


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
        # A copy: splitting a numeral among one-token arguments inserts
        # the digits left over (see `digit`).
        self.tokens = list(tokens)
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
            elif kind == "rest":
                raise ParseError(
                    f"digits {value!r} left over after a one-digit "
                    "argument (TeX's reading and one number differ)"
                )
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
                exponent = ("neg", self.script())
            else:
                exponent = self.script()
            # A factorial after the script is the power's: `x^2!` is
            # (x^2)!, as TeX renders it, and `x^{2!}` is x^(2!).
            base = ("pow", base, exponent)
            base = self.postfix(base)
        self.depth -= 1
        return base

    def script(self):
        """A superscript: one digit of a numeral, else one atom."""
        if self.peek()[0] in ("num", "rest"):
            return self.digit()
        return self.atom()

    def digit(self):
        """The first digit of a numeral, as TeX reads an unbraced
        argument; the digits left over stay next in line, as a "rest"
        token that only an argument may take."""
        _, value = self.take()
        if len(value) > 1:
            if not (value[0].isdigit() and value[1].isdigit()):
                raise ParseError(
                    f"a decimal point in a one-token argument: {value!r}"
                )
            self.tokens.insert(self.pos, ("rest", value[1:]))
        return _num(value[0])

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
        # `\frac12`-style single-token arguments: TeX takes one digit.
        kind, value = self.take()
        if kind in ("num", "rest"):
            self.pos -= 1
            return self.digit()
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
        if kind in ("num", "rest"):
            # A "rest" reaches here only as a function's argument
            # (`\log_28`); anywhere else `term` refuses it first.
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
        if name in GREEK:
            return ("sym", name)
        if name in ("sum", "prod"):
            return self._big_operator(name)
        if name in FUNCTIONS:
            exponent = None
            if self.at("^"):
                self.take()
                exponent = self.script()
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
        high = self.script()
        if self.peek()[0] == "rest":
            # `\sum_{k=1}^10 k` renders a sum up to 1 of 0k; the writer
            # meant 10.
            raise ParseError("digits left over after a sum's bound")
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


def parse_expression(tokens):
    """Parses a whole token list as one expression tree (see module).

    Args:
        tokens: list of (kind, text) tokens from `tokenize`.

    Returns:
        The expression tree.

    Raises:
        ParseError: when the tokens are not exactly one expression.
    """
    parser = _Parser(tokens)
    node = parser.expression()
    if not parser.done():
        raise ParseError(f"trailing input at {parser.peek()[1]!r}")
    return node


def contains(node, kind):
    """True when an expression tree has a node of `kind` (`"sym"`, ...)."""
    if not isinstance(node, tuple) or not node:
        return False
    if node[0] == kind:
        return True
    # A node is (kind, *args), and an argument may be a tuple of nodes.
    children = node[1:] if isinstance(node[0], str) else node
    return any(contains(child, kind) for child in children)


# Brackets that nest, for finding tokens outside all of them.
_OPENERS = ("(", "[", "{", "\\{")
_CLOSERS = (")", "]", "}", "\\}")


def split_top(tokens, separators):
    """Splits a token list at separators outside all brackets.

    Args:
        tokens: list of (kind, text) tokens.
        separators: token texts to split at (`,`, `\\cup`, `&`).

    Returns:
        A list of token lists, one more than the separators found.
    """
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


def top_positions(tokens, predicate):
    """Indices of the tokens outside all brackets whose text satisfies
    `predicate`."""
    positions, depth = [], 0
    for i, (_, value) in enumerate(tokens):
        if value in _OPENERS:
            depth += 1
        elif value in _CLOSERS:
            depth -= 1
        elif depth == 0 and predicate(value):
            positions.append(i)
    return positions


def encloses(values):
    """True when the first bracket of token texts closes at the last."""
    depth = 0
    for i, value in enumerate(values):
        if value in _OPENERS:
            depth += 1
        elif value in _CLOSERS:
            depth -= 1
            if depth == 0 and i != len(values) - 1:
                return False
    return depth == 0


_MATRIX_RE = re.compile(
    r"^\\begin\{([pbvB]?matrix|array)\}(?:\{[lcr|]*\})?(.*)\\end\{\1\}$",
    re.DOTALL,
)
# One pair of brackets around a whole matrix: `\left[\begin{array}...`.
_BRACKETED_MATRIX_RE = re.compile(
    r"^[(\[](\\begin\{([pbvB]?matrix|array)\}.*\\end\{\2\})[)\]]$", re.DOTALL
)


def parse_matrix(s):
    """Parses a matrix or array environment into its rows of trees.

    One pair of brackets around the environment is allowed; every cell is
    one expression (a `\\pm` is refused there), and every row has as many
    cells.

    Args:
        s: str. A normalized answer.

    Returns:
        ("matrix", rows), rows a tuple of tuples of expression trees, or
        None when `s` is not a matrix environment.

    Raises:
        ParseError: when a cell is not one expression or rows are ragged.
    """
    bracketed = _BRACKETED_MATRIX_RE.match(s)
    if bracketed:
        s = bracketed.group(1)
    match = _MATRIX_RE.match(s)
    if match is None:
        return None
    rows = []
    for row in split_top(tokenize(match.group(2)), ("\\\\",)):
        if not row:
            continue
        cells = tuple(map(parse_expression, split_top(row, ("&",))))
        if any(contains(cell, "pm") for cell in cells):
            raise ParseError("plus-minus where one value is needed")
        rows.append(cells)
    if not rows or len({len(row) for row in rows}) != 1:
        raise ParseError("ragged matrix")
    return ("matrix", tuple(rows))
