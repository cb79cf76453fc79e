"""Model output is untrusted: hostile strings are text, calls are bounded."""

import os
import pathlib
import time

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_mathft.grading import EXTRACTION_RULES
from keras_mathft.grading import answers_equivalent
from keras_mathft.grading import cluster_answers
from keras_mathft.grading import extract_answer
from keras_mathft.grading import extract_answer_record
from keras_mathft.grading import normalize_answer

pytestmark = pytest.mark.backend_independent

PWNED = pathlib.Path("/tmp/keras_mathft_pwned")
HOSTILE = [
    f"__import__('os').system('touch {PWNED}')",
    f"\\boxed{{__import__('os').system('touch {PWNED}')}}",
    f"exec(\"open('{PWNED}', 'w')\")",
    f"eval(compile('open(\"{PWNED}\",\"w\")','','exec'))",
    "lambda: __import__('os')",
    "().__class__.__bases__[0].__subclasses__()",
    "Symbol('x').__class__",
    "2^{2^{2^{2^{20}}}}",
    "10^{10^{10^{10}}}",
    "(10^{100})!",
    "99999999999!",
    r"\binom{10^{9}}{5000}",
    "9" * 10_000,
    "(" * 5000 + ")" * 5000,
    "{" * 3000,
    r"\frac" * 2000,
    r"\sqrt" * 2000 + "2",
    "x^" * 3000 + "2",
    r"\boxed{" * 1000,
    "\x00\x01\ud800",
    r"\begin{pmatrix}" + "1&" * 3000 + r"\end{pmatrix}",
    "1<x<" * 2000 + "2",
    r"\sum_{k=1}^{" * 1000,
    r"\sum_{k=1}^{n}" * 300 + "k",
    "p=1,q=2;" * 500,
    r"\boxed{1} papers and " * 2000,
    r"x \neq " * 2000 + "3",
]
# Token soup: random LaTeX-ish strings that reach the parser.
TOKENS = [
    "1",
    "2",
    "0",
    ".5",
    "x",
    "y",
    "i",
    "e",
    "+",
    "-",
    "*",
    "/",
    "^",
    "_",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "<",
    "!",
    "|",
    "&",
    r"\\",
    r"\frac",
    r"\sqrt",
    r"\pi",
    r"\infty",
    r"\pm",
    r"\cdot",
    r"\sin",
    r"\log",
    r"\text{",
    r"\left(",
    r"\right)",
    r"\{",
    r"\}",
    r"\cup",
    r"\begin{pmatrix}",
    r"\end{pmatrix}",
    r"\circ",
    r"\%",
    " ",
    "999",
    "__import__",
    "'os'",
    ".system",
    r"\binom",
    "!",
    # Issue 14's paths: phrases, math spans, labels, chains, worded lists.
    "Answer:",
    "The answer is ",
    "Final Answer: ",
    "#### ",
    r"\boxed{",
    "$",
    "$$",
    r"\(",
    r"\)",
    r"\[",
    r"\]",
    ". ",
    "\n",
    " and ",
    " or ",
    ";",
    ":",
    r"\approx",
    "(p,q)=",
    "f(x)=",
    "k=",
    "{,}",
    "<|im_start|>",
    "I hope it is correct.",
    # Follow-up paths: relations read as intervals, solution blocks,
    # worded box gaps, sums.
    ">",
    r"\le",
    r"\ge",
    r"\neq",
    r"\in",
    "x<",
    "<x<",
    "p=",
    "q=",
    r"\sum_{k=1}^{n}",
    r"\prod_{k=0}^{",
    r"\sum_",
    " papers and ",
    r"\text{ for part (a) and }",
    ", which is ",
    r"\boxed{1} and \boxed{",
]
ANSWERS = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=60),
    st.lists(st.sampled_from(TOKENS), max_size=25).map("".join),
    st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join),
)
# A call makes at most a handful of sympy tasks, each bounded by TIMEOUT;
# the wall-clock check allows for a worker restart on top.
TIMEOUT = 1.0
BOUND = 20.0


def _no_file_created(before):
    assert not PWNED.exists()
    assert set(os.listdir()) == before


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(a=ANSWERS, b=ANSWERS)
def test_fuzz_never_raises_and_is_bounded(a, b, tmp_path_factory):
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("fuzz"))
    try:
        before = set(os.listdir())
        start = time.monotonic()
        assert isinstance(normalize_answer(a), str)
        extracted = extract_answer(a)
        assert extracted is None or isinstance(extracted, str)
        record = extract_answer_record(a)
        assert record.answer == extracted
        assert (record.rule is None) == (extracted is None)
        assert record.rule is None or record.rule in EXTRACTION_RULES
        result = answers_equivalent(a, b, timeout=TIMEOUT)
        assert result is answers_equivalent(b, a, timeout=TIMEOUT)
        assert isinstance(result, bool)
        assert len(cluster_answers([a, b, a], timeout=TIMEOUT)) >= 1
        assert time.monotonic() - start < BOUND
        _no_file_created(before)
    finally:
        os.chdir(cwd)


def test_hostile_strings_are_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for k, text in enumerate(HOSTILE):
        start = time.monotonic()
        assert answers_equivalent(text, "0", timeout=TIMEOUT) is False
        for other in HOSTILE[k + 1 :]:
            # A boxed copy is graded by its box, the same text.
            same = other == "\\boxed{" + text + "}"
            assert answers_equivalent(text, other, timeout=TIMEOUT) is same
        assert time.monotonic() - start < BOUND
    assert not PWNED.exists()
    assert os.listdir() == []


def test_grading_never_imports_keras():
    import subprocess
    import sys

    code = (
        "import sys, keras_mathft.grading as g;"
        "g.cluster_answers(['1', '1.0', r'\\sin^2 x+\\cos^2 x', '1']);"
        "bad = {'keras', 'jax', 'tensorflow'} & set(sys.modules);"
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
