"""Solution steps and their exact labels on the embedded task.

A step is one non-empty line of a solution (`split_steps`). Process
supervision labels the steps of a sampled solution the way PRM800K and
"Let's Verify Step by Step" do: every step up to the first wrong one is
labelled, the first wrong step is labelled wrong, and the steps after it
are not labelled (what follows a mistake says nothing about checking).

On the embedded task (`keras_mathft.data.synthetic`) the labels are
exact (`exact_step_labels`), because the problem's reference solution
holds every quantity the problem needs. What "right" means for a line:

1. **An answer line** (one holding `\\boxed`) is right when its boxed
   answer is equivalent to the reference answer
   (`grading.answers_equivalent`).
2. **Any other line** is an equation `a = b [= c ...]` whose sides are
   expressions of the task's notation (`keras_mathft.data.arithmetic`;
   the names `x` and `P` stand for the problem's answer). It is right
   when all three hold:

   - *readable*: at least two sides, each of the notation (a cut or
     worded line is not);
   - *true*: every side has the same exact value (with `x` and `P` set to
     the answer's value, so `5x = 19` is true exactly when x = 19/5 is);
   - *needed*: that value is a quantity of the reference solution (the
     value of a side of one of its lines, the answer's value, or the gcd
     that reduces a fraction it writes), and every number the line
     writes is a number of the problem statement, of the reference
     solution, or such a quantity (a `\\frac{a}{b}` of two numbers counts
     as one number, its value). `44 - 8 = 36` is true arithmetic on the
     wrong quantity when the problem adds 8; `40 + 12 = 52` reaches a
     needed 52 from a number the problem never gives.

3. **A solution without an answer line** has not answered: when none of
   its lines is wrong, its last line is labelled wrong.

The reference's own route defines "needed": a right line that reaches a
quantity the reference never computes (a common denominator other than
the product of the denominators, say) is labelled wrong, and a wrong
computation that happens to land on a needed value is labelled right.
Both are rare for a generator trained on the reference's style.
"""

import dataclasses
import fractions
import math
import re

from keras_mathft import grading
from keras_mathft.data.arithmetic import ArithmeticSyntaxError
from keras_mathft.data.arithmetic import evaluate
from keras_mathft.data.arithmetic import numbers

RIGHT = 1
WRONG = 0
# Names a line may use for the problem's unknown or the asked quantity.
ANSWER_NAMES = ("x", "P")

