"""One Ctrl-C stops a run, even where `KeyboardInterrupt` gets dropped.

Python raises `KeyboardInterrupt` wherever the main thread happens to be
when SIGINT arrives, and two kinds of places drop it:

- library code that catches everything: Keras turns each training step's
  logs into floats inside a bare `except:` (`pythonify_logs` in
  `keras.src.utils.python_utils`), and on JAX that conversion is where
  the main thread waits for the step, so most Ctrl-Cs during training did
  nothing;
- code that Python itself runs where an exception cannot propagate: a
  garbage collector callback (JAX registers one), a `__del__`, a weakref
  callback. Python prints "Exception ignored in ..." with a traceback and
  goes on.

`InterruptWatch` records every SIGINT besides raising it. One dropped the
second way reaches `sys.unraisablehook`, which the watch answers quietly
by raising it again in the main thread (`_thread.interrupt_main`)
`RETRY_SECONDS` later, once that runs ordinary code again (or, if it is
dropped again, once more). One dropped the first way is raised again by
`check` at safe points: after each training step (`StopOnInterrupt`) and
before a stage is marked done, so a stage that saw a Ctrl-C is never
recorded as finished (a sympy worker killed by the same Ctrl-C could have
graded a sample "different").
"""

import _thread
import signal
import sys
import threading
import time

import keras

# Delay before a Ctrl-C that Python dropped is raised again: the main
# thread has left the callback that dropped it by then.
RETRY_SECONDS = 0.05


class InterruptWatch:
    """Records SIGINTs while active; `check` raises a recorded one.

    A context manager. In the main thread it wraps the SIGINT handler in
    place (Python's, which raises `KeyboardInterrupt`, or a notebook's)
    and `sys.unraisablehook`; elsewhere, or when SIGINT is ignored, it
    records nothing.

    Example:

    >>> with InterruptWatch() as watch:
    ...     watch.check()  # no Ctrl-C so far: returns
    """

    def __init__(self):
        self.requested = False
        self._previous = None
        self._previous_hook = None
        self._in_hook = False

    def __enter__(self):
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # Not ignored, not the OS default.
                self._previous = previous
                self._previous_hook = sys.unraisablehook
                signal.signal(signal.SIGINT, self._handle)
                sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            sys.unraisablehook = self._previous_hook
            self._previous = self._previous_hook = None

    def _handle(self, signum, frame):
        self.requested = True
        if self._in_hook:  # Python would drop it here too.
            self._raise_later()
            return
        self._previous(signum, frame)

    def _unraisable(self, unraisable):
        if self.requested and issubclass(
            unraisable.exc_type, KeyboardInterrupt
        ):
            self._in_hook = True
            try:
                self._raise_later()
            finally:
                self._in_hook = False
            return
        self._previous_hook(unraisable)

    def _raise_later(self):
        def raise_again():
            time.sleep(RETRY_SECONDS)
            if self._previous is not None:  # Still active.
                _thread.interrupt_main()

        threading.Thread(target=raise_again, daemon=True).start()

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
