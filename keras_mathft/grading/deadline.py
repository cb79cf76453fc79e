"""One wall-clock deadline per public grading call."""

import math
import time


class Deadline:
    """The moment by which a grading call must have decided.

    Every public call (`answers_equivalent`, `cluster_answers`) creates one
    from its `timeout` and passes it down, so the bound covers the whole
    call: waiting for a free worker, every sympy task, and the in-process
    loops between them. Time spent waiting for a worker process to start
    is not comparison time: the pool `excuse`s it, which moves the end
    later by as much (within the pool's own start-up bound).

    Args:
        seconds: float. Time allowed from now; negative, NaN or
            non-numbers mean none.

    Example:

    >>> Deadline(5.0).expired()
    False
    >>> Deadline(0).remaining()
    0.0
    """

    __slots__ = ("end", "excused")

    def __init__(self, seconds):
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            seconds = 0.0
        if math.isnan(seconds) or seconds < 0:
            seconds = 0.0
        self.end = time.monotonic() + min(seconds, 1e9)
        self.excused = 0.0

    def remaining(self):
        """Seconds left, never negative."""
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end

    def excuse(self, seconds):
        """Moves the end `seconds` later: time that was not comparison time.

        The seconds add up in `excused`, which the caller bounds.
        """
        seconds = max(0.0, seconds)
        self.end += seconds
        self.excused += seconds