_FRACTION = re.compile(r"\\[dt]?frac\{(\d+)\}\{(\d+)\}")


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a solution: a non-empty line.

    Args:
        text: str, the line without its newline.
        start: int, offset of the line's first character in the solution.
        end: int, offset just past the step: past its newline, or the
            solution's length for a last line without one. The solution's
            prefix up to and including step `i` is `solution[:steps[i].end]`.
    """

    text: str
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class StepLabels:
    """The labels of one solution's steps.

    Args:
        steps: tuple of `Step`.
        labels: tuple, one per step: `RIGHT` (1), `WRONG` (0), or `None`
            for the steps after the first wrong one.
        reasons: tuple of str, why each step is right or wrong, checked
            also after the first wrong step (`"true"`, `"right answer"`,
            `"wrong answer"`, `"false"`, `"unneeded"`, `"unreadable"`,
            `"no answer"`).
    """

    steps: tuple
    labels: tuple
    reasons: tuple

    @property
    def first_wrong(self):
        """Index of the first wrong step, or None."""
        return next((i for i, v in enumerate(self.labels) if v == WRONG), None)

    @property
    def all_right(self):
        """Whether every step is labelled right (there is at least one)."""
        return bool(self.labels) and all(v == RIGHT for v in self.labels)


def split_steps(solution):
    """Splits a solution into steps: its non-empty lines, with offsets.

    Args:
        solution: str.

    Returns:
        A list of `Step`; empty for a blank solution.

    Example:

    >>> [(s.text, s.end) for s in split_steps("1 + 1 = 2\\n\\n\\\\boxed{2}")]
    [('1 + 1 = 2', 10), ('\\\\boxed{2}', 20)]
    """
    if not isinstance(solution, str):
        raise ValueError(
            f"`solution` must be a str. Received: {type(solution).__name__}"
        )
    steps, start = [], 0
    for line in solution.splitlines(keepends=True):
        end = start + len(line)
        text = line.rstrip("\r\n")
        if text.strip():
            steps.append(Step(text, start, end))
        start = end
    return steps


def label_steps(verdicts):
    """Labels from per-step verdicts: right up to the first wrong step.

    Args:
        verdicts: sequence of bool, whether each step is right.

    Returns:
        A tuple: `RIGHT` for the steps before the first wrong one,
        `WRONG` for it, `None` after it.

    Example:

    >>> label_steps([True, False, True])
    (1, 0, None)
    """
    labels, wrong = [], False
    for ok in verdicts:
        if wrong:
            labels.append(None)
        elif ok:
            labels.append(RIGHT)
        else:
            labels.append(WRONG)
            wrong = True
    return tuple(labels)


class ReferenceQuantities:
    """What a problem's reference solution computes and writes.

    Args:
        problem: a `MathProblem` of the embedded task (or any record with
            `problem`, `solution` and `answer` in its notation).

    Attributes:
        answer_value: `Fraction`, or None when the answer is not a number
            of the notation.
        quantities: set of `Fraction`, the needed values.
        written: set of `Fraction`, the numbers a line may write (absolute
            values).
    """

    def __init__(self, problem):
        self.answer = problem.answer
        self.answer_value = _answer_value(problem.answer)
        names = self.names()
        quantities, written = set(), set()
        texts = [problem.answer]
        for step in split_steps(problem.solution):
            if "\\boxed" in step.text:
                continue
            texts.append(step.text)
            for side in step.text.split("="):
                try:
                    quantities.add(abs(evaluate(side, names)))
                except ArithmeticSyntaxError:
                    pass
        if self.answer_value is not None:
            quantities.add(abs(self.answer_value))
        for text in texts:
            for num, den in _FRACTION.findall(text):
                quantities.add(fractions.Fraction(math.gcd(int(num), int(den))))
            written.update(_safe_numbers(text))
        written.update(_statement_numbers(problem.problem))
        self.quantities = quantities
        self.written = written | quantities

    def names(self):
        """The values of `ANSWER_NAMES` (empty without a numeric answer)."""
        if self.answer_value is None:
            return {}
        return {name: self.answer_value for name in ANSWER_NAMES}

    def check(self, line):
        """`(right, reason)` for one line; see the module docstring."""
        if "\\boxed" in line:
            answer = grading.extract_answer(line)
            if answer is not None and grading.answers_equivalent(
                answer, self.answer
            ):
                return True, "right answer"
            return False, "wrong answer"
        sides = line.split("=")
        if len(sides) < 2:
            return False, "unreadable"
        names = self.names()
        try:
            values = [evaluate(side, names) for side in sides]
            written = [n for side in sides for n in numbers(side)]
        except ArithmeticSyntaxError:
            return False, "unreadable"
        if len(set(values)) != 1:
            return False, "false"
        if abs(values[0]) not in self.quantities or any(
            n not in self.written for n in written
        ):
            return False, "unneeded"
        return True, "true"


def exact_step_labels(problem, solution, reference=None):
    """Exact step labels of a sampled solution to an embedded-task problem.

    Each step is checked against the problem's reference solution (the
    module docstring says what "right" means); the first wrong step and
    every step before it are labelled.

    Args:
        problem: a `MathProblem` of the embedded task.
        solution: str, a sampled solution (without the prompt).
        reference: optional `ReferenceQuantities` of `problem`, to reuse
            over many solutions of one problem.

    Returns:
        A `StepLabels`.

    Example:

    >>> from keras_mathft.data import MathProblem
    >>> p = MathProblem(
    ...     "Ann has 3 bags of 4 pens and gives away 5. How many are left?",
    ...     "3 \\\\times 4 = 12\\n12 - 5 = 7\\n\\\\boxed{7}", "7")
    >>> sample = "3 \\\\times 4 = 12\\n12 - 5 = 8\\n\\\\boxed{8}"
    >>> exact_step_labels(p, sample).labels
    (1, 0, None)
    """
    reference = reference or ReferenceQuantities(problem)
    steps = split_steps(solution)
    checks = [reference.check(step.text) for step in steps]
    verdicts = [ok for ok, _ in checks]
    reasons = [why for _, why in checks]
    answered = any("\\boxed" in step.text for step in steps)
    if steps and all(verdicts) and not answered:
        verdicts[-1], reasons[-1] = False, "no answer"
    return StepLabels(tuple(steps), label_steps(verdicts), tuple(reasons))


def _answer_value(answer):
    text = re.sub(r"^\s*[a-zA-Z]\s*=", "", answer or "")
    try:
        return evaluate(text)
    except ArithmeticSyntaxError:
        return None


def _safe_numbers(text):
    out = set()
    for side in text.split("="):
        try:
            out.update(abs(n) for n in numbers(side))
        except ArithmeticSyntaxError:
            # Words around the math: read its numbers alone.
            out.update(_statement_numbers(side))
    return out


def _statement_numbers(text):
    """Every numeral of a text, and the value of each `\\frac{a}{b}`."""
    out = {fractions.Fraction(n) for n in re.findall(r"\d+(?:\.\d+)?", text)}
    for num, den in _FRACTION.findall(text):
        if int(den):
            out.add(fractions.Fraction(int(num), int(den)))
    return out
