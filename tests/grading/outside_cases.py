"""Grading cases written outside this project, as (gold, prediction) rows.

Each row is `(gold, prediction, source_says)` or, where our documented
policy differs from the source's label, `(gold, prediction, source_says,
policy)`; `policy` is a key of `POLICIES`, which points at the row of the
policy table in README.md ("Grading semantics") that decides it. Both
texts go to `answers_equivalent` as they are: a text that reads as a
solution is graded by its extracted answer.

Sources (answer pairs only; rows over 200 characters are left out, and
only rows checked with each source's default settings are kept):

- huggingface/Math-Verify at 5d148cfaaf99214c2e4ffb4bc497ab042c592a7a,
  tests/test_all.py, test_numina_cases.py, test_open_thoughts.py,
  test_yujianll.py, test_boxed.py, test_strict.py (the `expected`/`result`
  column; `strict=True`, `float_rounding=6`);
- MARIO-Math-Reasoning/MARIO_EVAL at
  13584f20b71ffc6e9873e86481054849ed015065,
  math_evaluation/tests/test_is_equiv.py (assertTrue/assertFalse);
- hendrycks/math at 985bdc1696e88e8643f081a0ff4719da39f2ae2a,
  modeling/math_equivalence_test.py.

Strings are kept byte for byte as the sources wrote them, including their
escaping quirks (e.g. doubled backslashes).
"""

# Why our verdict differs from a source's label (README policy table).
POLICIES = {
    "decimal_comma": "a comma separates list items, never decimals",
    "label_is_value": "a labelled answer is its value, not an equation",
    "matrix_expression": "sums and products of matrices are not evaluated",
    "exact_numbers": "no float tolerance: a rounded value is another number",
    "percent_is_number": "10% is 10, not 0.1",
    "tuple_not_list": "a tuple is ordered, a list or set is not",
    "relation_not_interval": "only a bound on a lone variable is an interval",
    "box_join": "boxes join across list separators, never across `+`",
    "clock_times": "clock times compare as written: no time arithmetic",
    "symmetric": "verdicts are symmetric; the source's two orders differ",
    "unclosed_box": "a box without its closing brace holds no answer",
    "source_label_wrong": "the values differ (1 - 1/e is not 1 + 1/e)",
    "units_dropped": "unit words after a number go, spaced or not",
    "vector_is_parenthesized": "a vector equals a tuple, not `[a, b]`",
    "no_degree_conversion": "degree marks are dropped, never converted",
    "lists_unordered": "comma lists are unordered",
}

