"""One Ctrl-C stops a run, even where a library drops `KeyboardInterrupt`.

Keras turns each training step's logs into floats inside a bare
`except:` (`pythonify_logs` in `keras.src.utils.python_utils`), and on
JAX that conversion is where the main thread waits for the step to
finish. A SIGINT arriving then raises `KeyboardInterrupt` inside that
`try`, which drops it: most Ctrl-Cs during training did nothing. So
`InterruptWatch` records each SIGINT besides raising it, and `check`
raises it again at safe points: after every training step
(`StopOnInterrupt`) and before a stage is marked done, so a stage that
saw a Ctrl-C is never recorded as finished (a sympy worker it killed
could have turned a grade into "not equivalent").
"""

import signal
import threading

import keras


class InterruptWatch:
    """Records SIGINTs while active; `check` raises a recorded one.

    A context manager. In the main thread it wraps the SIGINT handler in
    place (Python's, which raises `KeyboardInterrupt`, or a notebook's);
    elsewhere, or when SIGINT is ignored, it records nothing.

    Example:

    >>> with InterruptWatch() as watch:
    ...     watch.check()  # no Ctrl-C so far: returns
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # Not ignored, not the OS default.
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum, frame):
        self.requested = True
        self._previous(signum, frame)

    def check(self):
        """Raises `KeyboardInterrupt` if a SIGINT came while active."""
        if self.requested:
            raise KeyboardInterrupt


class StopOnInterrupt(keras.callbacks.Callback):
    """Stops `fit` after the step during which a Ctrl-C came.

    The interrupted step's state is dropped; the last checkpoint stays as
    it was, and the resumed run trains from it.

    Args:
        watch: the active `InterruptWatch`.
    """

    def __init__(self, watch):
        super().__init__()
        self.watch = watch

    def on_train_batch_end(self, batch, logs=None):
        self.watch.check()
