"""The embedded task: seeded MATH-style problems that need no download.

The machines this project runs on have no model or dataset hub, so the
default recipe trains a small decoder from scratch on procedurally generated
problems. They are kept short and local (digits are single tokens, each step
of a detailed solution is one small computation) so that a model of a few
million parameters partly learns them in minutes on a CPU, leaving room for
sampling, majority voting and a verifier to help.

Reference answers come in several surface forms (`\\frac{6}{4}`,
`\\frac{3}{2}`, `1.5`, `x=5`, ...), chosen at random per problem, so that
grouping sampled answers by string is not enough: clustering must compare
math values. The same seed gives the same problems in every solution style;
only the solution text differs: `"detailed"` writes one operation a line
(like PRM800K's fine-grained steps), `"coarse"` combines operations into
fewer lines (like MATH's terse human solutions) and `"terse"` writes the
answer alone.
"""

import fractions
import math
import random
import re

from keras_mathft.data.records import MathProblem

SUBJECTS = ("Prealgebra", "Algebra", "Number Theory", "Counting & Probability")
LEVELS = (1, 2, 3, 4, 5)
STYLES = ("detailed", "coarse", "terse")

_NAMES = ("Ann", "Ben", "Cara", "Dan", "Eva", "Finn", "Gia", "Hugo")
_ITEMS = ("apples", "pens", "cards", "books", "eggs", "coins")
_COLORS = ("red", "blue", "green", "white")
_CLOTHES = ("shirts", "hats", "scarves", "shoes")


def make_synthetic_problems(
    num_problems, *, seed=0, style="detailed", subjects=None, levels=None
):
    """Generates `num_problems` seeded MATH-style problems.

    Subjects are drawn in turn and levels at random (from a
    `random.Random(seed)`, stable across machines and Python versions), so
    the same arguments always give the same list. `style` only changes the
    solution text: the problems, answers, subjects, levels and ids are the
    same in every style, so a style comparison trains on the same problems.

    Every solution ends with `\\boxed{answer}`. The `"detailed"` style is a
    scratchpad with one small computation per line; the `"coarse"` style
    reaches the same answer in fewer lines, each combining operations (a
    chain of operations as one expression, a fraction's reduction without
    its gcd); the `"terse"` style gives the answer alone.

    Args:
        num_problems: int. How many problems to make, `>= 0`.
        seed: int. The random seed.
        style: str. `"detailed"`, `"coarse"` or `"terse"`.
        subjects: sequence of str, or `None` for all of `SUBJECTS`.
        levels: sequence of int from 1 to 5, or `None` for all of them.
            Higher levels have more steps and larger numbers.

    Returns:
        A list of `MathProblem` with ids `"synthetic/<subject>/<n>"`, where
        `<subject>` is the lower-case subject with `_` for spaces and `n`
        the position in the list.

    Raises:
        ValueError: if an argument is out of range.

    Example:

    >>> p = make_synthetic_problems(2, seed=1)
    >>> p[0].solution.endswith("\\\\boxed{" + p[0].answer + "}")
    True
    """
    if isinstance(num_problems, bool) or not isinstance(num_problems, int):
        raise ValueError(
            f"`num_problems` must be an int. Received: {num_problems!r}"
        )
    if num_problems < 0:
        raise ValueError(
            f"`num_problems` must be >= 0. Received: {num_problems!r}"
        )
    if style not in STYLES:
        raise ValueError(
            f"`style` must be one of {STYLES}. Received: {style!r}"
        )
    subjects = _check_choices("subjects", subjects, SUBJECTS)
    levels = _check_choices("levels", levels, LEVELS)
    rng = random.Random(seed)
    problems = []
    for n in range(num_problems):
        subject = subjects[n % len(subjects)]
        level = rng.choice(levels)
        generators = _GENERATORS[subject]
        generator = generators[rng.randrange(len(generators))]
        text, steps, answer = generator(rng, level)
        # The terse style is the answer alone: a model trained on it must
        # find the answer without writing any intermediate step.
        body = steps.get(style, "")
        slug = subject.lower().replace(" & ", "_").replace(" ", "_")
        problems.append(
            MathProblem(
                problem=text,
                solution=body + "\\boxed{" + answer + "}",
                answer=answer,
                subject=subject,
                level=level,
                unique_id=f"synthetic/{slug}/{n}",
            )
        )
    return problems


