import fractions

import pytest

from keras_mathft.data import arithmetic
from keras_mathft.data.arithmetic import ArithmeticSyntaxError
from keras_mathft.data.arithmetic import evaluate
from keras_mathft.data.arithmetic import numbers

pytestmark = pytest.mark.backend_independent

F = fractions.Fraction


@pytest.mark.parametrize(
    "text, names, value",
    [
        ("2 + 3 \\times 4", None, F(14)),
        ("(3 + 4) \\times 2 - -1", None, F(15)),
        ("\\frac{90 - 14}{63}", None, F(76, 63)),
        ("\\dfrac{6}{4}", None, F(3, 2)),
        ("-4.625", None, F(-37, 8)),
        (".5 + 1/4", None, F(3, 4)),
        ("\\gcd(84, 36)", None, F(12)),
        ("\\gcd(0, 7)", None, F(7)),
        ("7x - 4x", {"x": F(19, 3)}, F(19)),
        ("-x", {"x": 2}, F(-2)),
        ("2(3 + 4)", None, F(14)),
        ("3 \\cdot 5", None, F(15)),
        ("P", {"P": F(5, 12)}, F(5, 12)),
        ("10 - 2 - 3", None, F(5)),  # left to right
        ("12 / 2 / 3", None, F(2)),
    ],
)
def test_evaluate_reads_the_task_notation(text, names, value):
    assert evaluate(text, names) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2 +",
        "(2 + 3",
        "2 + 3)",
        "\\frac{1}{0}",
        "1 / (2 - 2)",
        "y + 1",  # unbound name
        "2^3",
        "\\sqrt{4}",
        "\\gcd(1.5, 3)",
        "__import__('os').system('true')",
        "1e5",
        "2 = 2",
        "(" * 40 + "1" + ")" * 40,
        "-" * 40 + "1",
        "9" * 70,
    ],
)
def test_evaluate_refuses_what_is_not_the_notation(text):
    with pytest.raises(ArithmeticSyntaxError, match="Received"):
        evaluate(text)


def test_evaluate_never_runs_python():
    # A name that Python would resolve is just an unbound letter here.
    with pytest.raises(ArithmeticSyntaxError):
        evaluate("x", {"y": 1})
    with pytest.raises(ArithmeticSyntaxError):
        evaluate(42)


def test_numbers_count_a_fraction_of_numbers_as_one():
    assert numbers("\\frac{52}{12} + 3 - 0.5") == [F(13, 3), F(3), F(1, 2)]
    # A fraction of expressions writes its numbers one by one.
    assert numbers("\\frac{44 + 8}{12}") == [F(44), F(8), F(12)]
    assert numbers("7x - 4x") == [F(7), F(4)]
    assert numbers("-3") == [F(3)]


def test_max_depth_is_a_module_setting():
    ok = (
        "(" * (arithmetic.MAX_DEPTH - 2)
        + "1"
        + ")" * (arithmetic.MAX_DEPTH - 2)
    )
    assert evaluate(ok) == 1