# huggingface/Math-Verify tests/test_all.py
MV_ALL = [
    ("-5", "-5", True),
    ("7425000", "7,425,000", True),
    ("1000", "1 000", True),
    ("1000", "1000.0", True),
    ("1000.0", "1,000.0", True),
    ("1000.99", "1000,99", True, "decimal_comma"),
    ("1,22", "1.22", True, "decimal_comma"),
    ("2.74", "Soucis : 2,74 $ a..", True, "decimal_comma"),
    ("0.4", ".4", True),
    ("1000.99", "1,000.99", True),
    ("1000.99", "$1,000.99", True),
    ("1000.99", "1,000.99$", True),
    ("1000.99", "the number is not 10 which is 1,000.99€", True),
    ("1000.99", "so the number is 10 which is 1,000.99m²", True),
    ("1000.99", "not it's not 10 it's 1,000.99m²", True),
    ("0,111", "0.111", True, "decimal_comma"),
    ("2", "AZYUK2A", False),
    ("10/9", "\\frac{10}{9}", True),
    ("-10/9", "-\\frac{10}{9}", True),
    ("$[0,1)$", "$[0,1)$", True),
    ("$[0,9)$", "$[0,1)$", False),
    ("$(0,9)$", "$[0,9)$", False),
    ("$1$", "$-[0,1)$", False),
    ("$9$", "Answer \\[ 9 \\]", True),
    ("$9$", "Answer $ 9 $", True),
    ("$9$", "Answer $$ 9 $$", True),
    ("$9$", "Answer \\( 9 \\)", True),
    ("$10$", "Answer \\( (9+1) \\)", True),
    ("$9$", "Answer $ \n 9 \n $", False),
    ("$9$", "Answer \\( \n 9 \n \\)", False),
    ("$9$", "Answer \\[ \n 9 \n \\]", True),
    ("$9$", "Answer $$ \n 9 \n $$", True),
    ("$10/9$", "Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", True),
    ("$1/3$", "$\\frac13 $", True),
    ("$1$", "$\\frac3{3} $", True),
    ("$\\sqrt{3}$", "$\\sqrt3 $", True),
    ("$1/3$", "$\\cfrac{1}{3} $", True),
    ("$1/3$", "$\\dfrac{1}{3} $", True),
    ("$1/3$", "$\\tfrac{1}{3} $", True),
    ("$1/3$", "$ 1/3 $", True),
    ("$1/3$", "$\\left( \\frac{1}{3} \\right)$", True),
    ("$1/3$", "$\\boxed{\\frac{1}{3}}$", True),
    ("$1/3$", "$\\frac{1}{3} \\text{meters}$", True),
    ("$1/3$", "$\\frac{1}{3} \\textbf{meters}$", True),
    ("$1/3$", "$k = \\frac{1}{3}$", True),
    ("$28\\%$", "28 percent", True),
    ("$28\\%$", "28 pct", True),
    ("$28\\%$", "28 %", True),
    ("$28\\%$", "$28$ %", True),
    ("$28\\%$", "$28$ percent", True),
    ("$28\\%$", "$\\boxed{28}$ pct", True),
    ("$28\\%$", "$\\boxed{28 pct}", True),
    ("$28\\%$", "$\\boxed{28 percent}", True),
    ("$28\\%$", "$\\boxed{28 percentage}", True),
    (
        "$2-2p$",
        "Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then $x=2-p$. "
        "Thus $x-p=\\boxed{2-2p}$.",
        True,
    ),
    (
        "\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.\n\\e"
        "nd{align*}",
        "\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.\n\\e"
        "nd{align*}",
        True,
    ),
    (
        "$\\frac{14}{3}$",
        "$f(-2)+f(-1)+f(0)=\\frac{3(-2)-2}{-2-2}+\\frac{3(-1)-2}{-1-2}+\\frac"
        "{3(0)-2}{0-2}=\\frac{-8}{-4}+\\frac{-5}{-3}+\\frac{-2}{-2}=2+\\frac{"
        "5}{3}+1=\\boxed{\\frac{14}{3}}$",
        True,
    ),
    (
        "$3\\sqrt{13}$",
        "We use the distance formula:  \\begin{align*} \\sqrt{(2 - (-4))^2 + "
        "((-6) - 3)^2} &= \\sqrt{6^2 + (-9)^2}\\\\ & = \\sqrt{36 + 81}\\\\ & "
        "= \\sqrt{117} = \\boxed{3\\sqrt{13}}. \\end{align*}",
        True,
    ),
    (
        "$2$",
        "Of the two-digit perfect squares, only $4^2=16$ and $6^2=36$ end in "
        "$6$. Thus, there are $\\boxed{2}$ distinct possible values for $B$.",
        True,
    ),
    (
        "$90^\\circ$",
        "Therefore, \\begin{align*} \\angle BAC &= \\angle BAD + \\angle DAC "
        "\\\\ &= 50^\\circ+40^\\circ \\\\ &= \\boxed{90^\\circ}. \\end{align*"
        "}",
        True,
    ),
    (
        "$(6,31,-1)$",
        "Let $\\alpha$ be a root of $x^3 - 3x^2 + 4x - 1 = 0,$ so $\\alpha^3 "
        "= 3 \\alpha^2 - 4 \\alpha + 1.$ Then solving the system of equations"
        ", we find $(p,q,r) = \\boxed{(6,31,-1)}.$",
        True,
    ),
    (
        "$1 \\pm \\sqrt{19}$",
        "This simplifies to $64y + 1920 = 0,$ so $y = -30.$ Then $x^2 - 2x - "
        "48 = -30,$ or $x^2 - 2x - 18 = 0.$ By the quadratic formula, $x = \\"
        "boxed{1 \\pm \\sqrt{19}}.$",
        True,
    ),
    (
        "$3 \\pm 2 \\sqrt{2}$",
        "This gives us $x^2 + 1 = 6x,$ or $x^2 - 6x + 1 = 0.$ By the quadrati"
        "c formula, the roots are $x = \\boxed{3 \\pm 2 \\sqrt{2}}.$",
        True,
    ),
    (
        "$\\{1\\pm\\sqrt{5},-2\\}$",
        "The roots of $P(x)$ are $-2$ and $1 \\pm \\sqrt{5}$, so the answer i"
        "s $\\boxed{\\{1\\pm\\sqrt{5},-2\\}}.$",
        True,
    ),
    (
        "$2 \\sin b \\cos a$",
        "By sum-to-product,\n\\[\\sin (a + b) - \\sin (a - b) = \\boxed{2 \\s"
        "in b \\cos a}.\\]",
        True,
    ),
    (
        "$125$ miles",
        "The distance is $\\boxed{125\\textnormal{ miles}}.$",
        True,
    ),
    (
        "$[-1, -\\frac{1}{2}) \\cup (-\\frac{1}{2}, 0) \\cup (0, 1) \\cup (1,"
        " \\infty)$",
        "The solution set is $\\boxed{[-1, -\\tfrac12) \\cup (-\\tfrac12, 0) "
        "\\cup (0, 1) \\cup (1, \\infty)}.$",
        True,
    ),
    (
        "$\\sqrt{2}+\\sqrt{5}$",
        "The answer is $\\boxed{\\sqrt 2+\\sqrt 5}$",
        True,
    ),
    ("$\\frac{9}{4}\\pi$", "Therefore $\\boxed{\\frac94\\pi}$.", True),
    (
        "x \\in \\boxed{\\{-1\\} \\cup [0,7)}.$",
        "x \\in \\boxed{\\{-1\\} \\cup [0,7)}.$",
        True,
    ),
    ("$x >= 5$", "Therefore $x \\geq 5$ is the solution.", True),
    ("$x < 3$", "We find that $x \\lt 3$.", True),
    ("$x \\leq 2$", "Thus $x <= 2$ is our answer.", True),
    ("$x > 5$", "Therefore $x \\gt 5$ is the solution.", True),
    ("$x != 3$", "We find that $x \\neq 3$.", True),
    ("$x > 5$", "Therefore $x < 5$ is the solution.", False),
    ("$x \\geq 5$", "The solution is $x \\leq 5$", False),
    ("$x \\neq 5$", "The solution is $x != 5$", True),
    ("$x \\leq 5$", "$5 \\geq x$", True),
    ("$x \\geq 5$", "$5 \\leq x$", True),
    ("$x = 11$", "$x = 5+5+1 = 7 =11$", True),
    ("$7 = 11a+c$", "$11a+c$", False),
    ("$x = 1/3$", "$x = 5+5+1 = 1/3 \\approx 11$", True),
    ("$11$", "$x=11$", True),
    ("$11$", "$x\\approx11$", True),
    ("$1/3$", "$x=1/3\\approx1.3$", True),
    ("$x < 1$", "$-x > -1$", True),
    ("$x < 1$", "$x > -1$", False),
    ("$x <= 1$", "$-x >= -1$", True),
    ("$a +3z = 0$", "$0$", False),
    ("$1 = \\zzz = x = 0$", "$0$", True),
    ("$2x + z = 1$", "$1$", False),
    ("$a^2 + b = 0$", "$0$", False),
    ("$k=1$", "$1$", True),
    ("$1$", "$k=1$", True),
    ("$z = 1 + 1 = 2$", "$z = 3+3 = 2$", True),
    ("$2x+4y-3=0$", "$y=-\\frac{1}{2}x+\\frac{3}{4}$", True, "label_is_value"),
    ("$x^2/4 + y^2/3 = 1$", "$x^2/16 + y^2/12 = 1/4$", True),
    (
        "$\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}$",
        "The identity matrix is $ \\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatr"
        "ix} $.",
        True,
    ),
    (
        "$\\begin{bmatrix}0 & 0 \\\\0 & 0\\end{bmatrix}$",
        "Here is a zero matrix: $ \\begin{pmatrix}0 & 0 \\\\0 & 0\\end{pmatri"
        "x} $",
        True,
    ),
    (
        "$\\begin{pmatrix}1 & 2 \\\\3 & 4\\end{pmatrix}$",
        "Special matrix: $ \\left[\\begin{array}{cc}1 & 2 \\\\3 & 4\\end{arra"
        "y}\\right] $",
        True,
    ),
    (
        "$\\begin{pmatrix}\\frac{1}{2} & \\frac{3}{4} \\\\ \\frac{5}{6} & \\f"
        "rac{7}{8}\\end{pmatrix}$",
        "Matrix with fractions: $ \\begin{pmatrix}\\frac{1}{2} & \\frac{3}{4}"
        " \\\\ \\frac{5}{6} & \\frac{7}{8}\\end{pmatrix} $",
        True,
    ),
    (
        "$\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}$",
        "The sum is $\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin"
        "{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$",
        True,
        "matrix_expression",
    ),
    (
        "$\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}$",
        "When multiplying by identity: $\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end"
        "{pmatrix} \\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}$",
        True,
        "matrix_expression",
    ),
    (
        "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}$",
        "The matrix is $\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}$",
        False,
    ),
    ("$\\frac{1}{12}$", "$0.0833333333333333$", True, "exact_numbers"),
    ("$(1,\\frac{9}{2})$", "$(1,4.5)$", True),
    ("$\\frac{x+2}{7}$", "$\\frac{x}{7}+\\frac{2}{7}$", True),
    ("$\\tan^2(y)+1$", "$\\sec^2(y)$", True),
    (
        "$\\begin{pmatrix}-\\\x0crac{7}{4}&-2\\\\4&\\frac{1}{4}\\\\\\end{pmat"
        "rix}$",
        "$\\begin{pmatrix}-\\\x0crac{7}{4}&-2\\\\4&\\frac{1}{4}\\\\\\end{pmat"
        "rix}$",
        True,
    ),
    (
        "$\\begin{pmatrix}\\frac{1}{3\\sqrt[3]{x}^2}&0&0\\\\0&1&0\\\\-\\sin(x"
        ")&0&0\\\\\\end{pmatrix}$",
        "$\\begin{pmatrix}\\frac{1}{3x^{2/3}}&0&0\\\\0&1&0\\\\-\\sin(x)&0&0\\"
        "end{pmatrix}$",
        True,
    ),
    ("$34x+45y-20z+100=0$", "$-34x-45y+20z-100=0$", True),
    (
        "$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}$",
        "$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}$",
        True,
    ),
    ("$(a+5)(b+2)$", "$(+5)(b+2)$", False),
    ("$2$", "$\\frac{1+\\sqrt{5}}{2}$", False),
    ("$4$", "$\\frac{34}{16}+\\frac{\\sqrt{1358}}{16}$", False),
    ("$1\\sqrt{19}$", "$1$", False),
    ("$x+2n+1$", "$x+1$", False),
    ("$34$", "Final Answer: The largest $n$ is 34.", True),
    ("$(3,1)$", "${1,3}$", False),
    ("$(1,3)$", "${1,3}$", True, "tuple_not_list"),
    (
        "$[-4,0]$",
        "Thus, the values of \\( k \\) for which the quadratic has real roots"
        " are: \\[ \\boxed{[-4, 0]} \\]",
        True,
    ),
    ("\\(\\boxed{\\text{C}}\\).", "$\\boxed{\\text{(C)}}.$", True),
    (
        " So the answer is: \\[ \\boxed{11111111100} \\]",
        "is $\\boxed{11,\\! 111,\\! 111,\\! 100}$",
        True,
    ),
    (
        " So the answer is: \\[ \\boxed{32349} \\]",
        "is $\\boxed{32,\\! 349}$",
        True,
    ),
    (
        " So the answer is: \\[ \\boxed{32349} \\]",
        "is $\\boxed{32, 349}$",
        False,
    ),
    (
        "Thus, the domain of the function \\( f(x) \\) is: \\[ \\boxed{(2, 12"
        ") \\cup (12, 102)} \\]",
        "Thus, the answer is $x \\in \\boxed{(2,12) \\cup (12,102)}$",
        True,
    ),
    ("$\\text{E}$", "$E$", True),
    ("$\\boxed{1}\\boxed{2}$", "$\\boxed{1,2}$", True),
    (
        "$-2 \\\\le x \\\\le 7$",
        "$x \\in [-2,7]$",
        True,
    ),
    ("$x \\in [-2,7]$", "$-2 \\\\le x \\\\le 7$", False, "symmetric"),
    ("$4$", "$4\\sqrt{2}$", False),
    ("$\text{13}$", "$13$", False),
]

