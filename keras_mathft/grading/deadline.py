"""One wall-clock deadline per public grading call."""

import math
import time


class Deadline:
    """The moment by which a grading call must have decided.

    Every public call (`answers_equivalent`, `cluster_answers`) creates one
    from its `timeout` and passes it down, so the bound covers the whole
    call: waiting for a free worker, starting one, every sympy task, and
    the in-process loops between them.

    Args:
        seconds: float. Time allowed from now; negative, NaN or
            non-numbers mean none.

    Example:

    >>> Deadline(5.0).expired()
    False
    >>> Deadline(0).remaining()
    0.0
    """

    __slots__ = ("end",)

    def __init__(self, seconds):
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            seconds = 0.0
        if math.isnan(seconds) or seconds < 0:
            seconds = 0.0
        self.end = time.monotonic() + min(seconds, 1e9)

    def remaining(self):
        """Seconds left, never negative."""
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end
