"""Reading the final answer out of a solution text."""

import re

# Longer inputs are cut to their tail: the final answer lives at the end and
# the scans below stay linear in this bound.
_MAX_SCAN_CHARS = 20_000

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_FINAL_ANSWER_RE = re.compile(r"final answer is\s*:?", re.IGNORECASE)
_HOPE = "i hope it is correct"
_ANSWER_IS_RE = re.compile(r"the answer is\s*:?\s*", re.IGNORECASE)
_HASHES_RE = re.compile(r"####\s*")


def _brace_pairs(text):
    """Maps each unescaped `{` to its matching `}`, in one linear pass."""
    pairs, stack = {}, []
    for match in re.finditer(r"(?<!\\)[{}]", text):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    return pairs


def _last_boxed(text):
    pairs = None
    for match in reversed(list(_BOX_RE.finditer(text))):
        pos = match.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos < len(text) and text[pos] == "{":
            if pairs is None:
                pairs = _brace_pairs(text)
            if pos in pairs:
                return text[pos + 1 : pairs[pos]]
            continue
        # `\boxed 5` / `\boxed5`: the argument runs to the next `$`, space
        # or newline (a trailing `.` or `,` is punctuation).
        bare = re.match(r"[^\s$]+", text[pos : pos + 200])
        if bare and (pos > match.end() or text[pos].isdigit()):
            answer = bare.group(0).rstrip(".,")
            if answer:
                return answer
    return None


def _clean_tail(answer):
    """Trims a phrase-introduced answer down to the answer itself."""
    answer = answer.strip().splitlines()[0] if answer.strip() else ""
    answer = answer.strip()
    # The phrase may itself wrap the answer in math delimiters.
    for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left):
            end = answer.find(right, len(left))
            if end > 0:
                answer = answer[len(left) : end]
                break
    answer = answer.strip().rstrip(".").strip()
    if answer.startswith("$") and answer.endswith("$"):
        answer = answer.strip("$").strip()
    return answer or None


def extract_answer(solution_text):
    """Returns the final answer of a solution, or `None` when it has none.

    Looks, in order, for the content of the last `\\boxed{...}` or
    `\\fbox{...}` (braces matched with nesting, `\\boxed 5` accepted), then
    the Minerva phrase "Final Answer: The final answer is ...", then "The
    answer is ...", then a GSM8K-style "#### ..." line. The text is never
    evaluated, and any input (including non-strings) returns a value
    without raising.

    Args:
        solution_text: str. A model's (or a reference) solution.

    Returns:
        The answer as written (not normalized), or `None`.

    Example:

    >>> extract_answer(r"So $x = \\boxed{\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> extract_answer("I give up.") is None
    True
    """
    if not isinstance(solution_text, str) or not solution_text:
        return None
    text = solution_text[-_MAX_SCAN_CHARS:]
    boxed = _last_boxed(text)
    if boxed is not None:
        return boxed.strip() or None
    for pattern in (_FINAL_ANSWER_RE, _ANSWER_IS_RE, _HASHES_RE):
        last = None
        for last in pattern.finditer(text):
            pass
        if last is not None:
            tail = text[last.end() :]
            if pattern is _FINAL_ANSWER_RE:
                hope = tail.lower().find(_HOPE)
                tail = tail[:hope] if hope >= 0 else tail
            answer = _clean_tail(tail)
            if answer is not None:
                return answer
    return None
