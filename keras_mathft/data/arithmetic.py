"""A safe evaluator of the embedded task's arithmetic notation.

Model output is untrusted text, so it is never given to `eval`, `sympify`
or any parser that can run code. This module reads the notation of the
embedded task's solutions (`keras_mathft.data.synthetic`) with a small
recursive-descent parser over exact `fractions.Fraction` values:

- numbers: integers and decimals (`12`, `3.75`), exact;
- `+`, `-` (binary and unary), `\\times`, `\\cdot`, `*`, `/`, parentheses;
- `\\frac{a}{b}` (also `\\dfrac`, `\\tfrac`), `\\gcd(a, b)` of integers;
- names bound by the caller (`x`, `P`, ...), with implicit
  multiplication after a number or a closing parenthesis (`5x`, `2(3)`).

Anything else (an unknown command, a letter not bound, a division by
zero, unbalanced brackets, nesting deeper than `MAX_DEPTH`) raises
`ArithmeticSyntaxError`: a line the checker cannot read is never taken
as right.
"""

import fractions
import math
import re

MAX_DEPTH = 32
MAX_DIGITS = 64

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<command>\\[a-zA-Z]+)"
    r"|(?P<name>[a-zA-Z])"
    r"|(?P<symbol>[-+*/(){},]))"
)
_FRACS = ("\\frac", "\\dfrac", "\\tfrac")
_TIMES = ("\\times", "\\cdot", "*")


class ArithmeticSyntaxError(ValueError):
    """Raised for text that is not an expression of the notation."""


def tokenize(text):
    """Splits an expression into tokens; raises on any other character.

    Args:
        text: str.

    Returns:
        A list of `(kind, token)` with kind `"number"`, `"command"`,
        `"name"` or `"symbol"`.

    Raises:
        ArithmeticSyntaxError: for text outside the notation.

    Example:

    >>> [t for _, t in tokenize("\\\\frac{3}{4} + 5x")]
    ['\\\\frac', '{', '3', '}', '{', '4', '}', '+', '5', 'x']
    """
    if not isinstance(text, str):
        raise ArithmeticSyntaxError(
            f"An expression must be a str. Received: {type(text).__name__}"
        )
    tokens, position = [], 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise ArithmeticSyntaxError(
                "Not an expression of the task's notation at "
                f"{stripped[position : position + 10]!r}. Received: {text!r}"
            )
        kind = match.lastgroup
        token = match.group(kind)
        if kind == "number" and len(token) > MAX_DIGITS:
            raise ArithmeticSyntaxError(
                f"A number longer than {MAX_DIGITS} digits. Received: "
                f"{token[:20]}..."
            )
        tokens.append((kind, token))
        position = match.end()
    return tokens


def evaluate(text, names=None):
    """The exact value of an expression of the task's notation.

    Args:
        text: str, e.g. `"\\\\frac{44 + 8}{12}"` or `"7x - 4x"`.
        names: optional dict from a one-letter name to its value (a
            `Fraction` or int); other letters are unreadable.

    Returns:
        A `fractions.Fraction`.

    Raises:
        ArithmeticSyntaxError: when `text` is not an expression of the
            notation, uses an unbound name, divides by zero or takes the
            gcd of non-integers.

    Example:

    >>> evaluate("\\\\frac{90 - 14}{63}")
    Fraction(76, 63)
    >>> evaluate("7x - 4x", {"x": 2})
    Fraction(6, 1)
    >>> evaluate("\\\\gcd(84, 36)")
    Fraction(12, 1)
    """
    return _Parser(tokenize(text), text, names or {}).parse()


