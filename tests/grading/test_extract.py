import pytest

from keras_mathft.grading import extract_answer

CASES = [
    # The last box wins; nesting is respected.
    (r"so $\boxed{1}$ and finally $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (
        r"$\boxed{\left( 3, \frac{\pi}{2} \right)}$",
        r"\left( 3, \frac{\pi}{2} \right)",
    ),
    (r"\boxed{\{1,2\}}", r"\{1,2\}"),
    (r"\boxed{\text{(C)}}", r"\text{(C)}"),
    (r"\fbox{7}", "7"),
    (r"The answer is $\boxed 5$.", "5"),
    (r"\boxed {12}", "12"),
    (r"so \boxed5.", "5"),
    (r"so \boxed 7, done", "7"),
    (r"\[\boxed{42}\]", "42"),
    (
        r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}",
        r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
    ),
    # Phrase fallbacks.
    (
        "Final Answer: The final answer is $\\frac{3}{4}$. I hope it is "
        "correct.",
        r"\frac{3}{4}",
    ),
    ("So the answer is 17.", "17"),
    ("The answer is: $x=3$", "x=3"),
    ("Natalia sold 48 clips.\n#### 72", "72"),
    # A box beats the phrases even when a phrase comes later.
    (r"\boxed{3}. The answer is 4", "3"),
    # Unbalanced last box: fall back to an earlier complete one.
    (r"\boxed{2} then \boxed{3", "2"),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I give up.",
        r"\boxed{",
        r"\boxed",
        "####",
        None,
        12,
        "The answer is",
    ],
)
def test_no_answer_returns_none(text):
    assert extract_answer(text) is None


def test_long_text_is_cut_to_its_tail():
    text = "x" * 100_000 + r"\boxed{9}"
    assert extract_answer(text) == "9"


def test_reads_every_math500_solution(shared_data):
    import json

    path = shared_data / "prm800k" / "math_splits" / "test.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 500
    for record in records:
        assert extract_answer(record["solution"]) == record["answer"]


@pytest.mark.parametrize(
    "text",
    [
        "final answer is x" + " " * 19_900,
        "\\boxed{" * 2857,
        "The answer is " + "(" * 19_000,
        "$" * 19_999,
        "Answer: " + "\\[" * 9_000,
    ],
)
def test_extraction_is_linear_time(text):
    # Issue 10: these took 2 to 5 s (quadratic scans); a linear scan of
    # 20,000 characters takes milliseconds, so 1 s is a generous bound.
    import time

    start = time.monotonic()
    extract_answer(text)
    assert time.monotonic() - start < 1.0
