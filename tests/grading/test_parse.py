"""The answer grammar (`keras_mathft/grading/parse.py`) on its own.

Expected trees are written out by hand; inputs are normalized answers
(no spaces between tokens but where a command needs one).
"""

from fractions import Fraction

import pytest

from keras_mathft.grading import parse

pytestmark = pytest.mark.backend_independent


def num(value):
    return ("num", Fraction(value))


def sym(name):
    return ("sym", name)


def add(*terms):
    return ("add", terms)


def mul(*factors):
    return ("mul", factors)


X, Y = sym("x"), sym("y")
PI, IMAGINARY, INF = ("const", "pi"), ("const", "i"), ("const", "inf")

EXPRESSIONS = [
    # Numbers are exact; a base subscript is dropped.
    ("42", num(42)),
    ("1.25", num(Fraction(5, 4))),
    ("0.1", num(Fraction(1, 10))),
    ("1011_2", num(1011)),
    ("4210_{5}", num(4210)),
    # Constants and variables: `i` is the imaginary unit.
    (r"\pi", PI),
    (r"\infty", INF),
    ("i", IMAGINARY),
    ("e", sym("e")),
    ("x_1", sym("x_1")),
    ("x_{12}", sym("x_12")),
    (r"\alpha", sym("alpha")),
    # Precedence: products before sums, powers before products and signs.
    ("1+2*3", add(num(1), mul(num(2), num(3)))),
    ("(1+2)*3", mul(add(num(1), num(2)), num(3))),
    ("1-2", add(num(1), ("neg", num(2)))),
    ("-2^2", ("neg", ("pow", num(2), num(2)))),
    ("--x", ("neg", ("neg", X))),
    ("+x", X),
    ("2x^2", mul(num(2), ("pow", X, num(2)))),
    ("x^{-1}", ("pow", X, ("neg", num(1)))),
    ("x^-1", ("pow", X, ("neg", num(1)))),
    ("x^{y+1}", ("pow", X, add(Y, num(1)))),
    ("5!", ("fact", num(5))),
    ("(x^2)!", ("fact", ("pow", X, num(2)))),
    # A factorial after a script is the power's, as TeX renders `x^2!`.
    ("x^2!", ("fact", ("pow", X, num(2)))),
    ("x^{2!}", ("pow", X, ("fact", num(2)))),
    # Division is left-associative and binds like a product.
    ("a/b/c", ("div", ("div", sym("a"), sym("b")), sym("c"))),
    ("2/3x", mul(("div", num(2), num(3)), X)),
    (r"6\div2", ("div", num(6), num(2))),
    (r"x\cdot y\times2", mul(X, Y, num(2))),
    # Implicit multiplication.
    ("2x", mul(num(2), X)),
    ("xy", mul(X, Y)),
    ("(1+2)(3)", mul(add(num(1), num(2)), num(3))),
    (r"2\pi", mul(num(2), PI)),
    (r"\sqrt{x}y", mul(("root", X, num(2)), Y)),
    # Fractions; an integer before a numeric fraction is a mixed number.
    (r"\frac{a}{b}", ("div", sym("a"), sym("b"))),
    (r"\frac{1}{2}x", mul(("div", num(1), num(2)), X)),
    (r"1\frac{4}{5}", add(num(1), ("div", num(4), num(5)))),
    (r"2\frac{x}{2}", mul(num(2), ("div", X, num(2)))),
    (r"x\frac{1}{2}", mul(X, ("div", num(1), num(2)))),
    (r"1.5\frac{1}{2}", mul(num(Fraction(3, 2)), ("div", num(1), num(2)))),
    # Roots, binomials, absolute values.
    (r"\sqrt{2}", ("root", num(2), num(2))),
    (r"\sqrt[3]{8}", ("root", num(8), num(3))),
    (r"\binom{5}{2}", ("binom", num(5), num(2))),
    ("|x-1|", ("abs", add(X, ("neg", num(1))))),
    # Unbraced arguments are one token, as in TeX: a numeral is split
    # among the arguments of one command, and what is left over is read
    # as what follows only where that is an argument (a function's).
    (r"\frac12", ("div", num(1), num(2))),
    (r"\frac1{23}", ("div", num(1), num(23))),
    (r"\frac12x", mul(("div", num(1), num(2)), X)),
    (r"\binom52", ("binom", num(5), num(2))),
    (r"\sqrt2", ("root", num(2), num(2))),
    (r"\sqrt[3]2", ("root", num(2), num(3))),
    ("x^2y", mul(("pow", X, num(2)), Y)),
    ("x_1", sym("x_1")),
    ("52_8", num(52)),
    (r"\log_28", ("div", ("fn", "log", num(8)), ("fn", "log", num(2)))),
    (r"\log_216", ("div", ("fn", "log", num(16)), ("fn", "log", num(2)))),
    (r"\sin^23x", ("pow", ("fn", "sin", mul(num(3), X)), num(2))),
    # Functions take a bracketed argument or the product that follows,
    # up to the next function.
    (r"\sin x", ("fn", "sin", X)),
    (r"\sin(x+1)", ("fn", "sin", add(X, num(1)))),
    (r"\sin 2x", ("fn", "sin", mul(num(2), X))),
    (r"\sin x\cos x", mul(("fn", "sin", X), ("fn", "cos", X))),
    (r"\sin^2x", ("pow", ("fn", "sin", X), num(2))),
    (r"\lg100", ("fn", "log", num(100))),
    (r"\log_2 8", ("div", ("fn", "log", num(8)), ("fn", "log", num(2)))),
    # Sums and products keep index, bounds and body.
    (r"\sum_{k=1}^{n}k", ("big", "sum", "k", num(1), sym("n"), sym("k"))),
    (
        r"\prod_{j=0}^{3}(j+1)",
        ("big", "prod", "j", num(0), num(3), add(sym("j"), num(1))),
    ),
    # Plus-minus stays one node, read as two values by reading.py.
    (r"1\pm2", ("pm", num(1), num(2))),
    (r"\pm3", ("pm", num(0), num(3))),
    (r"x\mp1", ("pm", X, num(1))),
]


