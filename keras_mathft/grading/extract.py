"""Reading the final answer out of a solution text.

Rules, in the order they are tried (the first that yields an answer wins):

1. `boxed`: the last complete `\\boxed{...}` or `\\fbox{...}` (braces
   matched with nesting; `\\boxed 5` accepted; an empty last box means
   no answer). Boxes just before it that
   are separated from it only by commas, `and`, spacing or math
   delimiters are part of the answer: `\\boxed{1}, \\boxed{2}` is `1, 2`;
   so are boxes across a short worded gap (at most 50 characters, one
   sentence, with a list separator and no word that restates, corrects
   or compares): `\\boxed{1} papers and \\boxed{2} bins` is `1, 2`, but
   `\\boxed{A}, or \\boxed{B}` (one answer restated) is `B`.
2. `answer_phrase`: the last answer phrase with an answer after it:
   `Final Answer:`, `The final answer is`, `The answer is`, `Answer:`,
   `Answer` followed by math, and GSM8K's `####`, in any case. What
   follows is read up to the end of its sentence (and before Minerva's
   "I hope it is correct"): a leading math span; else the part after the
   last "is"/"are"/"=" of the sentence (`The largest $n$ is 34` gives
   `34`); else, for a prose sentence, its last number or math (as rule
   3-4); else the sentence without trailing prose words (`5 apples`).
3. `final_math`: the last display or inline math span of the final
   sentence (with the spans joined to it across connectors, as boxes
   are in rule 1, but not across worded gaps), when it is the
   last candidate in that sentence.
4. `final_number`: the last standalone number of the final sentence, when
   that sentence is prose (has a word of three letters or more) and the
   number comes after its last math span.

Math spans are `$...$`, `$$...$$`, `\\(...\\)` and `\\[...\\]`; inline spans
end at a line break. The text ends at the first chat-template marker
(`<|im_start|>`, `<end_of_turn>`, `</s>`, ...) or new few-shot problem
(a line starting `Problem:` or `Question:`) that follows some content.
Sentences end at `.`, `!` or `?` before a space or the end, and at line
breaks, never inside math. Every scan is linear in the text, which is cut
to its last `_MAX_SCAN_CHARS` characters.
"""

import dataclasses
import re

# Longer inputs are cut to their tail: the final answer lives at the end and
# the scans below stay linear in this bound.
_MAX_SCAN_CHARS = 20_000
# Phrase occurrences tried (from the last one back) before giving up.
_MAX_PHRASES = 20

EXTRACTION_RULES = ("boxed", "answer_phrase", "final_math", "final_number")

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_PHRASE_RE = re.compile(
    r"(?P<hashes>####)|\b(?:final\s+answer|answer)\b"
    r"(?P<linked>\s+is\b|\s*[:=])?\s*:?",
    re.IGNORECASE,
)
# A bare "answer" (no "is" or ":") only counts before math or a number.
_BARE_ANSWER_START_RE = re.compile(r"\s*(?:\$|\\[(\[]|-?\d)")
# Longer phrase answers are prose, not a final answer.
_MAX_PHRASE_ANSWER_CHARS = 300
_HOPE = "i hope it is correct"
# What may separate two parts of one answer (boxes or math spans). Not
# "or": `\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}` restates
# one answer.
_CONNECTOR_RE = re.compile(
    r"(?:\s|,|;|&|~|\$|\\[()\[\],;:! ]|\\q?quad(?![a-zA-Z])"
    r"|\\text\{\s*(?:and|,)?\s*\}|\band\b)*",
    re.IGNORECASE,
)
# Boxes also join across short text that separates list items (`\\boxed{1}
# papers and \\boxed{2} bins`), unless a word in it restates, corrects or
# compares (`or`, `i.e.`, `not`, `which is`, `=`, `\\approx`, ...).
_MAX_BOX_GAP_CHARS = 50
_GAP_SEPARATOR_RE = re.compile(r",|;|&|\band\b", re.IGNORECASE)
_GAP_DENY_RE = re.compile(
    r"\b(?:or|not|but|which|that|i\.?e|e\.?g|equivalently|than|instead"
    r"|rather|is|are|was|were|equals?|gives?|becomes?|means?|so|thus|hence"
    r"|therefore|then|from|to|vs|versus|approx\w*|about|around|roughly"
    r"|simplif\w*|written|also|same|correct\w*|wrong|check\w*|final\w*|last"
    r"|now|answer\w*)\b"
    r"|[=<>]|\\(?:approx|Rightarrow|implies|to|neq|leq?|geq?|sim)(?![a-zA-Z])",
    re.IGNORECASE,
)
# A label just before the next box (`and $y_2 = \\boxed{...}`).
_NEXT_LABEL_RE = re.compile(
    r"(?:[A-Za-z](?:_\{?\w+\}?)?|\([a-z, ]+\))\s*=\s*(?:\$|\\[(\[])?\s*$"
)
_COPULA_RE = re.compile(r"(?:\s(?:is|are|was|equals)\s|=)", re.IGNORECASE)
_PROSE_WORD_RE = re.compile(r"[A-Za-z]{3,}[.,;:!?)]*")
_COMMAND_GROUP_RE = re.compile(r"\\[a-zA-Z]+(?:\s*\{[^{}]*\})*")
# A number, with a Unicode minus (U+2212) as a sign too, and scientific
# notation (`3e8`) read whole rather than as its mantissa.
_NUMBER_RE = re.compile(
    r"(?<![\w.,\\{}^_/$\[\-\u2212])[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)"
    r"(?:\.\d+)?(?:[eE][-+]?\d+(?![A-Za-z]))?(?:/\d+)?(?![\d}^_])"
)
# An unescaped `$`, `\\[` or `\\(`.
_OPENER_RE = re.compile(r"(?<!\\)(?:\\[\[(]|\$)")
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)|\n")
# Where a model's turn has ended: chat-template markers and the start of
# a new few-shot problem. Text after the first one is not the solution.
_TURN_END_RE = re.compile(
    r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id)\|>"
    r"|<(?:start|end)_of_turn>|<eos>|</s>|\n\s*(?:Problem|Question):"
)
_EDGE_CHARS = " \t\n\"'*`"
# Also stripped from a phrase answer read as plain text.
_TEXT_EDGE_CHARS = _EDGE_CHARS + "$#.:"