def answer_value(answer):
    """Reads an answer in one of the embedded task's forms as a `Fraction`.

    Understands integers, decimals, `\\frac{a}{b}` (also `\\dfrac`,
    `\\tfrac`), `a/b`, a leading minus sign and a `x=` style prefix. This is
    a small parser for the task's own answers, not a general grader.

    Args:
        answer: str. The answer, e.g. `"\\\\frac{6}{4}"` or `"x=-2.5"`.

    Returns:
        A `fractions.Fraction`, or `None` when `answer` is in none of the
        forms above.

    Example:

    >>> answer_value("\\\\frac{6}{4}")
    Fraction(3, 2)
    """
    if not isinstance(answer, str):
        return None
    text = answer.replace(" ", "")
    text = re.sub(r"^[a-z]=", "", text)
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    match = re.fullmatch(r"\\[dt]?frac\{(\d+)\}\{(\d+)\}", text)
    if match is None:
        match = re.fullmatch(r"(\d+)/(\d+)", text)
    if match is not None:
        den = int(match.group(2))
        if den == 0:
            return None
        return sign * fractions.Fraction(int(match.group(1)), den)
    if re.fullmatch(r"\d+(\.\d+)?|\.\d+", text):
        return sign * fractions.Fraction(text)
    return None


def answer_forms(answer):
    """Lists equivalent surface forms of an answer.

    Useful to check that grading compares values, not strings: every form
    has the same exact rational value as `answer`.

    Args:
        answer: str (any form `answer_value` reads), int or `Fraction`.

    Returns:
        A list of distinct strings, `answer` itself first when it is a str,
        then the reduced form, an unreduced fraction, a decimal (when the
        value has a short one), a `\\dfrac` form and a `x=` form.

    Raises:
        ValueError: if `answer` cannot be read.

    Example:

    >>> answer_forms("1.5")
    ['1.5', '\\\\frac{3}{2}', '\\\\frac{6}{4}', '\\\\dfrac{3}{2}', 'x=1.5']
    """
    if isinstance(answer, (int, fractions.Fraction)) and not isinstance(
        answer, bool
    ):
        value = fractions.Fraction(answer)
    else:
        value = answer_value(answer)
    if value is None:
        raise ValueError(
            "`answer` must be an int, a Fraction, or a str such as '5', "
            f"'-1.5', '\\frac{{3}}{{2}}' or 'x=5'. Received: {answer!r}"
        )
    forms = [answer] if isinstance(answer, str) else []
    reduced = _fraction(value)
    forms.append(reduced)
    num, den = abs(value.numerator), value.denominator
    sign = "-" if value < 0 else ""
    forms.append(f"{sign}\\frac{{{2 * num}}}{{{2 * den}}}")
    decimal = _decimal(value)
    if decimal is not None:
        forms.append(decimal)
    forms.append(reduced.replace("\\frac", "\\dfrac"))
    base = reduced if decimal is None or den == 1 else decimal
    forms.append("x=" + base)
    unique = []
    for form in forms:
        if form not in unique:
            unique.append(form)
    return unique


def answer_form_kinds(answer):
    """Names the surface-form kinds of an answer string.

    Args:
        answer: str. An answer in one of the task's forms.

    Returns:
        A sorted list drawn from `"integer"`, `"fraction"` (reduced),
        `"unreduced_fraction"`, `"decimal"`, `"negative"` and `"equation"`
        (a `x=` prefix); empty when `answer` cannot be read.

    Example:

    >>> answer_form_kinds("x=-\\\\frac{6}{4}")
    ['equation', 'negative', 'unreduced_fraction']
    """
    if answer_value(answer) is None:
        return []
    kinds = []
    text = answer.replace(" ", "")
    if re.match(r"^[a-z]=", text):
        kinds.append("equation")
        text = text[2:]
    if text.startswith("-"):
        kinds.append("negative")
        text = text[1:]
    match = re.fullmatch(r"\\[dt]?frac\{(\d+)\}\{(\d+)\}|(\d+)/(\d+)", text)
    if match is not None:
        num = int(match.group(1) or match.group(3))
        den = int(match.group(2) or match.group(4))
        reduced = math.gcd(num, den) == 1 and den != 1
        kinds.append("fraction" if reduced else "unreduced_fraction")
    elif "." in text:
        kinds.append("decimal")
    else:
        kinds.append("integer")
    return sorted(kinds)