# huggingface/Math-Verify tests/test_boxed.py
MV_BOXED = [
    ("$\\\\boxed{35 cm} ++++++ \\\\boxed{4}$", "${35 cm,4}$", True, "box_join"),
    (
        "SoHi YES.\\n\\n could answer therefore\\\\boxed{840}.,but let me put"
        " this after explain.\\n\\n**Final Answer**\\n\\\\boxed{840}",
        "$840$",
        True,
    ),
]

# huggingface/Math-Verify tests/test_numina_cases.py
MV_NUMINA_CASES = [
    (
        "$(37,3,3,13),(17,3,3,7),(3,37,3,13),(3,17,3,7),(3,3,2,3)$",
        "$\\boxed{(3, 37, 3, 13), (3, 17, 3, 7), (3, 3, 2, 3), (3,17,3,7), (1"
        "7,3,3,7), (37,3,3,13)}$",
        True,
    ),
    ("$(p,q)=(3,2)$", "$(3,2)$", True),
    (
        "$(0;0;0),(0;-2;0),(0;0;6),(0;-2;6),(4;0;0),(4;-2;0),(4;0;6),(4;-2;6)$",
        "\\boxed{(4, 0, 6), (4, -2, 6), (0, 0, 6), (0, -2, 6), (4, 0, 0), (4,"
        " -2, 0), (0, 0, 0), (0, -2, 0)}",
        True,
    ),
    (
        "$1\\leq|z|\\leq \\frac{3}{2}$",
        "$z \\in \\left[-\\frac{3}{2}, -1\\right] \\cup \\left[1, \\frac{3}{2"
        "}\\right]$",
        True,
        "relation_not_interval",
    ),
    (
        "$-12;-11;-10;-8;-7;-6$",
        "$\\boxed{\\{-12, -11, -10, -8, -7, -6\\}}$",
        True,
    ),
    ("$AB=4,CD=5$", "$\\boxed{4, 5}$", True),
    ("$(11,7)or(7,11)$", "$\\boxed{(7,11),\\ (11,7)}$", True),
    ("$S_{MBCN}:S=7:32$", "$\\boxed{7:32}$", True),
    ("$\\frac{NO}{BO}=\\frac{1}{\\sqrt{6}}$", "$\\frac{1}{\\sqrt{6}}$", True),
    ("$p=5,q=2;p=7,q=2$", "$(5,2),(7,2)$", True),
    ("$(p,q,r)=(3,2,7)$", "$(3,2,7)$", True),
    ("$V_{1}:V_{2}=11:21$", "$11:21$", True),
    (
        "$(2,1),(1,2),(-1,-20),(-20,-1)$",
        "solutions are:\n\n\\[\n\\boxed{(1, 2)}, \\boxed{(2, 1)}, \\boxed{(-1"
        ", -20)}, \\boxed{(-20, -1)}\n\\]",
        True,
    ),
    ("\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).", "$\\boxed{-2,1}$.", True),
    ("$\\text{odd}$", "$odd$", True),
    ("$\\text{e}$", "$e$", True),
    ("$d$", "$\\text{E}$", False),
    ("$1$ and $2$ and $3$", "$\\boxed{1,2,3}$", True),
    (
        "$(37,3,3),(17,3,3,7),(3,37,3,13),(3,17,3,7),(3,3,2,3)$",
        "$\\boxed{(3, 37, 3, 13), (3, 17, 3, 7), (3, 3, 2, 3), (3,17,3,7), (1"
        "7,3,3,7), (37,3,3,13)}$",
        False,
    ),
    ("$(p,q)=(3,2)$", "$\\boxed{(3, 2)}$", True),
    (
        "\\boxed{x = -5,\\ p = \\frac{14}{3}} ",
        "$\\boxed{-5, \\frac{14}{3}}$",
        True,
    ),
    ("\\boxed{a=4,\\,-8,\\,-10}", "$\\boxed{-10,-8,4}$", True),
    (
        "\\\\boxed{W(n) = 1 \\\\text{ and } W(n) = -1",
        "W(x)=1orW(x)=-1",
        True,
        "unclosed_box",
    ),
    ("$21,16$ or $11$", "$21,16,11$", True),
    (
        "\\n\\n\\[ \\boxed{p = -1 \\text{ and } p = \\dfrac{15}{8}} \\]",
        "$p=-1,p=\\frac{15}{8}$",
        True,
    ),
    ("$0<f(x)<1$", "$(0,1)$", True),
    ("\\(\\boxed{6 \\text{ and } 8}\\)", "$\\boxed{6,8}$", True),
    ("$\\text{Even}$", "$Even$", True),
]