@pytest.mark.parametrize("text,tree", EXPRESSIONS)
def test_parse_expression(text, tree):
    assert parse.parse_expression(parse.tokenize(text)) == tree


REFUSED = [
    ("#", "unexpected character"),
    (r"\foo", "unsupported command"),
    ("2^3^4", "trailing input"),
    ("(1", r"expected '\)'"),
    ("x*", "unexpected end"),
    ("f'", "primes are not supported"),
    (r"1\pm2\pm3", "more than one plus-minus"),
    ("4.5_2", "fractional numeral in a base"),
    # Digits left over after a one-digit argument: TeX renders `\sqrt23`
    # as sqrt(2) then 3, its writer likely meant sqrt(23); neither is
    # guessed, and no digit is dropped.
    (r"\sqrt23", "left over"),
    (r"\sqrt[3]27", "left over"),
    (r"\frac123", "left over"),
    (r"\frac{1}23", "left over"),
    (r"\binom523", "left over"),
    ("x^23", "left over"),
    ("2^10", "left over"),
    ("x^-12", "left over"),
    ("x_12", "left over"),
    ("52_83", "left over"),
    (r"(\sqrt23)", "left over"),
    (r"\sum_{k=1}^10k", "left over after a sum's bound"),
    (r"\sqrt2.5", "decimal point"),
    (r"\frac1.5", "decimal point"),
    ("x^2.5", "decimal point"),
    ("12_x", "bad base subscript"),
    (r"\sum_{1=1}^{2}1", "index variable"),
    ("1+" * 200 + "1", "answer too long"),
    ("(" * 20 + "1" + ")" * 20, "nested too deeply"),
    ("", "unexpected end"),
]


@pytest.mark.parametrize("text,message", REFUSED)
def test_refusals(text, message):
    with pytest.raises(parse.ParseError, match=message):
        parse.parse_expression(parse.tokenize(text))


def test_size_bounds_are_inclusive():
    tokens = parse.tokenize("1+" * 199 + "1")
    assert len(tokens) == 399 < parse.MAX_TOKENS
    assert parse.parse_expression(tokens)[0] == "add"
    assert parse.parse_expression(parse.tokenize("((((1))))")) == num(1)


def test_tokenize():
    assert parse.tokenize(r"x_{12} \leq 3.5, \{1\}") == [
        ("letter", "x"),
        ("op", "_"),
        ("op", "{"),
        ("num", "12"),
        ("op", "}"),
        ("cmd", r"\leq"),
        ("num", "3.5"),
        ("op", ","),
        ("cmd", r"\{"),
        ("num", "1"),
        ("cmd", r"\}"),
    ]
    assert parse.tokenize("  ") == []
    assert parse.tokenize(r"a\\b") == [
        ("letter", "a"),
        ("cmd", "\\\\"),
        ("letter", "b"),
    ]


def test_split_top_and_top_positions_skip_brackets():
    tokens = parse.tokenize(r"(1,2),\{3,4\},[5,6)")
    parts = parse.split_top(tokens, (",",))
    assert [len(part) for part in parts] == [5, 5, 5]
    assert parse.split_top([], (",",)) == [[]]
    positions = parse.top_positions(tokens, lambda value: value == ",")
    assert positions == [5, 11]


@pytest.mark.parametrize(
    "text,expected",
    [("(1,2)", True), ("(1)(2)", False), ("((1)", False), ("[1,2)", True)],
)
def test_encloses(text, expected):
    values = [value for _, value in parse.tokenize(text)]
    assert parse.encloses(values) is expected


def test_contains():
    tree = parse.parse_expression(parse.tokenize(r"\sin(2x)+1"))
    assert parse.contains(tree, "sym")
    assert parse.contains(tree, "fn")
    assert not parse.contains(tree, "pow")
    assert not parse.contains(num(1), "sym")


MATRICES = [
    (
        r"\begin{pmatrix}1&2\\3&x\end{pmatrix}",
        ("matrix", ((num(1), num(2)), (num(3), X))),
    ),
    (
        r"[\begin{array}{cc}1&-1\end{array}]",
        ("matrix", ((num(1), ("neg", num(1))),)),
    ),
    (r"\begin{bmatrix}1\\2\\\end{bmatrix}", ("matrix", ((num(1),), (num(2),)))),
    ("(1,2)", None),
    (r"\begin{pmatrix}1\end{bmatrix}", None),
]


@pytest.mark.parametrize("text,expected", MATRICES)
def test_parse_matrix(text, expected):
    assert parse.parse_matrix(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        r"\begin{pmatrix}1&2\\3\end{pmatrix}",
        r"\begin{pmatrix}1\pm2\end{pmatrix}",
        r"\begin{pmatrix}\end{pmatrix}",
        r"\begin{pmatrix}1&\end{pmatrix}",
    ],
)
def test_parse_matrix_refusals(text):
    with pytest.raises(parse.ParseError):
        parse.parse_matrix(text)