def _check_choices(name, values, allowed):
    if values is None:
        return list(allowed)
    values = list(values)
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise ValueError(
            f"`{name}` must be a non-empty sequence drawn from {allowed}. "
            f"Received: {values!r}"
        )
    return values


def _fraction(value):
    num, den = abs(value.numerator), value.denominator
    sign = "-" if value < 0 else ""
    if den == 1:
        return f"{sign}{num}"
    return f"{sign}\\frac{{{num}}}{{{den}}}"


def _decimal(value):
    """Returns the exact decimal of `value` with at most 3 places, or None."""
    for places in range(4):
        scaled = value * 10**places
        if scaled.denominator == 1:
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            sign = "-" if value < 0 else ""
            if places == 0:
                return sign + digits
            return f"{sign}{digits[:-places]}.{digits[-places:]}"
    return None


def _finish(rng, num, den, lines, coarse, allow_equation=False):
    """Ends a solution at the value `num / den` in a random surface form.

    The computation arrives at the (possibly unreduced) fraction
    `num / den` (`lines` one operation each, `coarse` the same computation
    in fewer lines); the reference answer stops there, reduces it, or
    turns it into a decimal, chosen at random, and the lines show the
    steps to that form (the coarse ones skip the gcd). Always consumes the
    same random draws.

    Returns:
        `(steps, answer)`: a dict from style (`"detailed"`, `"coarse"`) to
        its solution's lines, each ending with a newline, without the
        final `\\boxed{}`; and the answer.
    """
    if den < 0:
        num, den = -num, -den
    value = fractions.Fraction(num, den)
    form = rng.random()
    equation = rng.random() < 0.3
    sign = "-" if num < 0 else ""
    raw = f"{sign}\\frac{{{abs(num)}}}{{{den}}}"
    lines, coarse = list(lines), list(coarse)
    decimal = _decimal(value)
    if value.denominator == 1:
        answer = str(value.numerator)
        ending = [f"{raw} = {answer}"] if den != 1 else []
    elif form < 0.3 and value.denominator != den:
        answer = raw
        ending = []
    elif form < 0.6 and decimal is not None:
        answer = decimal
        ending = [f"{raw} = {decimal}"]
    else:
        answer = _fraction(value)
        ending = []
        if value.denominator != den:
            g = math.gcd(abs(num), den)
            lines.append(f"\\gcd({abs(num)}, {den}) = {g}")
            ending = [f"{raw} = {answer}"]
    if allow_equation and equation:
        answer = "x=" + answer
    steps = {"detailed": lines + ending, "coarse": coarse + ending}
    return {k: "".join(x + "\n" for x in v) for k, v in steps.items()}, answer


def _arithmetic(rng, level):
    """A chain of integer operations, evaluated left to right."""
    top = (9, 12, 20, 30, 50)[level - 1]
    value = rng.randint(1, top)
    expression = str(value)
    lines = []
    for step in range(level):
        op = rng.choice(("+", "-", "\\times") if level > 1 else ("+", "-"))
        operand = rng.randint(2, 9) if op == "\\times" else rng.randint(1, top)
        if op == "\\times" and step > 0:
            expression = f"({expression})"
        expression = f"{expression} {op} {operand}"
        new = {
            "+": value + operand,
            "-": value - operand,
            "\\times": value * operand,
        }[op]
        lines.append(f"{value} {op} {operand} = {new}")
        value = new
    problem = f"Compute ${expression}$."
    coarse = [f"{expression} = {value}"]
    return (problem, *_finish(rng, value, 1, lines, coarse))


