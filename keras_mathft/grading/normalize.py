"""MATH-style answer normalization, one commented rule at a time."""

import re

from keras_mathft.grading import reading
from keras_mathft.grading.memo import bounded_memo

# Answers longer than this are not normalized rule by rule (only trimmed):
# no real final answer is this long, and it keeps every regex cheap.
MAX_ANSWER_CHARS = 1000

# Unit words dropped when they trail a number ("5 cm", "12 inches^2").
_UNITS = (
    "degrees?|cents?|dollars?|units?|sq|square|cubic|feet|foot|ft|inches|inch"
    "|in|cm|mm|km|meters?|m|miles?|mph|hours?|minutes?|seconds?|days?"
    "|weeks?|years?|pounds?|lbs?|ounces?|oz|grams?|g|kg|liters?|ml"
    "|gallons?|people|students|ways|points?|percent(?:age)?|pct|yards?"
    "|yuan|euros?"
)
# Bare (un-wrapped) unit words: single letters and "in" are left out because
# they are far more often variables or `\\in` than units.
_BARE_UNITS = "|".join(
    u for u in _UNITS.split("|") if u not in ("in", "m", "g", "sq", "ft")
)
# Commands whose braced argument is plain text (or a styled symbol).
_TEXT_COMMANDS = (
    r"text(?:bf|it|normal|rm|sf|tt|up)?|mbox|math(?:rm|bf|it|sf|normal)"
    r"|rm|boldsymbol|bm"
)
_TRAILING_UNIT_RE = re.compile(
    r"(?<=[\d}\s)])\s*(?:\\(?:"
    + _TEXT_COMMANDS
    + r")\{\s*(?:"
    + _UNITS
    + r")\s*\}|(?:"
    + _BARE_UNITS
    + r")(?![a-zA-Z]))(?:\^\{?[23]\}?|[²³])?\s*$"
)
_TEXT_RE = re.compile(r"\\(?:" + _TEXT_COMMANDS + r")\s*\{")
# Shorthands whose unbraced digit TeX reads as the whole argument get
# their braces; a digit with digits or a point right after it does not
# (`\frac123` renders 1/2 then 3, `\sqrt23` renders sqrt(2) then 3):
# the parser refuses those (see `parse.py`), and bracing them would make
# them equal to what TeX renders or to what the writer likely meant.
_ONE_DIGIT = r"\d(?![\d.])"
_FRAC_SHORTHAND_RE = re.compile(
    r"\\frac\s*(\d|\{[^{}]*\})\s*(" + _ONE_DIGIT + r"|\{[^{}]*\})"
)
_FRAC_SHORTHAND_SPACED_RE = re.compile(r"\\frac\s+(\d)\s*(" + _ONE_DIGIT + ")")
_SQRT_SHORTHAND_RE = re.compile(r"\\sqrt\s*(" + _ONE_DIGIT + "|[a-zA-Z])")
# Digits in groups of three with no space after the commas (`32, 349` is a
# list); a leading `0,` is never a thousands group.
_THOUSANDS_RE = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_CHOICE_RE = re.compile(r"^\(([A-Ea-e])\)$")
_SIMPLE_SLASH_RE = re.compile(r"^(-?\d+)/(\d+)$")
_SPACED_MIXED_RE = re.compile(r"^(-?\d+)\s+(\d+)\s*/\s*(\d+)$")
_COMMAND_GAP_RE = re.compile(r"(\\[a-zA-Z]+) +(?=[a-zA-Z])")
# Delimiter sizing: `\left`, `\right`, `\middle`, `\big`, `\Bigl`,
# `\biggr`, `\Biggm`, ...
_SIZING = r"\\(?:left|right|middle|[bB]igg?[lrm]?)(?![a-zA-Z])"
# A sized null delimiter (`\left.`, `\right.`) stands for nothing; its
# `.` is no decimal point (`\left.5\right.` is 5, not 0.5).
_NULL_DELIMITER_RE = re.compile(_SIZING + r"\s*\.")
_SIZING_RE = re.compile(_SIZING + r"|\\displaystyle(?![a-zA-Z])")
# Named delimiters, as the characters they print.
_DELIMITER_NAMES = {
    "lbrace": "\\{",
    "rbrace": "\\}",
    "lbrack": "[",
    "rbrack": "]",
    "lvert": "|",
    "rvert": "|",
    "vert": "|",
    "lVert": "\\|",
    "rVert": "\\|",
    "Vert": "\\|",
}
_DELIMITER_NAME_RE = re.compile(
    r"\\(" + "|".join(_DELIMITER_NAMES) + r")(?![a-zA-Z])"
)
# Scientific notation: a number's digits immediately followed by `e` or
# `E` and an optionally signed integer (`1e3`, `2.5e-4`, `6.02E+23`).
_SCIENTIFIC_RE = re.compile(
    r"(?<![\w.\\^_])(\d+(?:\.\d*)?|\.\d+)([eE])([-+]?\d+)(?![\w.^!])"
)
_COMMAND_NAME_RE = re.compile(r"\\[a-zA-Z]+")