# huggingface/Math-Verify tests/test_open_thoughts.py
MV_OPEN_THOUGHTS = [
    (
        "$$\\boxed{2}, \\boxed{3}, \\boxed{5}, \\boxed{7}, \\boxed{13}$$",
        "$${2, 3, 5, 7, 13}$$",
        True,
    ),
    ("$$f(y) = y$$", "$$f(y) = y$$", True),
    ("$$-793 < a < 10$$", "$$(-793, 10)$$", True),
    (
        "$$\\text{The midpoints form a regular hexagon}$$",
        "$$\\text{The midpoints form a regular hexagon}$$",
        True,
    ),
    (
        "$$a_3 = 2, a_{37} = 19$$",
        "$$\\boxed{a_{37} = 19, \\quad a_3 = 2}$$",
        True,
    ),
    ("$$(2, 2), (1, 3), (3, 3)$$", "$$\\boxed{(2, 2), (1, 3), (3, 3)}$$", True),
    ("$$(1, +\\infty)$$", "$$(1, +\\infty)$$", True),
    (
        "$$x = \\frac{1}{2}, x = \\frac{-1 \\pm \\sqrt{13}}{4}$$",
        "$$\\boxed{x = \\frac{1}{2}, x = \\frac{-1 \\pm \\sqrt{13}}{4}}$$",
        True,
    ),
    ("$$0.06 \\text{ yuan}$$", "$$\\boxed{0.06 \\text{ yuan}}$$", True),
    (
        "$$(5, 8), (8, 5)$$",
        "$$\\boxed{(x, y) = (5, 8) \\quad \\text{and} \\quad (8, 5)}$$",
        True,
    ),
    ("$$667$$", "$$\\boxed{667}$$", True),
    ("$$6 \\text{ and } 8$$", "$$\\boxed{6 \\text{ and } 8}$$", True),
    (
        "$$(2, 2), (6, 2)$$",
        "$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$",
        True,
    ),
    (
        "$$(98, 2), (99, 503)$$",
        "$$\\boxed{(98, 2)} \\quad \\text{and} \\quad \\boxed{(99, 503)}$$",
        True,
    ),
    (
        "$$(3, 3), (1, 1)$$",
        "$$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$$",
        True,
    ),
    ("$$k \\ge 2$$", "$$\\boxed{k \\ge 2}$$", True),
    (
        "$$k = 45, n = 2$$",
        "$$\\boxed{k = 45} \\quad \\text{and} \\quad \\boxed{n = 2}$$",
        True,
    ),
    ("$${1,2,3}$$", "\\boxed{1} and \\boxed{2} and \\boxed{3}", True),
    ("$${1,2,3}$$", "\\boxed{1},\\boxed{2},\\boxed{3}", True),
    ("$$|AB|=1$$", "$$1$$", True),
    ("$$A:B=1$$", "$$1$$", True),
    ("$$f(x)=1$$", "$$1$$", True),
    (
        "$x_{1}=10^{\\frac{-5+\\sqrt{13}}{6}},\\quadx_{2}=10^{\\frac{-5-\\sqr"
        "t{13}}{6}}$",
        "$\\boxed{10^{\\frac{\\sqrt{13} - 5}{6}}} \\quad \\text{and} \\quad "
        "\\boxed{10^{-\\frac{5 + \\sqrt{13}}{6}}}$",
        True,
    ),
    (
        "$y_{1}=-2 x^{2}+4 x+3, y_{2}=3 x^{2}+12 x+10$",
        "\\($y_1 = \\boxed{-2(x - 1)^2 + 5} \\) and \\( y_2 = \\boxed{3(x + 2"
        ")^2 - 2} \\) ",
        True,
    ),
    (
        "$x_{1}=\\frac{1}{2}+\\frac{31\\sqrt{5}}{216},\\quadx_{2}=\\frac{1}{2"
        "}-\\frac{31\\sqrt{5}}{216}$",
        "$\\boxed{\\dfrac{108 + 31\\sqrt{5}}{216}} \\quad \\text{and} \\quad "
        "\\boxed{\\dfrac{108 - 31\\sqrt{5}}{216}}$",
        True,
    ),
    (
        "\\boxed{1} papers and \\boxed{2} bins",
        "$\\boxed{1,2}$",
        True,
    ),
    ("\\boxed{1} no no no no no \\boxed{2}", "$\\boxed{1,2}$", False),
]

