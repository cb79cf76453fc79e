"""What every stage shares at run time: processes, progress display, the
writer lock.

- `processes`: which process of a JAX cluster writes shared files
  (`is_writer`, `this_process`) and `run_together`, a barrier that fails
  every process when one fails (`PeerProcessError`).
- `progress`: progress bars that stay readable off a terminal
  (`progress_bar`, `LineProgress`, and `ProgbarLogger` for `fit`).
- `writer_lock`: one writer per directory, an OS file lock that dies with
  its process (`WriterLock`, `WriterLockedError`, `read_holder`).

Only the progress display needs keras: it is imported on first use, so
processes and the writer lock load without keras, jax or tensorflow.
"""

from importlib import import_module as _import_module

from keras_mathft.runtime.processes import PeerProcessError
from keras_mathft.runtime.processes import is_writer
from keras_mathft.runtime.processes import run_together
from keras_mathft.runtime.processes import this_process
from keras_mathft.runtime.writer_lock import WriterLock
from keras_mathft.runtime.writer_lock import WriterLockedError
from keras_mathft.runtime.writer_lock import read_holder

_LAZY = {
    "LINE_INTERVAL": "keras_mathft.runtime.progress",
    "LineProgress": "keras_mathft.runtime.progress",
    "ProgbarLogger": "keras_mathft.runtime.progress",
    "is_interactive": "keras_mathft.runtime.progress",
    "progress_bar": "keras_mathft.runtime.progress",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(_import_module(_LAZY[name]), name)
    raise AttributeError(
        f"module 'keras_mathft.runtime' has no attribute {name!r}"
    )


# The progress display's names (`_LAZY`) are left out, as `sampling`
# leaves out its decoder's, so that `from keras_mathft.runtime import *`
# never imports keras.
__all__ = [
    "is_writer",
    "PeerProcessError",
    "read_holder",
    "run_together",
    "this_process",
    "WriterLock",
    "WriterLockedError",
]