def numbers(text):
    """The numbers an expression writes, as exact non-negative values.

    A `\\frac{a}{b}` whose parts are plain numbers counts as one number
    (its value): `\\frac{3}{2}` writes 3/2, not 3 and 2. Signs are
    dropped.

    Args:
        text: str.

    Returns:
        A list of `Fraction`.

    Raises:
        ArithmeticSyntaxError: for text outside the notation.

    Example:

    >>> numbers("\\\\frac{52}{12} + 3 - 0.5")
    [Fraction(13, 3), Fraction(3, 1), Fraction(1, 2)]
    """
    tokens = [t for _, t in tokenize(text)]
    out, i = [], 0
    while i < len(tokens):
        window = tokens[i : i + 7]
        if (
            len(window) == 7
            and window[0] in _FRACS
            and (window[1], window[3], window[4], window[6])
            == ("{", "}", "{", "}")
            and _is_number(window[2])
            and _is_number(window[5])
            and fractions.Fraction(window[5]) != 0
        ):
            out.append(
                fractions.Fraction(window[2]) / fractions.Fraction(window[5])
            )
            i += 7
            continue
        if _is_number(tokens[i]):
            out.append(fractions.Fraction(tokens[i]))
        i += 1
    return out


def _is_number(token):
    return token[0].isdigit() or token[0] == "."


class _Parser:
    """expression := term (('+' | '-') term)*
    term := unary (('\\times' | '/' | implicit) unary)*
    unary := '-' unary | '+' unary | atom
    atom := number | name | '(' expression ')' | '{' expression '}'
        | '\\frac' '{' expression '}' '{' expression '}'
        | '\\gcd' '(' expression ',' expression ')'
    """

    def __init__(self, tokens, text, names):
        self.tokens, self.text, self.names = tokens, text, names
        self.position, self.depth = 0, 0

    def fail(self, why):
        raise ArithmeticSyntaxError(f"{why}. Received: {self.text!r}")

    def peek(self):
        if self.position < len(self.tokens):
            return self.tokens[self.position]
        return (None, None)

    def take(self, expected=None):
        kind, token = self.peek()
        if token is None:
            self.fail("The expression ends early")
        if expected is not None and token != expected:
            self.fail(f"Expected {expected!r}, found {token!r}")
        self.position += 1
        return kind, token

    def parse(self):
        if not self.tokens:
            self.fail("An empty expression")
        value = self.expression()
        if self.position != len(self.tokens):
            self.fail(f"Unexpected {self.peek()[1]!r}")
        return value

    def expression(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"Nesting deeper than {MAX_DEPTH}")
        value = self.term()
        while self.peek()[1] in ("+", "-"):
            _, op = self.take()
            right = self.term()
            value = value + right if op == "+" else value - right
        self.depth -= 1
        return value

    def term(self):
        value = self.unary()
        while True:
            kind, token = self.peek()
            if token in _TIMES:
                self.take()
                value = value * self.unary()
            elif token == "/":
                self.take()
                value = self.divide(value, self.unary())
            elif kind == "name" or token == "(":
                # Implicit multiplication: `5x`, `2(3 + 4)`.
                value = value * self.atom()
            else:
                return value

    def unary(self):
        token = self.peek()[1]
        if token in ("-", "+"):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.fail(f"Nesting deeper than {MAX_DEPTH}")
            value = self.unary()
            self.depth -= 1
            return -value if token == "-" else value
        return self.atom()

    def atom(self):
        kind, token = self.take()
        if kind == "number":
            return fractions.Fraction(token)
        if kind == "name":
            if token not in self.names:
                self.fail(f"The name {token!r} has no value")
            return fractions.Fraction(self.names[token])
        if token in ("(", "{"):
            value = self.expression()
            self.take(")" if token == "(" else "}")
            return value
        if token in _FRACS:
            num = self.braced()
            return self.divide(num, self.braced())
        if token == "\\gcd":
            self.take("(")
            a = self.expression()
            self.take(",")
            b = self.expression()
            self.take(")")
            if a.denominator != 1 or b.denominator != 1:
                self.fail("The gcd of non-integers")
            return fractions.Fraction(math.gcd(a.numerator, b.numerator))
        self.fail(f"Unexpected {token!r}")

    def braced(self):
        self.take("{")
        value = self.expression()
        self.take("}")
        return value

    def divide(self, num, den):
        if den == 0:
            self.fail("A division by zero")
        return num / den