# huggingface/Math-Verify tests/test_strict.py
MV_STRICT = [
    ("$f(x)$", "$f(y)$", False),
]

# huggingface/Math-Verify tests/test_yujianll.py
MV_YUJIANLL = [
    ("$n=1, 2, 3$", "$n=1, 2, 3$", True),
    ("$n=2, 3, 4$", "$n=1, 2, 3$", False),
    ("$D = (0, 1)$", "$D = (0, 1)$", True),
    ("$D = (0, 1)$", "$D = (0, 1.5)$", False),
    (
        "$F_n = \\sum_{k=0}^{n-1} F_k F_{n-k-1}$",
        "$F_n = \\sum_{k=0}^{n-2} F_k F_{n-k-2}$",
        False,
    ),
    (
        "$F_n = \\sum_{k=0}^{n-1} F_k F_{n-k-1}$",
        "$F_n = \\sum_{k=0}^{n-1} F_{n-k-1} F_k$",
        True,
    ),
    ("$19, 46, and 82$", "$19, 46, \\text{ and } 82$", True),
    ("$19, 46, and 82$", "$21, 36, and 82$", False),
    ("$1 - \\frac{1}{\\mathrm{e}}$", "$1 - \\frac{1}{\\mathrm{e}}$", True),
    (
        "$1 - \\frac{1}{\\mathrm{e}}$",
        "$1 + \\frac{1}{\\mathrm{e}}$",
        True,
        "source_label_wrong",
    ),
    ("$\\pm 2021$", "$2021$", False),
    ("$\\pm 2021$", "${-2021, 2021}$", True),
    ("$12:00$", "$1:00$", False),
    ("$12:00$", "$12:00$", True),
]