@dataclasses.dataclass(frozen=True)
class ExtractedAnswer:
    """The final answer of a text and the rule that found it.

    Attributes:
        answer: str or None. The answer as written (not normalized).
        rule: str or None. One of `EXTRACTION_RULES`, None when no rule
            found an answer.
    """

    answer: object = None
    rule: object = None


_NONE = ExtractedAnswer()


class _Span:
    __slots__ = ("start", "end", "content_start", "content_end")

    def __init__(self, start, end, content_start, content_end):
        self.start, self.end = start, end
        self.content_start, self.content_end = content_start, content_end


def _math_spans(text):
    """Math spans of `text`, in order, found in one linear pass."""
    spans, pos, n = [], 0, len(text)
    # Position after which a closing delimiter is known to be absent.
    no_closer = {}
    while pos < n:
        match = _OPENER_RE.search(text, pos)
        if match is None:
            break
        pos = match.start()
        if match.group() == "$":
            opener = "$$" if text.startswith("$$", pos) else "$"
            closer = opener
        else:
            opener = match.group()
            closer = "\\]" if opener == "\\[" else "\\)"
        start = pos + len(opener)
        end = -1
        if no_closer.get(closer, n + 1) > start:
            limit = n
            if opener in ("$", "\\("):
                # Inline math ends at a line break.
                newline = text.find("\n", start)
                limit = n if newline < 0 else newline
            end = text.find(closer, start, limit)
            while end > 0 and closer == "$" and text[end - 1] == "\\":
                end = text.find(closer, end + 1, limit)  # `\$` is text
            if end < 0 and limit == n:
                no_closer[closer] = start
        if end < 0:
            pos += len(opener)
            continue
        spans.append(_Span(pos, end + len(closer), start, end))
        pos = end + len(closer)
    return spans


def _sentences(text, spans):
    """(start, end) of each non-empty sentence, never splitting math."""
    bounds, last, k = [], 0, 0
    for match in _SENTENCE_END_RE.finditer(text):
        while k < len(spans) and spans[k].end <= match.start():
            k += 1
        if k < len(spans) and spans[k].start <= match.start():
            continue  # inside a math span
        bounds.append((last, match.start()))
        last = match.end()
    bounds.append((last, len(text)))
    return [(s, e) for s, e in bounds if text[s:e].strip()]


def _worded_box_gap(gap):
    """True for the short text between two boxes of one answer: `papers
    and`, `\\text{ for part (a) and }`, `\\) and \\( y_2 =` (a list
    separator, no sentence end, no word that restates or compares)."""
    if len(gap) > _MAX_BOX_GAP_CHARS or _SENTENCE_END_RE.search(gap):
        return False
    gap = _NEXT_LABEL_RE.sub("", gap)
    return bool(_GAP_SEPARATOR_RE.search(gap)) and not _GAP_DENY_RE.search(gap)


