"""The grader's reading rules (`keras_mathft/grading/reading.py`).

One table per rule of the module docstring: an input and what it reads
as. Expected structures are written with the expression strings of their
parts, which the grammar alone (`parse.parse_expression`) turns into
trees, so a row states its reading in the answers' own notation.
"""

from fractions import Fraction

import pytest

from keras_mathft.grading import parse
from keras_mathft.grading import reading

pytestmark = pytest.mark.backend_independent

REFUSED = "refused"


def tree(text):
    return parse.parse_expression(parse.tokenize(text))


def node(item):
    """An expression tree, given as a tree or as its expression string."""
    return tree(item) if isinstance(item, str) else item


def expr(text):
    return ("expr", tree(text))


def seq(brackets, *items):
    """`seq("(]", "a", "b")` is the interval or tuple `(a, b]`."""
    return ("seq", brackets[0], brackets[1], tuple(map(node, items)))


def listed(*parts):
    return ("list", parts)


def union(*parts):
    return ("union", parts)


def rel(op, lhs, rhs):
    return ("rel", op, tree(lhs), tree(rhs))


def below(bound, closed=False):
    return seq("(]" if closed else "()", r"-\infty", bound)


def above(bound, closed=False):
    return seq("[)" if closed else "()", bound, r"\infty")


def but(point):
    return union(below(point), above(point))


# Rules 1 to 3, on the string: {function: [(input, output), ...]}.
STRING_RULES = {
    # 1. Worded and `;` separators; braces around the whole answer.
    reading.comma_separated: [
        ("6 and 8", "6,8"),
        ("6, and 8", "6,8"),
        ("(11,7) or (7,11)", "(11,7),(7,11)"),
        ("[1,2] OR 3!or 4", "[1,2],3!,4"),
        ("-12;-11", "-12,-11"),
        ("{1,3}", "1,3"),
        ("{1}+{2}", "{1}+{2}"),
        (r"\{1,2\}", r"\{1,2\}"),
        ("x and y", "x and y"),
        ("5 or", "5 or"),
        ("5 andy", "5 andy"),
    ],
    # 2. A one-letter or one-command label before the only `=`.
    reading.without_label: [
        ("x=5", "5"),
        ("a_{1} = 3", "3"),
        (r"\theta=\frac{\pi}{3}", r"\frac{\pi}{3}"),
        ("x=y=5", "x=y=5"),
        ("x=5<6", "x=5<6"),
        ("x==5", "x==5"),
        ("xy=5", "xy=5"),
        ("f(x)=2x", "f(x)=2x"),
    ],
    # 3. A leading `x \in`.
    reading.without_membership: [
        (r"x\in[-2,7)", "[-2,7)"),
        (r"x \in (0,1)", "(0,1)"),
        (r"x\infty", r"x\infty"),
        (r"xy\in[0,1]", r"xy\in[0,1]"),
    ],
}


@pytest.mark.parametrize(
    "rule,text,expected",
    [(rule, *row) for rule, rows in STRING_RULES.items() for row in rows],
)
def test_string_rules(rule, text, expected):
    assert rule(text) == expected


# Rules 4 to 11, on a normalized answer: (input, structure or REFUSED).
TOP_LEVEL = [
    # 4. Matrices, words, scientific notation among variables.
    (
        r"\begin{pmatrix}1\\2\end{pmatrix}",
        ("matrix", ((tree("1"),), (tree("2"),))),
    ),
    ("Evelyn", ("text", "evelyn")),
    ("navin and  luka", ("text", "navin and luka")),
    ("exp", expr("exp")),  # a function name is no word
    ("xy", expr("xy")),  # nor are two letters
    ("1e3x", REFUSED),
    ("", REFUSED),
    # 5. Unions.
    (r"(1,2)\cup[3,4]", union(seq("()", "1", "2"), seq("[]", "3", "4"))),
    (r"x<1\cup x>2", union(below("1"), above("2"))),
    # 6. Lists, and bounds on one quantity as the union of their intervals.
    ("1,2", listed(expr("1"), expr("2"))),
    ("1,(2,3)", listed(expr("1"), seq("()", "2", "3"))),
    ("x<-1,x>1", union(below("-1"), above("1"))),
    (r"x\neq1,x\neq2", union(*but("1")[1], *but("2")[1])),
    ("x<-1,y>1", REFUSED),
    ("x>1,3", REFUSED),
    (r"1,\{2\}", REFUSED),
    ("1,", REFUSED),
]

LABELLED_LISTS = [
    # 7. Values of a labelled list; solution blocks.
    ("k=45,n=2", listed(expr("45"), expr("2"))),
    ("x=1,x=2", listed(expr("1"), expr("2"))),
    ("a=4,-8,-10", listed(expr("4"), expr("-8"), expr("-10"))),
    (r"x=1\pm2,y=3", listed(expr("1+2"), expr("1-2"), expr("3"))),
    ("4,a=-8", REFUSED),
    ("a=1,2,b=3", REFUSED),
    ("p=5,q=2,p=7,q=2", listed(seq("()", "5", "2"), seq("()", "7", "2"))),
    ("q=2,p=5,q=2,p=7", listed(seq("()", "2", "5"), seq("()", "2", "7"))),
    (
        "p=1,q=2,r=3,p=4,r=5,q=6",
        listed(seq("()", "1", "2", "3"), seq("()", "4", "6", "5")),
    ),
    ("p=5,q=2,q=7,p=2", REFUSED),
    ("p=5,q=2,p=7", REFUSED),
    ("p=1,p=2,q=3", REFUSED),
    (r"p=1\pm2,q=3,p=4,q=5", REFUSED),
]

