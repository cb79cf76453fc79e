"""Progress bars that stay readable when stdout is not a terminal.

Keras' `Progbar` redraws one line with `\\b` and `\\r` on any POSIX
system, so under `nohup`, in CI logs or a file it leaves one endless line
of escape codes. `progress_bar` gives Keras' bar on a terminal or in a
notebook and `LineProgress` otherwise: plain lines, each flushed, at most
one every `interval` seconds plus the last. `ProgbarLogger` is Keras'
`fit` progress callback on top of it; training (`models.fit_phases`) and
sampling (`sampling.sample_to_store`) both use them.
"""

import math
import sys
import time

import keras

# Seconds between two lines of a non-terminal progress report.
LINE_INTERVAL = 10.0


def is_interactive(stream):
    """Whether `stream` is a terminal or a notebook cell's output."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or _in_notebook()


def _in_notebook():
    # A running kernel, not just an imported `ipykernel` (a test process
    # that executes notebooks imports it too).
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def progress_bar(target, unit_name="step", stateful_metrics=None, **kw):
    """Keras' `Progbar` on a terminal, a `LineProgress` elsewhere.

    Args:
        target: int or `None`, the total.
        unit_name: str, what is counted.
        stateful_metrics: names whose values are shown as given (Keras'
            `Progbar` averages the others; `LineProgress` shows every
            value as given).
        **kw: for `LineProgress` (`stream`, `interval`).

    Returns:
        An object with `update(current, values=None, finalize=None)`.
    """
    stream = kw.get("stream", sys.stdout)
    if is_interactive(stream):
        return keras.utils.Progbar(
            target, unit_name=unit_name, stateful_metrics=stateful_metrics
        )
    return LineProgress(target, unit_name=unit_name, **kw)


class LineProgress:
    """Progress as plain, flushed lines: `12/800 steps (2%) 3s, ETA 190s`.

    Args:
        target: int or `None`, the total.
        unit_name: str, what is counted ("step", "problem").
        stream: the text stream to write to. Defaults to `sys.stdout` at
            each write (so redirections made later are followed).
        interval: float, the fewest seconds between two lines; the first
            update and the last (`current == target` or `finalize`) are
            always written. Defaults to `LINE_INTERVAL`.

    Example:

    >>> import io
    >>> out = io.StringIO()
    >>> bar = LineProgress(4, stream=out, interval=3600)
    >>> for step in range(1, 5):
    ...     bar.update(step, [("loss", 1.0 / step)])
    >>> [line.split(" (")[0] for line in out.getvalue().splitlines()]
    ['1/4 steps', '4/4 steps']
    """

    def __init__(self, target, unit_name="step", stream=None, interval=None):
        self.target = target
        self.unit_name = unit_name
        self.stream = stream
        self.interval = LINE_INTERVAL if interval is None else interval
        self._start = time.monotonic()
        self._last = None
        self._done = False

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.monotonic()
        if self._done or not (
            finalize or self._last is None or now - self._last >= self.interval
        ):
            return
        self._last, self._done = now, bool(finalize)
        elapsed = now - self._start
        units = f"{self.unit_name}s"
        if self.target:
            line = f"{current}/{self.target} {units} "
            line += f"({100 * current / self.target:.0f}%) {elapsed:.0f}s"
            if not finalize and current:
                eta = elapsed * (self.target - current) / current
                line += f", ETA {eta:.0f}s"
        else:
            line = f"{current} {units} {elapsed:.0f}s"
        for name, value in values or ():
            line += f" - {name}: {_format(value)}"
        stream = self.stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()


def _format(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isfinite(value) and value != 0 and abs(value) < 1e-3:
        return f"{value:.4e}"
    return f"{value:.4f}"


class ProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' `fit` progress callback, with line progress off a terminal.

    Pass it in `fit`'s callbacks; it replaces Keras' own and follows
    `fit`'s `verbose` the same way.
    """

    def _maybe_init_progbar(self):
        if self.progbar is None:
            if self.verbose == 1:
                self.progbar = progress_bar(self.target)
            else:
                super()._maybe_init_progbar()