def _joined(text, parts, worded=False):
    """The last part plus the parts connected to it, as one answer.

    Args:
        parts: list of (start, end, content) in text order.
        worded: bool. Boxes also join across a short worded gap
            (`_worded_box_gap`).
    """
    group = [parts[-1]]
    for part in reversed(parts[:-1]):
        gap = text[part[1] : group[0][0]]
        joins = "\n" not in gap and _CONNECTOR_RE.fullmatch(gap)
        if not (joins or (worded and _worded_box_gap(gap))):
            break
        group.insert(0, part)
    contents = []
    for _, _, content in group:
        content = content.strip()
        if content and (not contents or contents[-1] != content):
            contents.append(content)
    return ", ".join(contents) or None


def _boxes(text):
    """(start, end, content) of each complete box, in order."""
    matches = list(_BOX_RE.finditer(text))
    if not matches:
        return []
    pairs, stack = {}, []
    for match in re.finditer(r"(?<!\\)[{}]", text):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    boxes = []
    for match in matches:
        if boxes and match.start() < boxes[-1][1]:
            continue  # nested in the previous box, which holds it
        pos = match.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos < len(text) and text[pos] == "{":
            if pos in pairs:
                close = pairs[pos]
                boxes.append((match.start(), close + 1, text[pos + 1 : close]))
            continue
        # `\boxed 5` / `\boxed5`: the argument runs to the next `$`, space
        # or newline (a trailing `.` or `,` is punctuation).
        bare = re.match(r"[^\s$]+", text[pos : pos + 200])
        if bare and (pos > match.end() or text[pos].isdigit()):
            answer = bare.group(0).rstrip(".,")
            if answer:
                end = pos + len(answer)
                boxes.append((match.start(), end, answer))
    return boxes


def _span_parts(text, spans):
    return [
        (s.start, s.end, text[s.content_start : s.content_end]) for s in spans
    ]


def is_prose(text):
    """True for a sentence: two space-separated words of three letters or
    more, outside LaTeX commands and their braces, and not only `and`
    (`the number is 10` is prose; `2abc`, `6 \\text{ and } 8` and code
    such as `__import__('os')` are not)."""
    plain = _COMMAND_GROUP_RE.sub(" ", text[:_MAX_SCAN_CHARS])
    words = [w for w in plain.split() if _PROSE_WORD_RE.fullmatch(w)]
    return len(words) >= 2 and any(
        w.rstrip(".,;:!?)").lower() != "and" for w in words
    )


def _without_prose_tail(sentence):
    """`5 apples` -> `5`; `Evelyn` and `x+1` are kept as they are."""
    chunks = sentence.split()
    mathy = False
    for k, chunk in enumerate(chunks):
        if mathy and _PROSE_WORD_RE.fullmatch(chunk):
            return " ".join(chunks[:k])
        mathy = mathy or re.search(r"[\d\\$]", chunk) is not None
    return sentence


def _phrase_answer(text, start, spans):
    """The answer stated after an answer phrase ending at `start`."""
    end = text.lower().find(_HOPE, start)
    end = len(text) if end < 0 else end
    while start < end and text[start] in _EDGE_CHARS:
        start += 1
    local = [s for s in spans if start <= s.start and s.end <= end]
    sentence_end = end
    for s, e in _sentences(text[start:end], _shift(local, -start)):
        sentence_end = start + e
        break
    local = [s for s in local if s.end <= sentence_end]
    if local and local[0].start == start:
        parts = _span_parts(text, local)
        first = [parts[0]]
        for part in parts[1:]:
            if not _CONNECTOR_RE.fullmatch(text[first[-1][1] : part[0]]):
                break
            first.append(part)
        return _joined(text, first)
    sentence = text[start:sentence_end]
    copula, k = None, 0
    for match in _COPULA_RE.finditer(sentence):
        at = start + match.start()
        while k < len(local) and local[k].end <= at:
            k += 1
        if k == len(local) or at < local[k].start:
            copula = match  # outside math
    if copula is not None:
        after = start + copula.end()
        answer = _phrase_answer(text[:sentence_end], after, spans)
        if answer is not None:
            return answer
    words = sentence.split()
    if words and _PROSE_WORD_RE.fullmatch(words[0]) and is_prose(sentence):
        # `Jane started growing Sphere 3 hours ago`: the sentence's last
        # number or math, as for a final sentence.
        answer, _ = _final_sentence_answer(text[:sentence_end], local, start)
        if answer is not None:
            return answer
    answer = _without_prose_tail(sentence.strip(_TEXT_EDGE_CHARS))
    answer = answer.strip(_TEXT_EDGE_CHARS)
    if len(answer) > _MAX_PHRASE_ANSWER_CHARS:
        return None
    return answer or None


