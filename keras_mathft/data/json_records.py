"""Reads JSON objects from JSONL files and from back-to-back JSON objects."""

import codecs
import json
import re

from keras_mathft.data.errors import DataFormatError
from keras_mathft.data.errors import excerpt
from keras_mathft.data.errors import handle_error

_DECODER = json.JSONDecoder()
# A line break: `\r\n`, `\n`, or a lone `\r` (old Mac line ends).
_LINE_BREAK_RE = re.compile(r"\r\n?|\n")
# Where lenient reading resumes: a line that starts with `{`.
_NEXT_OBJECT_RE = re.compile(r"(?:\r\n?|\n)\{")
# Bytes that are not UTF-8 decode to these lone surrogates
# ("surrogateescape"), so a bad byte is found in the record that holds it.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_WIDE_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def iter_json_objects(path, strict=True, report=None):
    """Yields `(line, object)` for each top-level JSON value in `path`.

    Handles one object per line (JSONL) and pretty-printed objects written
    back to back (PRM800K's example files), which are not one JSON document.
    Lines are 1-based and point at the first line of each object; a line
    ends at `\\n`, `\\r\\n` or a lone `\\r` (old Mac files).

    Every problem becomes a `DataFormatError` naming the file and line: a
    file that cannot be read (missing, a directory), a UTF-16 / UTF-32
    file, bytes that are not UTF-8, malformed JSON, nesting too deep for
    the parser, and integers too long to convert. In lenient mode the
    error is recorded in `report` and reading resumes at the next line
    that starts with `{` (the next JSONL row, or the next unindented
    pretty-printed object); a file-level problem skips the file.

    Raises:
        DataFormatError: for any of the above when `strict`.
    """
    text = _read_text(path, strict, report)
    if text is None:
        return
    pos, line, size = 0, 1, len(text)
    while True:
        # Skip whitespace, counting the line breaks it holds.
        start = pos
        while pos < size and text[pos] in " \t\r\n\ufeff":
            pos += 1
        line += _line_breaks(text, start, pos)
        if pos >= size:
            return
        value, end, error = _decode_at(path, text, pos, line)
        if error is not None:
            handle_error(error, strict, report)
            # Resume at the next line starting with "{".
            nxt = _NEXT_OBJECT_RE.search(text, pos)
            if nxt is None:
                return
            line += _line_breaks(text, pos, nxt.end() - 1)
            pos = nxt.end() - 1
            continue
        yield line, value
        line += _line_breaks(text, pos, end)
        pos = end


def _read_text(path, strict, report):
    """The file's text, or None after handling a file-level problem.

    Bytes that are not UTF-8 become lone surrogates, found per record by
    `_undecodable`.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        handle_error(
            DataFormatError(
                f"{path}",
                "Cannot read this file; pass a readable JSON or JSONL file.",
                e.strerror or type(e).__name__,
            ),
            strict,
            report,
        )
        return None
    wide = _wide_encoding(data)
    if wide:
        handle_error(
            DataFormatError(
                f"{path}:1",
                f"The file is {wide} text; save it as UTF-8.",
                repr(data[:8]),
            ),
            strict,
            report,
        )
        return None
    return data.decode("utf-8", "surrogateescape")


def _decode_at(path, text, pos, line):
    """`(value, end, error)` for the JSON value at `text[pos]` (line `line`).

    `error` is a `DataFormatError` (then `value` and `end` are None) or None.
    """
    try:
        value, end = _DECODER.raw_decode(text, pos)
        error = _undecodable(path, text, pos, end)
    except (ValueError, RecursionError) as e:
        # A JSONDecodeError is a ValueError, as is an integer of more
        # than `sys.get_int_max_str_digits()` digits.
        eol = _LINE_BREAK_RE.search(text, pos)
        eol = len(text) if eol is None else eol.start()
        error = _undecodable(path, text, pos, eol) or DataFormatError(
            f"{path}:{line}",
            _parse_problem(e, text),
            excerpt(text[pos:eol]),
        )
        value = end = None
    return value, end, error


def _line_breaks(text, start, end):
    """How many lines end in `text[start:end]` (`\\r\\n` counts once)."""
    return (
        text.count("\n", start, end)
        + text.count("\r", start, end)
        - text.count("\r\n", start, end)
    )


def _line_and_column(text, pos):
    """The 1-based line and column of `text[pos]`."""
    line_start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    return _line_breaks(text, 0, pos) + 1, pos - line_start + 1


def _wide_encoding(data):
    for bom, name in _WIDE_BOMS.items():
        if data.startswith(bom):
            return name
    # Without a BOM, ASCII in UTF-16 shows as NUL bytes between letters.
    return "UTF-16 or UTF-32" if b"\x00" in data[:64] else None


def _undecodable(path, text, start, end):
    """An error for the first non-UTF-8 byte in `text[start:end]`, or None."""
    m = _UNDECODABLE.search(text, start, end)
    if m is None:
        return None
    line, column = _line_and_column(text, m.start())
    byte = ord(m.group()) - 0xDC00
    return DataFormatError(
        f"{path}:{line}",
        f"Byte 0x{byte:02x} at column {column} is not UTF-8 text (the file "
        "may be Latin-1 or another encoding). Save the file as UTF-8.",
        # As bytes, so the bad byte shows as itself (b"...caf\xe9").
        excerpt(text[start : m.end()][-40:].encode("utf-8", "surrogateescape")),
    )


def _parse_problem(error, text):
    if isinstance(error, json.JSONDecodeError):
        # Some messages end in " at" ("Invalid control character at").
        what = error.msg.removesuffix(" at")
        # The decoder counts `\n` only; count `\r` line ends too.
        line, column = _line_and_column(text, error.pos)
        return (
            f"Malformed JSON ({what} at line {line}, column {column}). Fix "
            "or remove this record."
        )
    if isinstance(error, RecursionError):
        return (
            "The JSON is nested too deeply to read. Fix or remove this record."
        )
    return (
        f"The JSON holds a number that cannot be read ({error}). Fix or "
        "remove this record."
    )