# MARIO-Math-Reasoning/MARIO_EVAL math_evaluation/tests/test_is_equiv.py
MARIO = [
    ("{x, x - 1}", "{x - 1, x}", True),
    ("x + \\sqrt2I", "x + 1.414I", True, "exact_numbers"),
    ("11,\\! 111,\\! 111,\\! 100", "11111111100", True),
    ("1 1/2", "1.5", True),
    ("4210_{7}", "4210_7", True),
    ("1\\frac12", "1.5", True),
    ("2\\frac58", "2.625", True),
    (".1, 4.0", "0.1, 4", True),
    ("10\\%", "10", True),
    ("10\\%", "0.1", True, "percent_is_number"),
    ("\\frac13, \\sqrt3, \\pi", "1/3, 1.732, 3.1416", True, "exact_numbers"),
    ("40\\pi", "125.663", True, "exact_numbers"),
    ("1, 2, 3", "1, 3, 2", True),
    ("7, -2, \\text{ and } -5", "-5,-2,7", True),
    ("[1, 2, 3]", "(1, 3, 2)", False),
    ("1+2i", "i(2-i)", True),
    ("\\tfrac23 +\\frac1{72}", "\\\\dfrac{2}{3} +\\frac{1}{72}", True),
    ("$\\frac{\\sqrt{17}}{17}$", "$\\frac{\\sqrt{17}}{17}$", True),
    ("$\\frac{4\\sqrt{5}}{5}$", "$\\frac{4\\sqrt{5}}{5}$", True),
    ("\\frac{\\sqrt{3}}{2}", "0.8660254037844386", True, "exact_numbers"),
    ("10\\text{ units}", "10", True),
    ("10 square units", "10", True),
    ("10 \\text{cm}", "10", True),
    ("10\\text{ cm}^2", "10", True),
    ("10\\text{ cm}^{2}", "10", True),
    ("10weeks", "10", True),
    ("10 weeks", "10", True),
    ("10 cm^2", "10", True),
    ("20:34", "20:34:00", True, "clock_times"),
    ("20:34", "08:34 \\text{P.M.}", True, "clock_times"),
    ("10cm", "10", False, "units_dropped"),
    ("10m", "10", False),
    ("10", "\\$10", True),
    ("\\left(x-2\\right)\\left(x+2\\right)", "(x-2)(x+2)", True),
    ("10\\sqrt{3} + \\sqrt4", "10\\sqrt3 + \\sqrt{4}", True),
    ("$\\sqrt{5}$", "$\\\\sqrt{5}$", True),
    ("5x - 7y + 11z + 4 = 0", "x + y - z + 2 = 0", False),
    ("\\sin(x)=\\frac{42}{59}", "\\cos(x)=\\frac{42}{59}", False),
    ("11z^{7}(5+11z^{7})", "11z^7(11z^7+5)", True),
    ("$\\frac{8-7x}{6}$", "$4/3-7x/6$", True),
    ("(2x+3)(2x -1)(2x+1)", "(2x - 1)(2x + 1)(2x + 3)", True),
    ("2^6 * 3^5 * 5^4", "2^6 3^5 5^4", True),
    (
        "\\begin{pmatrix} 1 & 1/2 \\\\ 1/3 & 4 \\end{pmatrix}",
        "\\begin{pmatrix} 1 & 0.5 \\\\ 1/3 & 4 \\end{pmatrix}",
        True,
    ),
    (
        "\\begin{matrix} x \\\\ \\sqrt{3} + 2x  \\\\ \\frac12 \\end{matrix}",
        "\\begin{matrix} x \\\\ \\sqrt{3} + 2x \\\\ 0.5 \\end{matrix}",
        True,
    ),
    (
        "\\begin{matrix} \\frac12 \\\\ 1 \\end{matrix}",
        "[0.5, 1]",
        True,
        "vector_is_parenthesized",
    ),
    ("\\sec x", "\\frac1{\\cos x}", True),
    ("\\sin(90^{\\circ}-x)", "\\cos(x)", True, "no_degree_conversion"),
    ("2.314814814815 \\times 10^{-3}", "\\frac{1}{432}", True, "exact_numbers"),
    ("x \\in [0.5, \\infty)", "[1/2, \\infty)", True),
    ("[-3,2]", "(-3,2)", False),
    ("[1, 2)", "[x, y)", False),
    ("x = 1, y = 2, z = 3", "1, 2, 3", True),
    ("f(x) = 2x + 3", "2x + 3", True),
    ("f(x) = 2x + 3", "y = 2x + 3", True),
]