def _unwrap_text(s):
    """Replaces `\\text{...}`-like groups by their content."""
    for _ in range(20):
        match = _TEXT_RE.search(s)
        if match is None:
            return s
        depth, pos = 1, match.end()
        while pos < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[pos], 0)
            pos += 1
        inner = s[match.end() : pos - 1] if depth == 0 else s[match.end() :]
        s = s[: match.start()] + inner + s[pos:]
    return s


def _reads_scientific(s):
    """True when `s` holds scientific notation and no other letters.

    With variables around, `2e-1` is as likely 2e - 1 as 0.2, so `e`
    stays a variable there.
    """
    if not _SCIENTIFIC_RE.search(s):
        return False
    rest = _COMMAND_NAME_RE.sub(" ", _SCIENTIFIC_RE.sub(" ", s))
    return re.search(r"[a-zA-Z]", rest) is None


def _power_of_ten(match):
    exponent = match.group(3).lstrip("+")
    return f"{match.group(1)}\\times10^{{{exponent}}}"


def normalize_answer(s):
    """Returns a canonical string form of an answer (MATH conventions).

    Two answers with the same normalized form are treated as equivalent
    without any further parsing. Rules, in order (each is a line below):

    1. Non-strings become `""`; surrounding spaces, `$` and a final `.` go.
    2. Doubly escaped commands (`\\\\frac`) are read as single outside
       matrices. Thousands joiners go (`10,\\!080`, `11,\\! 111`,
       `14{,}916`, `10\\,000`); spacing commands (`\\,`, `\\;`, `\\:`,
       `\\ `, `~`, `\\quad`) become spaces; the null delimiters
       `\\left.` and `\\right.` go whole (their `.` is no decimal
       point), then `\\left`, `\\right`, `\\middle`, the `\\big`
       family (`\\bigl`, `\\Bigr`, `\\biggl`, ...) and
       `\\displaystyle` are dropped; `\\lbrace`/`\\rbrace` become
       `\\{`/`\\}`, `\\lvert`/`\\rvert`/`\\vert` become `|`,
       `\\lbrack`/`\\rbrack` become `[`/`]`.
    3. `\\dfrac`, `\\tfrac`, `\\cfrac` become `\\frac`; `\\le`/`\\ge`
       (and `\\leqslant`/`\\geqslant`, `≤`, `≥`) become `\\leq`/`\\geq`,
       `\\ne` and `≠` become `\\neq`, `≈` becomes `\\approx`, and the
       Unicode minus `−` (U+2212) becomes `-`.
    4. Degree marks (`^\\circ`, `^{\\circ}`, `\\circ`, `°`) are dropped.
    5. Percent signs (`\\%`, `%`) and currency signs (`\\$`, `€`, `£`,
       `¥`) are dropped: a percentage is compared by its number (`10\\%`
       equals `10`, not 0.1).
    6. Trailing units (`\\text{ cm}^2`, `\\textbf{ meters}`, `inches`,
       `pct`, ...) after a number are dropped, then `\\text{...}`-like
       wrappers (`\\textbf`, `\\textnormal`, `\\mbox`, `\\mathrm`, ...)
       are replaced by their content. Then `and`/`or` after a number or a
       closing bracket, and every `;`, become list commas (`6 \\text{ and }
       8` is `6,8`); braces around the whole answer go (`{1,3}` is `1,3`,
       as it renders).
    7. A leading `x=`-style label (one letter, optionally subscripted, or
       one command such as `\\theta`) is dropped when it is the only `=`
       and there is no `<` or `>`. (This rule, the separators of rule 6
       and the `x\\in` of rule 8 are rules 1 to 3 of `reading.py`.)
    8. A leading `x\\in` is dropped (`x \\in [-2,7]` is `[-2,7]`). Then,
       in an answer with no letters besides command names, scientific
       notation (digits immediately followed by `e` or `E` and an
       optionally signed integer, with no space: `1e3`, `2.5e-4`) is
       written `1\\times10^{3}`; elsewhere `e` stays a variable (`2e - 1`,
       `x+2e-1`, `7p+4e`).
    9. Thousands separators are removed when the whole answer is one
       number in groups of three with no space after a comma and not
       starting `0,` (`10,080` is `10080`; `32, 349` and `0,111` are lists).
    10. `.5` becomes `0.5` and `-.5` becomes `-0.5`.
    11. `\\frac12`, `\\frac 59`, `\\frac9{19}` get their braces back;
        `\\sqrt2` becomes `\\sqrt{2}`. An unbraced argument is one
        digit, as in TeX, so `\\frac123` and `\\sqrt23` (1/2 then 3,
        sqrt(2) then 3) keep theirs, and the parser refuses them.
    12. `1 1/2` becomes the mixed number `1\\frac{1}{2}`, a space ends a
        one-digit exponent or subscript (`2^6 3^5` is `2^{6}3^{5}`;
        `2^10 3^5` is TeX's `2^{1}0 3^5`, refused), and spaces are
        removed except one between a command and a letter (`\\cot x`
        stays readable to the parser); a product that now looks like
        scientific notation is written with `*` (`2e - 1` is `2*e-1`).
    13. `a/b` with integer `a`, `b` becomes `\\frac{a}{b}`; a lone choice
        `(C)` becomes `C`.

    Args:
        s: str. An answer, typically from `extract_answer`.

    Returns:
        The normalized string (possibly empty).

    Example:

    >>> normalize_answer(r"\\dfrac12")
    '\\\\frac{1}{2}'
    >>> normalize_answer(r"x = 10,\\!080 \\text{ cm}")
    '10080'
    """
    # Rule 1.
    if not isinstance(s, str):
        return ""
    s = s.strip()
    if len(s) > MAX_ANSWER_CHARS:
        return s
    return _normalize(s)


