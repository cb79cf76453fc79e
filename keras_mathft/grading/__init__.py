"""Math answer grading: extraction, equivalence and clustering.

Pure Python: this package never imports keras, jax or tensorflow, and it
never evaluates model text (no `eval`, `exec`, `sympify`, `parse_expr`):
answers are parsed by a small recursive-descent parser into plain trees,
and sympy objects are built from those trees with constructors only.

Public API:
    extract_answer(solution_text) -> str | None
    extract_answer_record(solution_text) -> ExtractedAnswer(answer, rule)
    EXTRACTION_RULES: the rule names, in the order they are tried
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
  follow prm800k). Scientific notation is a number: digits immediately
  followed by `e` or `E` and an optionally signed integer, with no space,
  in an answer with no other letters (`1e3` = `1000` != `3e1`, `2.5e-4` =
  `0.00025`). Next to variables `2e-1` is as likely 2e - 1 as 0.2, so
  there `e` stays a variable (`x+2e-1`, `2e - 1`), and `1e3x` is compared
  as written.
- Percentages are their number: `10\\%` = `10`, and `10\\%` != `0.1`
  (Math-Verify says equal; Qwen also accepts `ref*100`, a known false
  positive source). MATH problems ask "what percent", answered by 10.
- Units, degree marks, `\\$` and `\\text{...}` unit words are dropped:
  `90^\\circ` = `90`, `5.4 \\text{ cents}` = `5.4`. There is no
  degree/radian conversion: `\\frac{\\pi}{2}` != `90^\\circ`.
- A leading label is dropped: `x=5` = `5`, `y=2x+1` = `2x+1`,
  `(p,q)=(3,2)` = `(3,2)`, `f(x)=2x+3` = `2x+3`, `|AB|=1` = `1` (as the
  prm800k grader and Math-Verify do). A labelled answer is its value and
  never an equation: `y=3x+13` != `3x-y+13=0`, because reading it both
  ways would make `x-5=0` = `x=5` = `5` and break transitivity. A chain
  `x = 5+5+1 = 11` is its last side; `x = 1/3 \\approx 0.33` is `1/3`
  and `x \\approx 11` is `11`; an equation of constants (`5+5+1 = 11`)
  is its right side (`x+1 = 3` is an equation, not `3`). Other
  equations are equal when one side-difference is a nonzero multiple of
  the other (`5x-7y=4` = `-10x+14y+8=0`), which
  avoids Math-Verify's #60 false positive (`3x-y+13=0` = `3x+4y+14=0`).
  Inequalities compare up to a positive factor and may be flipped
  (`x>2` = `2<x`); strictness must match.
- Relations as intervals: an inequality that bounds a lone variable or
  function value by constants is that variable's interval, the variable
  dropped as a label is: `x>2` = `(2,\\infty)`, `x \\le 5` =
  `(-\\infty,5]`, `-2 \\le x < 7` = `[-2,7)` = `x \\in [-2,7)`, `0<f(x)<1`
  = `(0,1)`, `x \\neq 3` = `(-\\infty,3) \\cup (3,\\infty)`, and
  `x<-1 or x>1` is the union of its intervals. So is an inequality linear
  in one variable with a rational slope (`2x>4`, `3-x \\ge 1`). Intervals
  keep their written brackets, so the chain `1<x<2` also equals the tuple
  `(1,2)` and the column vector that equals it. Anything else (`x>a`,
  `|x|<3`, `x^2>4`, `0<2x<4`) stays a relation or is compared as written:
  nothing is solved.
- Brackets are kept as written: `(1,2)` is compared element by element
  with another `(1,2)`, and open/closed ends must match, so the
  tuple-vs-interval ambiguity never matters. A bare comma list (`1,-2`),
  a braced set, and lists written with `and`, `or` or `;` are sets:
  unordered, repeats dropped, and equal to each other; their items may be
  tuples (`(11,7) or (7,11)`); a set of one value is that value
  (`\\{1\\}` = `1`). A tuple is not a bare list. `a \\pm b` is
  the list `a+b, a-b` (`\\pm a` is `a, -a`). A one-column or one-row
  matrix equals the parenthesized tuple of its entries. Unions of
  intervals are unordered. Sums and products of matrices are not
  evaluated.
- Labelled lists are the lists of their values, labels dropped: `k=45,
  n=2` = `45, 2` = `n=2, k=45`, `x=-5, p=14/3` = `-5, 14/3`. Lists are
  sets, so this stays transitive, at a documented price: `x=1, y=2` =
  `x=2, y=1`. A tuple is still not a list (`x=1, y=2` != `(1,2)`), so a
  swapped answer against a tuple gold stays wrong. Labels repeating in
  blocks of distinct labels (`p=5,q=2; p=7,q=2`) are one solution per
  block, the tuple of its values in the first block's label order
  (`(5,2),(7,2)`). A label may also stand on the first item only
  (`a=4, -8, -10`).
- Delimiter sizing is dropped (`\\left`, `\\right`, `\\middle`,
  `\\bigl`, `\\Bigr`, `\\biggl`, ...), and the null delimiters
  `\\left.`/`\\right.` are nothing: `\\left.5\\right.` = `5` != `0.5`.
  Named delimiters are what they print (`\\lbrace` is `\\{`, `\\lvert` is
  `|`), and the Unicode minus `−` is `-`.
- Numbers: `14{,}916` and `10,\\!080` are one number; a comma is never a
  decimal point (`1000,99` is a list), and `32, 349` (space after the
  comma) is a list.
- A solution text given where an answer is expected (it holds a box or an
  answer phrase, reads as prose, or does not parse) is graded by its
  `extract_answer`.
- `i` is the imaginary unit. Variables are case sensitive (`e` is one,
  but for scientific notation, above). `\\infty`
  equals only `\\infty`. `\\sum_{k=a}^{b}` and `\\prod` are compared by
  index, bounds and body (`\\sum F_k F_{n-k}` = `\\sum F_{n-k} F_k`),
  never evaluated or renamed.
- A numeral's base subscript is dropped (`1011_2` is 1011): `52_8` =
  `52` = `52_9`, and there is no base conversion (`52_8` != `42`).
- Unbraced arguments take one token, as TeX reads them: `\\frac12` =
  `\\frac{1}{2}`, `\\binom52` = `\\binom{5}{2}`, `\\log_28` =
  `\\log_2 8`, `\\sin^23x` = `\\sin^2(3x)`, and `x^2!` is `(x^2)!`,
  not `x^{2!}`. Digits left over after the last argument (`\\sqrt23`,
  `\\sqrt[3]27`, `\\frac123`, `x^23`, `2^10`, `x_12`) would multiply
  what TeX renders before them, while the writer most likely meant one
  number; neither reading is guessed and no digit is dropped: the answer
  is refused (`\\sqrt23` != `\\sqrt{23}`, `3\\sqrt2`, `\\sqrt2`;
  `2^10` != `1024`). A space separates: `x^2 3` = `3x^2`.
- Text answers compare case-insensitively after `\\text{}` is removed;
  multiple-choice `\\text{(C)}` = `(C)` = `C`.
- Symbolic equality (anything the exact canonical forms cannot settle,
  e.g. trigonometric identities) is `sympy.simplify(a - b) == 0` in a
  worker process. `timeout` seconds bound the whole public call (waiting
  for a busy worker included), not each task. A timeout, a refused
  input (power towers, exponents above 1000, huge factorials, answers
  over 1000 characters) or a parse failure means "not equal".
- Workers run in their own session and ignore SIGINT: a Ctrl-C
  interrupts the caller only, never a comparison.
- Starting a worker process is not comparison time (a grade must not
  depend on the machine's load): a call waits for its workers to start
  outside its `timeout`, for at most 60 s per call
  (`pool.STARTUP_TIMEOUT`), after which it raises `RuntimeError` instead
  of answering "not equal" for comparisons it never ran.
"""

from keras_mathft.grading.cluster import AnswerCluster
from keras_mathft.grading.cluster import cluster_answers
from keras_mathft.grading.equivalence import answers_equivalent
from keras_mathft.grading.extract import EXTRACTION_RULES
from keras_mathft.grading.extract import ExtractedAnswer
from keras_mathft.grading.extract import extract_answer
from keras_mathft.grading.extract import extract_answer_record
from keras_mathft.grading.normalize import normalize_answer
from keras_mathft.grading.pool import grading_stats

__all__ = [
    "AnswerCluster",
    "answers_equivalent",
    "cluster_answers",
    "extract_answer",
    "extract_answer_record",
    "ExtractedAnswer",
    "EXTRACTION_RULES",
    "grading_stats",
    "normalize_answer",
]