# hendrycks/math modeling/math_equivalence_test.py
HENDRYCKS = [
    ("\\tfrac{1}{2} + \\frac1{72}", "\\\\frac{1}{2} + 2/3", False),
    ("10, 4, -2", "4, 10, -2", False, "lists_unordered"),
    ("10, 4, 2", "4, 12, 2", False),
    ("\\tfrac{1}{2} +\\! \\frac1{72}", "\\\\dfrac{1}{2} +\\frac{1}{72}", True),
    ("10\\text{ units}", "10 ", True),
    ("10\\text{ units}", "100 ", False),
    ("10", "\\$10", True),
    ("\\left(x-2\\right)\\left(x+2\\right)", "(x-2)(x+2)", True),
    ("0.1, 4, 2", "4, .1, 2", False, "lists_unordered"),
    ("0.1", ".1", True),
    ("10\\%", "10", True),
    ("10\\sqrt{3} + \\sqrt4", "10\\sqrt3 + \\sqrt{4}", True),
    ("\\frac34i", "\\frac{3}{4}i", True),
    ("\\tfrac83", "\\frac{8}{3}", True),
    ("5x - 7y + 11z + 4 = 0", "x + y - z + 2 = 0", False),
    ("1/2", "\\frac{1}{2}", True),
]

ALL = {
    "MV_ALL": MV_ALL,
    "MV_BOXED": MV_BOXED,
    "MV_NUMINA_CASES": MV_NUMINA_CASES,
    "MV_OPEN_THOUGHTS": MV_OPEN_THOUGHTS,
    "MV_STRICT": MV_STRICT,
    "MV_YUJIANLL": MV_YUJIANLL,
    "MARIO": MARIO,
    "HENDRYCKS": HENDRYCKS,
}
