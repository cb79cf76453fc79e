"""Bad-input errors and the report of lenient-mode skips."""

import dataclasses

from absl import logging


class DataFormatError(ValueError):
    """A data file holds a record that cannot become a `MathProblem`.

    The message names the file and line, says what to change and ends with
    `Received: ...`.

    Args:
        location: str. `"path:line"` of the bad record, or `"path"` when
            the whole file cannot be read (missing, a directory).
        message: str. What is wrong and what to change.
        received: str. A short excerpt of the offending value.
    """

    def __init__(self, location, message, received=""):
        self.location = location
        self.reason = message
        text = f"{location}: {message}"
        if received:
            text += f" Received: {received}"
        super().__init__(text)


@dataclasses.dataclass
class LoadReport:
    """What a loader kept and what it skipped in lenient mode.

    Pass one to a loader's `report` argument to read the skips back;
    lenient loaders also log a warning with the count, so a skip is never
    silent.

    Attributes:
        num_loaded: int. Records returned.
        skipped: list of `DataFormatError`, one per skipped record, each
            naming its file and line.

    Example:

    >>> report = LoadReport()
    >>> report.add_skip(DataFormatError("a.jsonl:3", "Bad level."))
    >>> report.num_skipped
    1
    """

    num_loaded: int = 0
    skipped: list = dataclasses.field(default_factory=list)

    @property
    def num_skipped(self):
        return len(self.skipped)

    def add_skip(self, error):
        self.skipped.append(error)

    def summary(self):
        """One line: counts and the first few skip reasons."""
        text = f"loaded {self.num_loaded}, skipped {self.num_skipped}"
        if self.skipped:
            shown = "; ".join(str(e) for e in self.skipped[:3])
            more = self.num_skipped - 3
            text += f" ({shown}" + (f"; and {more} more)" if more > 0 else ")")
        return text


def handle_error(error, strict, report):
    """Raises `error` in strict mode, else records it as a skip."""
    if strict:
        raise error
    report.add_skip(error)


def log_skips(what, report):
    if report.num_skipped:
        logging.warning("Lenient load of %s: %s", what, report.summary())


def excerpt(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
