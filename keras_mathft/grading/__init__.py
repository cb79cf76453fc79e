"""Math answer grading: extraction, equivalence and clustering.

Pure Python: this package never imports keras, jax or tensorflow, and it
never evaluates model text (no `eval`, `exec`, `sympify`, `parse_expr`):
answers are parsed by a small recursive-descent parser into plain trees,
and sympy objects are built from those trees with constructors only.

Public API:
    extract_answer(solution_text) -> str | None
    normalize_answer(answer) -> str
    answers_equivalent(a, b, *, timeout=5.0) -> bool
    cluster_answers(answers, *, timeout=5.0) -> list[AnswerCluster]
    AnswerCluster(representative, members)
    grading_stats() -> dict of counters (sympy tasks, timeouts, workers)

Semantics policy. The grader labels evaluator training data and decides
every accuracy and maj1@N figure, so it is conservative (a false "equal"
is worse than a false "different"), symmetric and deterministic. Where
the prm800k grader and Math-Verify disagree we pick one and say why.

- Unreduced fractions equal their value: `\\frac{2}{4}` = `\\frac12` (as
  Math-Verify; prm800k rejects them). "Simplest form" is a formatting
  request of some problems; clustering and maj1@N need value equality.
- Numbers are exact: decimals are exact rationals (`0.5` = `\\frac12`),
  and there is no float tolerance, so `1/3` != `0.333333` and `\\pi` !=
  `3.14159` (Math-Verify accepts the first through 6-digit rounding; we
  follow prm800k). Scientific `1e3` is not read (`e` is a variable).
- Percentages are their number: `10\\%` = `10`, and `10\\%` != `0.1`
  (Math-Verify says equal; Qwen also accepts `ref*100`, a known false
  positive source). MATH problems ask "what percent", answered by 10.
- Units, degree marks, `\\$` and `\\text{...}` unit words are dropped:
  `90^\\circ` = `90`, `5.4 \\text{ cents}` = `5.4`. There is no
  degree/radian conversion: `\\frac{\\pi}{2}` != `90^\\circ`.
- A leading label is dropped: `x=5` = `5`, `y=2x+1` = `2x+1` (as the
  prm800k grader and Math-Verify do); the labelled answer still states
  its equation, so `y=3x+13` = `3x-y+13=0` too. Equations are equal when
  one side-difference is a nonzero multiple of the other (`5x-7y=4` =
  `-10x+14y+8=0`), which avoids Math-Verify's #60 false positive
  (`3x-y+13=0` = `3x+4y+14=0`). Inequalities compare up to
  a positive factor and may be flipped (`x>2` = `2<x`); strictness must
  match. A relation never equals an interval (`x>2` != `(2,\\infty)`).
- Brackets are kept as written: `(1,2)` is compared element by element
  with another `(1,2)`, and open/closed ends must match, so the
  tuple-vs-interval ambiguity never matters. A bare comma list (`1,-2`)
  and a braced set are unordered and equal to each other; a tuple is not
  a bare list. `a \\pm b` is the list `a+b, a-b`. A one-column or one-row
  matrix equals the parenthesized tuple of its entries. Unions of
  intervals are unordered.
- `i` is the imaginary unit. Variables are case sensitive. `\\infty`
  equals only `\\infty`.
- A numeral with a base subscript (`1011_2`) equals the same digits with
  the same base or with no subscript (`52_8` = `52`); there is no base
  conversion (`52_8` != `42`).
- Text answers compare case-insensitively after `\\text{}` is removed;
  multiple-choice `\\text{(C)}` = `(C)` = `C`.
- Symbolic equality (anything the exact canonical forms cannot settle,
  e.g. trigonometric identities) is `sympy.simplify(a - b) == 0` in a
  worker process. `timeout` seconds bound the whole public call (waiting
  for a worker included), not each task. A timeout, a refused
  input (power towers, exponents above 1000, huge factorials, answers
  over 1000 characters) or a parse failure means "not equal".
"""

from keras_mathft.grading.cluster import AnswerCluster
from keras_mathft.grading.cluster import cluster_answers
from keras_mathft.grading.equivalence import answers_equivalent
from keras_mathft.grading.extract import extract_answer
from keras_mathft.grading.normalize import normalize_answer
from keras_mathft.grading.pool import grading_stats