def _fraction_sum(rng, level):
    """Adds or subtracts two fractions."""
    top = (6, 8, 10, 12, 15)[level - 1]
    b = rng.randint(2, top)
    d = b if level <= 2 else rng.randint(2, top)
    a = rng.randint(1, b + level)
    c = rng.randint(1, d + level)
    op = "+" if level < 3 or rng.random() < 0.5 else "-"
    left = f"\\frac{{{a}}}{{{b}}} {op} \\frac{{{c}}}{{{d}}}"
    problem = f"Compute ${left}$."
    if b == d:
        num = a + c if op == "+" else a - c
        den = b
        lines = [f"{a} {op} {c} = {num}"]
        coarse = [f"{left} = \\frac{{{num}}}{{{den}}}"]
    else:
        x, y, den = a * d, c * b, b * d
        num = x + y if op == "+" else x - y
        lines = [
            f"{a} \\times {d} = {x}",
            f"{c} \\times {b} = {y}",
            f"{b} \\times {d} = {den}",
            f"{x} {op} {y} = {num}",
        ]
        coarse = [
            f"{left} = \\frac{{{x} {op} {y}}}{{{den}}} = "
            f"\\frac{{{num}}}{{{den}}}"
        ]
    return (problem, *_finish(rng, num, den, lines, coarse))


def _word_total(rng, level):
    """Groups of items, some given away."""
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    groups = rng.randint(2, 2 + 2 * level)
    each = rng.randint(2, (5, 9, 12, 15, 20)[level - 1])
    total = groups * each
    gone = rng.randint(1, total - 1)
    problem = (
        f"{name} has {groups} bags of {each} {item} and gives away {gone}. "
        f"How many {item} are left?"
    )
    lines = [f"{groups} \\times {each} = {total}", f"{total} - {gone} = "]
    lines[-1] += str(total - gone)
    coarse = [f"{groups} \\times {each} - {gone} = {total - gone}"]
    return (problem, *_finish(rng, total - gone, 1, lines, coarse))


def _word_share(rng, level):
    """Items shared equally: the answer is often not an integer."""
    name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    people = rng.choice((2, 4, 5, 8, 10) if level < 4 else (3, 4, 6, 8, 12))
    total = rng.randint(people + 1, (20, 30, 40, 60, 90)[level - 1])
    lines, coarse = [], []
    if level >= 3:
        extra = rng.randint(2, 9)
        problem = (
            f"{name} has {total} {item}, buys {extra} more and shares them "
            f"equally among {people} friends. How many does each get?"
        )
        lines.append(f"{total} + {extra} = {total + extra}")
        coarse.append(
            f"\\frac{{{total} + {extra}}}{{{people}}} = "
            f"\\frac{{{total + extra}}}{{{people}}}"
        )
        total += extra
    else:
        problem = (
            f"{name} shares {total} {item} equally among {people} friends. "
            "How many does each get?"
        )
    return (problem, *_finish(rng, total, people, lines, coarse))


def _linear(rng, level):
    """Solves `a x + b = c` (or `a x + b = c x + d` at level 5)."""
    top = (9, 9, 12, 15, 15)[level - 1]
    a = 1 if level == 1 else rng.randint(2, 9)
    if level >= 3 and rng.random() < 0.5:
        a = -a
    b = rng.randint(-top, top) if level >= 3 else rng.randint(1, top)
    b = b or 1
    if level <= 2:
        c = a * rng.randint(1, top) + b
    else:
        c = rng.randint(-3 * top, 3 * top)
    lines = []
    if level == 5:
        k = rng.randint(1, 5)
        a2 = a + k if a + k != 0 else a + k + 1
        problem_eq = f"{_term(a2)} {_signed(b)} = {_term(a2 - a)} {_signed(c)}"
        lines.append(f"{a2}x - {a2 - a}x = {a}x")
    else:
        problem_eq = f"{_term(a)} {_signed(b)} = {c}"
    problem = f"Solve for $x$: ${problem_eq}$."
    lines.append(f"{c} - {_paren(b)} = {c - b}")
    lines.append(f"{_term(a)} = {c - b}")
    # Collecting the x terms (level 5) and moving b are one coarse line.
    coarse = [f"{_term(a)} = {c} - {_paren(b)} = {c - b}"]
    if a != 1:
        lines.append(f"x = \\frac{{{c - b}}}{{{a}}}")
        coarse.append(lines[-1])
    return (
        problem,
        *_finish(rng, c - b, a, lines, coarse, allow_equation=True),
    )