ITEMS = [
    # 8. Approximations.
    (r"x=\frac{1}{3}\approx0.33", expr(r"\frac{1}{3}")),
    (r"x\approx11", expr("11")),
    (r"3.14\approx\pi", expr("3.14")),
    (r"\pi\approx3.14", expr(r"\pi")),
    # 9. Labels, chains, equations of constants, equations.
    ("x=5", expr("5")),
    ("y=3x+13", expr("3x+13")),
    ("f(x)=2x+3", expr("2x+3")),
    ("(p,q)=(3,2)", seq("()", "3", "2")),
    ("|AB|=1", expr("1")),
    (r"\frac{NO}{BO}=2", expr("2")),
    ("a_{3}=7", expr("7")),
    (r"\overline{AB}=4", expr("4")),
    ("x=5+5+1=11", expr("11")),
    ("5+5+1=11", expr("11")),
    ("x+1=y=3", expr("3")),
    ("x+1=3", ("eq", tree("x+1"), tree("3"))),
    ("7=11a+c", ("eq", tree("7"), tree("11a+c"))),
    (r"\sin x=1", ("eq", tree(r"\sin x"), tree("1"))),
    ("2x=4", ("eq", tree("2x"), tree("4"))),
    ("x=", REFUSED),
]

RELATIONS = [
    # 10. Bounds on a lone quantity are intervals; chains; relations.
    ("x>2", above("2")),
    (r"x\geq2", above("2", closed=True)),
    (r"x\leq5", below("5", closed=True)),
    ("2<x", above("2")),
    (r"5\geq x", below("5", closed=True)),
    (r"x\neq3", but("3")),
    (r"3\neq x", but("3")),
    ("a_1>0", above("0")),
    ("AB>1", above("1")),  # letters in a row name one quantity
    (r"\theta<\pi", below(r"\pi")),
    (r"-2\leq x<7", seq("[)", "-2", "7")),
    (r"7>x\geq-2", seq("[)", "-2", "7")),
    ("0<f(x)<1", seq("()", "0", "1")),
    ("x>a", rel("<", "a", "x")),
    (r"x\geq y", rel("<=", "y", "x")),
    ("|x|<3", rel("<", "|x|", "3")),
    ("x^2>4", rel("<", "4", "x^2")),
    ("2x>4", rel("<", "4", "2x")),
    (r"x+1\neq0", ("rel", "!=", tree("x+1"), tree("0"))),
    ("(1,2)<3", REFUSED),
    ("0<2x<4", REFUSED),
    ("a<b<c", REFUSED),
    ("1<x>2", REFUSED),
    ("1<x=2", REFUSED),
    ("1<x<2<3", REFUSED),
]

VALUES = [
    # 11. Ratios, tuples and intervals as written, sets, plus-minus.
    ("3:4", seq("::", "3", "4")),
    ("20:34:00", seq("::", "20", "34", "00")),
    ("(1,2]", seq("(]", "1", "2")),
    ("[1,2]", seq("[]", "1", "2")),
    ("(1,2)", seq("()", "1", "2")),
    ("(1)", expr("1")),
    ("(1,2)(3,4)", REFUSED),
    (r"\{1,2\}", ("set", (tree("1"), tree("2")))),
    (r"\{\}", ("set", ())),
    (r"\{1\pm2\}", ("set", (tree("1+2"), tree("1-2")))),
    (r"1\pm2", listed(expr("1+2"), expr("1-2"))),
    (r"\pm3", listed(expr("0+3"), expr("0-3"))),
    (r"2(1\pm3)", listed(expr("2(1+3)"), expr("2(1-3)"))),
    (r"(1\pm2,3)", REFUSED),
    (r"(1\pm2)(3\pm4)", REFUSED),
    (r"1\pm2:3", REFUSED),
]


def _read(text):
    try:
        return reading.read_answer(text)
    except parse.ParseError:
        return REFUSED


@pytest.mark.parametrize(
    "text,expected", TOP_LEVEL + LABELLED_LISTS + ITEMS + RELATIONS + VALUES
)
def test_read_answer(text, expected):
    assert _read(text) == expected


# Rule 12: relations linear in one variable, solved.
# Bounds are built from exact polynomials: number, square roots, powers of π.
HALF_PI = ("mul", (("num", Fraction(1, 2)), ("pow", tree(r"\pi"), tree("1"))))
SQRT_TWO = ("mul", (tree("1"), ("root", tree("2"), tree("2"))))
SOLVED = [
    ("2x>4", above("2")),
    ("x-2>0", above("2")),
    (r"3-x\geq1", below("2", closed=True)),
    (r"2x\leq-1", below(("num", Fraction(-1, 2)), closed=True)),
    (r"x-2\neq0", but("2")),
    (r"2x<\pi", below(HALF_PI)),
    (r"2x>\sqrt{8}", above(SQRT_TWO)),
    ("x>a", None),
    ("x+y>1", None),
    ("x^2>4", None),
    (r"\frac{1}{x}>1", None),
    ("2ix>1", None),
    (r"2\sin x>1", None),
    ("2x-2x>1", None),
    ("2x>y", None),
]


@pytest.mark.parametrize("text,expected", SOLVED)
def test_solved_interval(text, expected):
    relation = reading.read_answer(text)
    assert relation[0] == "rel"
    assert reading.solved_interval(relation) == expected
