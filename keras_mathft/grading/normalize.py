"""MATH-style answer normalization, one commented rule at a time."""

import re

from keras_mathft.grading.memo import bounded_memo

# Answers longer than this are not normalized rule by rule (only trimmed):
# no real final answer is this long, and it keeps every regex cheap.
MAX_ANSWER_CHARS = 1000

# Unit words dropped when they trail a number ("5 cm", "12 inches^2").
_UNITS = (
    "degrees?|cents?|dollars?|units?|sq|square|cubic|feet|foot|ft|inches|inch"
    "|in|cm|mm|km|meters?|m|miles?|mph|hours?|minutes?|seconds?|days?"
    "|weeks?|years?|pounds?|lbs?|ounces?|oz|grams?|g|kg|liters?|ml"
    "|gallons?|people|students|ways|points?|percent|yards?"
)
# Bare (un-wrapped) unit words: single letters and "in" are left out because
# they are far more often variables or `\\in` than units.
_BARE_UNITS = "|".join(
    u for u in _UNITS.split("|") if u not in ("in", "m", "g", "sq", "ft")
)
_TRAILING_UNIT_RE = re.compile(
    r"(?<=[\d}\s)])\s*(?:\\(?:text|mbox|mathrm)\{\s*(?:" + _UNITS + r")\s*\}"
    r"|(?:" + _BARE_UNITS + r")(?![a-zA-Z]))(?:\^\{?[23]\}?)?\s*$"
)
_TEXT_RE = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf|rm)\s*\{")
_FRAC_SHORTHAND_RE = re.compile(r"\\frac\s*(\d|\{[^{}]*\})\s*(\d|\{[^{}]*\})")
_FRAC_SHORTHAND_SPACED_RE = re.compile(r"\\frac\s+(\d)\s*(\d)")
_SQRT_SHORTHAND_RE = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z])")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LABEL_RE = re.compile(r"^([a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)\s*=(?!=)")
_CHOICE_RE = re.compile(r"^\(([A-Ea-e])\)$")
_SIMPLE_SLASH_RE = re.compile(r"^(-?\d+)/(\d+)$")
_COMMAND_GAP_RE = re.compile(r"(\\[a-zA-Z]+) +(?=[a-zA-Z])")


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


def normalize_answer(s):
    """Returns a canonical string form of an answer (MATH conventions).

    Two answers with the same normalized form are treated as equivalent
    without any further parsing. Rules, in order (each is a line below):

    1. Non-strings become `""`; surrounding spaces, `$` and a final `.` go.
    2. Spacing commands (`\\!`, `\\,`, `\\;`, `\\:`, `\\ `, `~`) become
       spaces; `\\left`, `\\right`, `\\displaystyle` are dropped.
    3. `\\dfrac` and `\\tfrac` become `\\frac`; `\\le`/`\\ge` become
       `\\leq`/`\\geq`.
    4. Degree marks (`^\\circ`, `^{\\circ}`, `\\circ`, `°`) are dropped.
    5. Percent signs (`\\%`, `%`) and dollar signs (`\\$`) are dropped: a
       percentage is compared by its number (`10\\%` equals `10`, not 0.1).
    6. Trailing units (`\\text{ cm}^2`, `inches`, `degrees`, ...) after a
       number are dropped, then `\\text{...}`/`\\mbox{...}`/`\\mathrm{...}`
       wrappers are replaced by their content.
    7. A leading `x=`-style label (one letter, optionally subscripted, or
       one command such as `\\theta`) is dropped when it is the only `=`.
    8. A leading `x\\in` is dropped (`x \\in [-2,7]` is `[-2,7]`).
    9. Thousands separators are removed when the whole answer is one
       number in groups of three (`10,080` is `10080`).
    10. `.5` becomes `0.5` and `-.5` becomes `-0.5`.
    11. `\\frac12`, `\\frac 59`, `\\frac9{19}` get their braces back;
        `\\sqrt2` becomes `\\sqrt{2}`.
    12. Spaces are removed except one between a command and a letter
        (`\\cot x` stays readable to the parser).
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


@bounded_memo(
    max_entries=65536, max_chars=4_000_000, max_key_chars=MAX_ANSWER_CHARS
)
def _normalize(s):
    """`normalize_answer` of a stripped string of bounded length."""
    s = s.replace("\n", " ").strip().strip("$").strip()
    s = s.rstrip(".").strip() if not s.endswith("..") else s
    # Rule 2. (`\\\\`, the matrix row break, is protected from `\\ `.)
    s = s.replace("\\\\", "\0")
    for spacing in ("\\!", "\\,", "\\;", "\\:", "\\ ", "~", "\\quad"):
        s = s.replace(spacing, " ")
    s = s.replace("\0", "\\\\")
    s = re.sub(r"\\(?:left|right|displaystyle|big|Big|bigg)(?![a-zA-Z])", "", s)
    # Rule 3.
    s = re.sub(r"\\[dt]frac(?![a-zA-Z])", r"\\frac", s)
    s = re.sub(r"\\le(?![a-zA-Z])", r"\\leq", s)
    s = re.sub(r"\\ge(?![a-zA-Z])", r"\\geq", s)
    s = s.replace("≤", "\\leq").replace("≥", "\\geq")
    # Rule 4.
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", s)
    s = s.replace("\\circ", "").replace("°", "")
    # Rule 5.
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "")
    s = s.replace("$", "").strip()
    # Rule 6.
    for _ in range(3):
        stripped = _TRAILING_UNIT_RE.sub("", s).strip()
        if stripped == s or not stripped:
            break
        s = stripped
    s = _unwrap_text(s).strip()
    s = s.rstrip(".").strip() if not s.endswith("..") else s
    # Rule 7.
    match = _LABEL_RE.match(s)
    if match and s.count("=") == 1 and not re.search(r"[<>]", s):
        s = s[match.end() :].strip()
    # Rule 8.
    s = re.sub(r"^[a-zA-Z]\s*\\in(?![a-zA-Z])\s*", "", s)
    # Rule 9.
    compact = s.replace(" ", "")
    if _THOUSANDS_RE.match(compact):
        s = compact.replace(",", "")
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
    s = _SQRT_SHORTHAND_RE.sub(r"\\sqrt{\1}", s)
    # Rule 12.
    s = re.sub(r"\s+", " ", s).strip()
    s = _COMMAND_GAP_RE.sub(r"\1\0", s).replace(" ", "").replace("\0", " ")
    # Rule 13.
    match = _SIMPLE_SLASH_RE.match(s)
    if match:
        s = "\\frac{%s}{%s}" % (match.group(1), match.group(2))
    match = _CHOICE_RE.match(s)
    if match:
        s = match.group(1).upper()
    return s