def _think_of_number(rng, level):
    """A linear equation told in words."""
    a = rng.randint(2, (3, 5, 7, 9, 12)[level - 1])
    x = rng.randint(1, (9, 12, 15, 20, 30)[level - 1])
    b = rng.randint(1, 20)
    if level >= 4:
        x = fractions.Fraction(rng.randint(1, 40), a)
    # a * x is an integer even when x = k / a is not.
    total = int(a * x + b)
    problem = f"{a} times a number, plus {b}, is {total}. What is the number?"
    lines = [f"{total} - {b} = {total - b}", f"{a}x = {total - b}"]
    coarse = [f"{a}x = {total} - {b} = {total - b}"]
    return (
        problem,
        *_finish(rng, total - b, a, lines, coarse, allow_equation=True),
    )


def _remainder(rng, level):
    """The remainder of a division."""
    d = rng.randint(2, (5, 9, 9, 12, 15)[level - 1])
    n = rng.randint(d + 1, (30, 60, 100, 300, 999)[level - 1])
    q, r = divmod(n, d)
    problem = f"What is the remainder when ${n}$ is divided by ${d}$?"
    lines = [f"{d} \\times {q} = {d * q}", f"{n} - {d * q} = {r}"]
    coarse = [f"{n} - {d} \\times {q} = {r}"]
    return (problem, *_finish(rng, r, 1, lines, coarse))


def _gcd(rng, level):
    """The greatest common divisor, by Euclid's algorithm."""
    g = rng.randint(2, (6, 9, 12, 15, 20)[level - 1])
    top = (5, 8, 10, 12, 15)[level - 1]
    p, q = rng.sample(range(1, top + 1), 2)
    a, b = max(p, q) * g, min(p, q) * g
    problem = f"Find $\\gcd({a}, {b})$."
    lines, chain = [], [f"\\gcd({a}, {b})"]
    while b:
        q, r = divmod(a, b)
        lines.append(f"{a} = {q} \\times {b} + {r}")
        a, b = b, r
        chain.append(f"\\gcd({a}, {b})" if b else str(a))
    coarse = [" = ".join(chain)]
    return (problem, *_finish(rng, a, 1, lines, coarse))


def _probability(rng, level):
    """The chance of drawing one color from a bag."""
    count = 2 if level < 3 else 3
    colors = rng.sample(_COLORS, count)
    top = (6, 9, 12, 15, 20)[level - 1]
    sizes = [rng.randint(1, top) for _ in colors]
    parts = [f"{n} {c}" for n, c in zip(sizes, colors)]
    bag = ", ".join(parts[:-1]) + " and " + parts[-1]
    pick = rng.randrange(count)
    problem = (
        f"A bag has {bag} marbles. What is the probability that a random "
        f"marble is {colors[pick]}?"
    )
    total = sum(sizes)
    lines = [" + ".join(map(str, sizes)) + f" = {total}"]
    lines.append(f"P = \\frac{{{sizes[pick]}}}{{{total}}}")
    coarse = [
        f"P = \\frac{{{sizes[pick]}}}{{{' + '.join(map(str, sizes))}}} = "
        + lines[-1][len("P = ") :]
    ]
    return (problem, *_finish(rng, sizes[pick], total, lines, coarse))


def _outfits(rng, level):
    """Counts outfits by the multiplication principle."""
    count = 2 if level < 4 else 3
    kinds = rng.sample(_CLOTHES, count)
    sizes = [rng.randint(2, (4, 6, 8, 9, 9)[level - 1]) for _ in kinds]
    listing = ", ".join(f"{n} {k}" for n, k in zip(sizes, kinds))
    problem = f"In how many ways can you pick one of each of {listing}?"
    lines, value = [], sizes[0]
    for n in sizes[1:]:
        lines.append(f"{value} \\times {n} = {value * n}")
        value *= n
    coarse = [" \\times ".join(map(str, sizes)) + f" = {value}"]
    return (problem, *_finish(rng, value, 1, lines, coarse))


def _term(a):
    if a == 1:
        return "x"
    if a == -1:
        return "-x"
    return f"{a}x"


def _signed(b):
    return f"+ {b}" if b >= 0 else f"- {-b}"


def _paren(b):
    return f"({b})" if b < 0 else str(b)


_GENERATORS = {
    "Prealgebra": (_arithmetic, _fraction_sum, _word_total, _word_share),
    "Algebra": (_linear, _think_of_number),
    "Number Theory": (_remainder, _gcd),
    "Counting & Probability": (_probability, _outfits),
}
