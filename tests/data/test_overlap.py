"""Issue 28 item 6: test problems repeated in the training set are found."""

import pytest

from keras_mathft.data import MathProblem
from keras_mathft.data import find_overlap

pytestmark = pytest.mark.backend_independent

TRAIN = [
    MathProblem("What is $1 + 1$?", "", "2", unique_id="train/a"),
    MathProblem("Find $x$ if $2x = 6$.", "", "3", unique_id="train/b"),
    MathProblem("What is $1 + 1$?", "", "2", unique_id="train/c"),
]


def _test(*texts):
    return [
        MathProblem(text, "", "0", unique_id=f"test/{k}")
        for k, text in enumerate(texts)
    ]


def test_verbatim_and_respaced_copies_are_found():
    test = _test(
        "What is $2 + 2$?",
        "What is $1 + 1$?",  # verbatim
        "Find $x$ if\n  $2x=6$. ",  # re-wrapped, spacing dropped
        "WHAT IS $1+1$?",  # case changed
        "What is $1 + 1$?\t",
    )
    assert find_overlap(TRAIN, test) == [
        ("test/1", "train/a"),
        ("test/2", "train/b"),
        ("test/3", "train/a"),
        ("test/4", "train/a"),
    ]


def test_any_other_edit_is_another_problem():
    test = _test(
        "What is $1 + 2$?",
        "What is $1 + 1$",  # punctuation
        "Find $y$ if $2y = 6$.",
        "",
    )
    assert find_overlap(TRAIN, test) == []
    assert find_overlap([], _test("What is $1 + 1$?")) == []
    assert find_overlap(TRAIN, []) == []


def test_iterables_are_read_once():
    test = iter(_test("what is $1+1$?"))
    assert find_overlap(iter(TRAIN), test) == [("test/0", "train/a")]


@pytest.mark.real_data
def test_the_paper_split_shares_no_problem(shared_data):
    from keras_mathft.data import load_paper_split

    train, test = load_paper_split(shared_data)
    assert find_overlap(train, test) == []
    # MATH500 problems are MATH test problems: all are found against them.
    assert len(find_overlap(test, test)) == len(test) == 500