def _shift(spans, offset):
    return [
        _Span(
            s.start + offset,
            s.end + offset,
            s.content_start + offset,
            s.content_end + offset,
        )
        for s in spans
    ]


def _final_sentence_answer(text, spans, start=None):
    """(answer, rule) from the candidates of the text's final sentence (or
    of the text from `start` on, taken as one sentence)."""
    if start is None:
        sentences = _sentences(text, spans)
        if not sentences:
            return None, None
        start, end = sentences[-1]
    else:
        end = len(text)
    local = [s for s in spans if start <= s.start and s.end <= end]
    last_math = local[-1].end if local else start
    prose = is_prose(_outside(text, start, end, local))
    if prose:
        number = None
        for match in _NUMBER_RE.finditer(text, last_math, end):
            number = match.group()
        if number is not None:
            return number, "final_number"
    if local:
        return _joined(text, _span_parts(text, local)), "final_math"
    return None, None


def _outside(text, start, end, spans):
    pieces, pos = [], start
    for span in spans:
        pieces.append(text[pos : span.start])
        pos = span.end
    pieces.append(text[pos:end])
    return " ".join(pieces)


def extract_answer_record(solution_text):
    """Finds the final answer of a text and says which rule found it.

    The rules and their order are in this module's docstring (and
    `EXTRACTION_RULES`). The text is never evaluated, and any input
    (including non-strings) returns a record without raising.

    Args:
        solution_text: str. A model's (or a reference) solution.

    Returns:
        An `ExtractedAnswer`; its `answer` is as written (not normalized),
        and both fields are None when no rule applies.

    Example:

    >>> extract_answer_record("Final Answer: The largest $n$ is 34.")
    ExtractedAnswer(answer='34', rule='answer_phrase')
    >>> extract_answer_record(r"Thus $\\boxed{1}$ and $\\boxed{2}$.").answer
    '1, 2'
    """
    if not isinstance(solution_text, str) or not solution_text:
        return _NONE
    text = solution_text
    for marker in _TURN_END_RE.finditer(text):
        if text[: marker.start()].strip():
            text = text[: marker.start()]
            break
    text = text[-_MAX_SCAN_CHARS:]
    boxes = _boxes(text)
    if boxes:
        answer = _joined(text, boxes, worded=True)
        # An empty last box (`\boxed{}`) states that there is no answer.
        return ExtractedAnswer(answer, "boxed") if answer else _NONE
    spans = _math_spans(text)
    phrases = list(_PHRASE_RE.finditer(text))
    for match in reversed(phrases[-_MAX_PHRASES:]):
        if not (match["hashes"] or match["linked"]):
            if not _BARE_ANSWER_START_RE.match(text, match.end()):
                continue
        answer = _phrase_answer(text, match.end(), spans)
        if answer is not None:
            return ExtractedAnswer(answer, "answer_phrase")
    # Minerva's closing line is not the final sentence.
    closing = text.lower().rfind(_HOPE)
    if closing >= 0 and not text[closing + len(_HOPE) :].strip(" .\n"):
        text = text[:closing]
    answer, rule = _final_sentence_answer(text, spans)
    if answer is not None:
        return ExtractedAnswer(answer, rule)
    return _NONE


def extract_answer(solution_text):
    """Returns the final answer of a solution, or `None` when it has none.

    The last `\\boxed{...}` wins; without a box, answer phrases
    ("Final Answer:", "The answer is", "Answer:", "####", any case), then
    the last math of the final sentence, then its last number are tried
    (details in `extract_answer_record`, which also says which rule
    fired). The text is never evaluated, and any input (including
    non-strings) returns a value without raising.

    Args:
        solution_text: str. A model's (or a reference) solution.

    Returns:
        The answer as written (not normalized), or `None`.

    Example:

    >>> extract_answer(r"So $x = \\boxed{\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> extract_answer("Answer $ 9 $")
    '9'
    >>> extract_answer("I give up.") is None
    True
    """
    return extract_answer_record(solution_text).answer
