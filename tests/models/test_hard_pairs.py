import pytest

from keras_mathft.data import MathProblem
from keras_mathft.models.hard_pairs import answer_form
from keras_mathft.models.hard_pairs import hard_outcome_pairs
from keras_mathft.models.hard_pairs import plausible_wrong
from keras_mathft.models.process_data import ProcessExample
from keras_mathft.models.process_data import build_process_pairs

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(
    "answer, form",
    [
        ("7", "integer"),
        ("-12", "integer"),
        ("x=5", "integer"),
        ("\\frac{3}{2}", "fraction"),
        ("-\\dfrac{6}{4}", "fraction"),
        ("3/4", "fraction"),
        ("2.5", "decimal"),
        ("x = -0.25", "decimal"),
        ("\\sqrt{2}", "other"),
        (None, None),
    ],
)
def test_answer_form(answer, form):
    assert answer_form(answer) == form


def test_plausible_wrong_keeps_the_largest_wrong_clusters_of_the_form():
    answers = ["4", "3", "6/2", "9", "9", "2.5", None, "7", "1.5", "1.5"]
    correct = [True] + [False] * 9
    # 3 and 6/2 are one cluster of two; 9 another; 7 a single; 2.5 and 1.5
    # are decimals (the gold answer is an integer), None has no form.
    assert plausible_wrong(answers, correct, "4") == [1, 2, 3, 4]
    assert plausible_wrong(answers, correct, "4", min_cluster_size=1) == [
        1,
        2,
        3,
        4,
        7,
    ]
    # No cluster reaches the size: the largest of the form is kept.
    assert plausible_wrong(["4", "5", "6"], [True, False, False], "4") == [
        1,
        2,
    ]
    assert plausible_wrong(["4", "2.5"], [True, False], "4") == []


def test_hard_pairs_pair_right_samples_with_plausible_wrong_ones():
    problem = MathProblem("p", "", "4")
    texts = [f"s{i}" for i in range(6)]
    answers = ["4", "3", "3", "2.5", None, "4"]
    correct = [True, False, False, False, False, True]
    data = hard_outcome_pairs(
        [problem], [texts], [correct], [answers], max_pairs_per_problem=10
    )
    pairs = {(p.right, p.wrong) for p in data.pairs}
    assert pairs == {(r, w) for r in ("s0", "s5") for w in ("s1", "s2")}
    assert data.stats.pairs == 4 and len(data.examples) == 6
    capped = hard_outcome_pairs(
        [problem], [texts], [correct], [answers], max_pairs_per_problem=2
    )
    # Every plausible wrong sample once before any twice.
    assert sorted(p.wrong for p in capped.pairs) == ["s1", "s2"]


def test_hard_pairs_count_what_they_skip():
    problems = [MathProblem("a", "", "4"), MathProblem("b", "", "4")]
    data = hard_outcome_pairs(
        problems,
        [["x", "y"], ["x", "y"]],
        [[False, False], [True, False]],
        [["3", "5"], ["4", "0.5"]],
    )
    assert data.pairs == []
    assert data.stats.skipped_no_right == 1
    assert data.stats.skipped_no_wrong == 1
    with pytest.raises(ValueError, match="same length"):
        hard_outcome_pairs(problems, [], [])


def test_process_pairs_pair_good_and_bad_steps_of_one_problem():
    right = ProcessExample("p", "a = 1\nb = 2\nc", (1, 1, 1))
    half = ProcessExample("p", "a = 1\nb = 3\nc", (1, 0, None))
    bad = ProcessExample("p", "a = 2\nb", (0, None))
    other = ProcessExample("q", "a = 2\nb", (0, None))
    pairs = build_process_pairs([half, bad, right, other], seed=1)
    got = {
        (p.good.solution, p.good_step, p.bad.solution, p.bad_step)
        for p in pairs
    }
    assert got == {
        (right.solution, 2, half.solution, 1),
        (right.solution, 2, bad.solution, 0),
        (half.solution, 0, bad.solution, 0),
    }
    capped = build_process_pairs([half, bad, right], max_pairs_per_problem=1)
    # A solution right throughout is the first good one.
    assert capped[0].good is right
    with pytest.raises(ValueError, match="max_pairs_per_problem"):
        build_process_pairs([right], max_pairs_per_problem=0)


def test_process_example_checks_its_labels():
    with pytest.raises(ValueError, match="one of 1, 0 or None per step"):
        ProcessExample("p", "a\nb", (1,))
    with pytest.raises(ValueError, match="Received"):
        ProcessExample("p", "a", (2,))