def clear_normalize_cache():
    """Empties `normalize_answer`'s memo (e.g. to time cold calls)."""
    _normalize.cache_clear()


@bounded_memo(
    max_entries=65536, max_chars=4_000_000, max_key_chars=MAX_ANSWER_CHARS
)
def _normalize(s):
    """`normalize_answer` of a stripped string of bounded length."""
    s = s.replace("\n", " ").strip().strip("$").strip()
    s = s.rstrip(".").strip() if not s.endswith("..") else s
    s = _symbols(_spacing(s))
    s = _without_units(s)
    # Rules 6b to 8: list separators, labels and `x \in` are reading
    # rules (reading.py); then scientific notation.
    s = reading.comma_separated(s)
    s = reading.without_label(s)
    s = reading.without_membership(s)
    if _reads_scientific(s):
        s = _SCIENTIFIC_RE.sub(_power_of_ten, s)
    return _layout(_numbers(s))


def _spacing(s):
    """Rule 2: escapes, thousands joiners, spacing, delimiters."""
    # (`\\\\`, the matrix row break, is protected from `\\ `.)
    if "\\begin" not in s:
        # Outside a matrix, `\\\\frac` is a doubly escaped `\\frac`.
        s = re.sub(r"(?<!\\)\\\\(?=[a-zA-Z])", r"\\", s)
    s = s.replace("\\\\", "\0")
    # Thousands joiners: `10,\!080`, `11,\! 111`, `14{,}916`, `10\,000`.
    s = re.sub(r",\\!\s*", ",", s).replace("\\!", "")
    s = re.sub(r"\s*\{\s*,\s*\}\s*", ",", s)
    s = re.sub(r"(?<=\d)\\,(?=\d{3}(?!\d))", "", s)
    for spacing in ("\\,", "\\;", "\\:", "\\ ", "~", "\\qquad", "\\quad"):
        s = s.replace(spacing, " ")
    s = s.replace("\0", "\\\\")
    s = _NULL_DELIMITER_RE.sub(" ", s)
    s = _SIZING_RE.sub("", s)
    return _DELIMITER_NAME_RE.sub(lambda m: _DELIMITER_NAMES[m.group(1)], s)


