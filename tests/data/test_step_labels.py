"""Exact step labels against hand-labelled solutions of the embedded task."""

import re

import pytest

from keras_mathft import grading
from keras_mathft.data import MathProblem
from keras_mathft.data import exact_step_labels
from keras_mathft.data import label_steps
from keras_mathft.data import make_synthetic_problems
from keras_mathft.data import split_steps

pytestmark = pytest.mark.backend_independent

# make_synthetic_problems(1, seed=0)[0], pinned by test_synthetic's golden
# digest test.
SHARE = MathProblem(
    problem=(
        "Ann has 44 cards, buys 8 more and shares them equally among 12 "
        "friends. How many does each get?"
    ),
    solution=(
        "44 + 8 = 52\n\\gcd(52, 12) = 4\n\\frac{52}{12} = \\frac{13}{3}\n"
        "\\boxed{\\frac{13}{3}}"
    ),
    answer="\\frac{13}{3}",
)
LINEAR = MathProblem(
    problem="Solve for $x$: $7x + 5 = 4x + 24$.",
    solution=(
        "7x - 4x = 3x\n24 - 5 = 19\n3x = 19\nx = \\frac{19}{3}\n"
        "\\boxed{\\frac{19}{3}}"
    ),
    answer="\\frac{19}{3}",
)
DECIMAL = MathProblem(
    problem="Ben shares 6 pens equally among 4 friends. How many does each "
    "get?",
    solution="\\frac{6}{4} = 1.5\n\\boxed{1.5}",
    answer="1.5",
)

# (problem, sampled solution, hand labels, reasons)
HAND_LABELLED = [
    # The reference itself.
    (SHARE, SHARE.solution, (1, 1, 1, 1), None),
    # True arithmetic on the wrong quantity: the problem adds 8.
    (
        SHARE,
        "44 - 8 = 36\n\\frac{36}{12} = 3\n\\boxed{3}",
        (0, None, None),
        ("unneeded", "unneeded", "wrong answer"),
    ),
    # False arithmetic, then a right line: the steps after the first
    # wrong one are not labelled, whatever they say.
    (
        SHARE,
        "44 + 8 = 52\n\\gcd(52, 12) = 3\n\\frac{52}{12} = \\frac{13}{3}\n"
        "\\boxed{\\frac{13}{3}}",
        (1, 0, None, None),
        ("true", "false", "true", "right answer"),
    ),
    # A missing box: every line is right, the solution never answers.
    (
        SHARE,
        "44 + 8 = 52\n\\gcd(52, 12) = 4\n\\frac{52}{12} = \\frac{13}{3}",
        (1, 1, 0),
        ("true", "true", "no answer"),
    ),
    # A wrong final answer after right lines.
    (
        SHARE,
        "44 + 8 = 52\n\\boxed{\\frac{13}{4}}",
        (1, 0),
        ("true", "wrong answer"),
    ),
    # The right answer in another form.
    (SHARE, "44 + 8 = 52\n\\boxed{\\frac{52}{12}}", (1, 1), None),
    # The right answer reached through a wrong line.
    (
        SHARE,
        "44 + 8 = 53\n\\boxed{\\frac{13}{3}}",
        (0, None),
        ("false", "right answer"),
    ),
    # A needed value (52) from a number the problem never gives.
    (
        SHARE,
        "40 + 12 = 52\n\\boxed{\\frac{13}{3}}",
        (0, None),
        ("unneeded", "right answer"),
    ),
    # A cut line and a worded line are unreadable.
    (SHARE, "44 + 8 = 52\n\\gcd(52, 1", (1, 0), ("true", "unreadable")),
    (SHARE, "so each gets 4\n\\boxed{4}", (0, None), None),
    (SHARE, "52\n\\boxed{\\frac{13}{3}}", (0, None), None),
    # Blank lines are not steps; a blank solution has none.
    (SHARE, "44 + 8 = 52\n\n\\boxed{\\frac{13}{3}}\n", (1, 1), None),
    (SHARE, "", (), ()),
    # The unknown stands for the answer: `3x = 19` is true, `3x = 20` not.
    (LINEAR, LINEAR.solution, (1, 1, 1, 1, 1), None),
    (
        LINEAR,
        "7x - 4x = 3x\n24 - 5 = 19\n3x = 20\nx = \\frac{20}{3}\n"
        "\\boxed{\\frac{20}{3}}",
        (1, 1, 0, None, None),
        None,
    ),
    (LINEAR, "7x - 4x = 11x\n\\boxed{\\frac{19}{3}}", (0, None), None),
    # A labelled answer is its value.
    (LINEAR, "24 - 5 = 19\n3x = 19\n\\boxed{x=\\frac{19}{3}}", (1, 1, 1), None),
    # Reducing a fraction the reference writes, to a form it does not.
    (
        DECIMAL,
        "\\gcd(6, 4) = 2\n\\frac{6}{4} = \\frac{3}{2}\n\\boxed{\\frac{3}{2}}",
        (1, 1, 1),
        None,
    ),
    (DECIMAL, "\\frac{6}{4} = 1.4\n\\boxed{1.4}", (0, None), None),
]