def _symbols(s):
    """Rules 3 to 5: one spelling per symbol; no degrees, %, $."""
    # Rule 3.
    s = re.sub(r"\\[dtc]frac(?![a-zA-Z])", r"\\frac", s)
    s = re.sub(r"\\(le|ge)(?:qslant)?(?![a-zA-Z])", r"\\\1q", s)
    s = re.sub(r"\\ne(?![a-zA-Z])", r"\\neq", s)
    s = s.replace("≤", "\\leq").replace("≥", "\\geq").replace("≠", "\\neq")
    s = s.replace("≈", "\\approx").replace("\u2212", "-")
    # Rule 4.
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", s)
    s = s.replace("\\circ", "").replace("°", "")
    # Rule 5.
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "")
    for currency in ("$", "€", "£", "¥"):
        s = s.replace(currency, "")
    return s.strip()


def _without_units(s):
    """Rule 6: no trailing units, `\\text{}` unwrapped."""
    for _ in range(3):
        stripped = _TRAILING_UNIT_RE.sub("", s).strip()
        if stripped == s or not stripped:
            break
        s = stripped
    s = _unwrap_text(s).strip()
    return s.rstrip(".").strip() if not s.endswith("..") else s


def _numbers(s):
    """Rules 9 to 11: thousands, leading points, shorthands."""
    # Rule 9.
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    # Rule 10.
    s = re.sub(r"(^|[^\d}])\.(\d)", r"\g<1>0.\2", s)
    # Rule 11.
    s = _FRAC_SHORTHAND_SPACED_RE.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORTHAND_RE.sub(
        lambda m: (
            "\\frac{%s}{%s}" % (m.group(1).strip("{}"), m.group(2).strip("{}"))
        ),
        s,
    )
    return _SQRT_SHORTHAND_RE.sub(r"\\sqrt{\1}", s)


def _layout(s):
    """Rules 12 and 13: mixed numbers, spaces, `a/b`, choices."""
    # Rule 12. A space ends a one-digit exponent or subscript (`2^6 3^5`
    # is not `2^{63}`), and `1 1/2` is a mixed number, not 11/2. An
    # unbraced `^10` is TeX's `^{1}0` (parse.py refuses it), so a space
    # after it braces nothing.
    s = _SPACED_MIXED_RE.sub(r"\1\\frac{\2}{\3}", s)
    s = re.sub(r"([\^_])(\d)\s+(?=\S)", r"\1{\2}", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = _COMMAND_GAP_RE.sub(r"\1\0", s).replace(" ", "").replace("\0", " ")
    if _reads_scientific(s):
        # `2e - 1` lost its spaces: its product is written out, so that
        # normalizing again does not read it as 0.2.
        s = _SCIENTIFIC_RE.sub(r"\1*\2\3", s)
    # Rule 13.
    match = _SIMPLE_SLASH_RE.match(s)
    if match:
        s = "\\frac{%s}{%s}" % (match.group(1), match.group(2))
    match = _CHOICE_RE.match(s)
    if match:
        s = match.group(1).upper()
    return s