@pytest.mark.parametrize("problem, solution, labels, reasons", HAND_LABELLED)
def test_hand_labelled_solutions(problem, solution, labels, reasons):
    result = exact_step_labels(problem, solution)
    assert result.labels == labels, result.reasons
    if reasons is not None:
        assert result.reasons == reasons
    assert len(result.steps) == len(labels)


def test_split_steps_offsets_rebuild_the_prefixes():
    text = "a = 1\r\n\n  \nb = 2\nc"
    steps = split_steps(text)
    assert [s.text for s in steps] == ["a = 1", "b = 2", "c"]
    assert [text[: s.end] for s in steps] == [
        "a = 1\r\n",
        "a = 1\r\n\n  \nb = 2\n",
        text,
    ]
    assert [text[s.start : s.start + len(s.text)] for s in steps] == [
        s.text for s in steps
    ]
    assert split_steps("") == [] and split_steps("\n\n") == []
    with pytest.raises(ValueError, match="Received"):
        split_steps(None)


def test_label_steps():
    assert label_steps([]) == ()
    assert label_steps([True, True]) == (1, 1)
    assert label_steps([False, True, False]) == (0, None, None)


@pytest.mark.parametrize("style", ["detailed", "coarse"])
def test_every_reference_line_is_right(style):
    # Against the detailed reference, both styles' solutions are right
    # throughout: the coarse lines combine the same needed quantities.
    detailed = make_synthetic_problems(600, seed=4)
    other = make_synthetic_problems(600, seed=4, style=style)
    for reference, solution in zip(detailed, other):
        result = exact_step_labels(reference, solution.solution)
        assert result.all_right, (solution.solution, result.reasons)


def test_a_changed_result_is_the_first_wrong_step():
    changed = 0
    for p in make_synthetic_problems(400, seed=5):
        lines = p.solution.split("\n")
        if len(lines) < 2:
            continue
        last = list(re.finditer(r"\d+", lines[0]))[-1]
        lines[0] = (
            lines[0][: last.start()]
            + str(int(last.group()) + 1)
            + lines[0][last.end() :]
        )
        result = exact_step_labels(p, "\n".join(lines))
        assert result.labels[0] == 0 and result.first_wrong == 0
        assert set(result.labels[1:]) <= {None}
        changed += 1
    assert changed > 300


def test_right_throughout_means_the_answer_is_right():
    # Labels are a run of 1s, then at most one 0, then Nones; all 1s only
    # when the solution ends with a right answer.
    problems = make_synthetic_problems(200, seed=6)
    for p, q in zip(problems, problems[1:]):
        for solution in (p.solution, q.solution, p.solution[:-3]):
            result = exact_step_labels(p, solution)
            labels = list(result.labels)
            ones = labels.index(0) if 0 in labels else len(labels)
            assert labels[:ones] == [1] * ones
            assert all(v is None for v in labels[ones + 1 :])
            if result.all_right:
                answer = grading.extract_answer(solution)
                assert grading.answers_equivalent(answer, p.answer)
