"""One writer per directory: an OS file lock that dies with its process.

`WriterLock` takes `fcntl.flock(LOCK_EX | LOCK_NB)` on a lock file and
writes the holder's pid, host and start time into it. The kernel drops a
`flock` lock when the last descriptor of its open file goes away, which
happens when the process exits or is killed (`kill -9` included), so a
crashed writer never leaves a stale lock behind: the file stays, the lock
does not, and the next writer simply takes it.

Why `flock` and not `fcntl.lockf` (POSIX record locks) or a package:

- a `flock` lock belongs to the open file, not to the process, so opening
  and closing the same file elsewhere in the process (e.g. reading the
  holder's pid) cannot drop it, as any `close()` drops a `lockf` lock;
- `filelock` and `portalocker` call `fcntl.flock` on POSIX too, so they
  would add a dependency and nothing else.

Caveats. On Linux, `flock` on NFS is emulated with byte-range locks
(kernel 2.6.12 and later) and works across clients, but lock recovery
after a client or server crash is up to the NFS lock manager; other
network or FUSE filesystems may only lock within one machine. A process
that forks (without exec) shares the lock with its child until both exit.
Platforms without `fcntl` (Windows) get no lock, with a warning.

Within one process the lock is re-entrant: every `WriterLock` on the same
file shares one descriptor, counted, and the lock is released when the
last of them is released (or garbage collected).
"""

import errno
import json
import os
import socket
import threading
import time
import weakref

from absl import logging

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

# Lock file (real path) -> [descriptor, number of live WriterLocks].
_HELD = {}
_GUARD = threading.Lock()


class WriterLockedError(ValueError):
    """Another process holds the writer lock of a directory.

    Attributes:
        path: str. The lock file.
        holder: dict. What the holder wrote into the lock file (`pid`,
            `host`, `since`), empty when it could not be read.
    """

    def __init__(self, what, path, holder):
        self.path = str(path)
        self.holder = holder
        who = ", ".join(
            f"{k} {holder[k]}" for k in ("pid", "host", "since") if k in holder
        )
        super().__init__(
            f"{what} is in use by another writer ({who or 'pid unknown'}); "
            "only one process may write it at a time. Wait for that "
            "process to finish or stop it, or use another directory. "
            f"Received: lock file {self.path}"
        )


class WriterLock:
    """An exclusive, non-blocking lock on `path`, released on process death.

    Args:
        path: str or path. The lock file; created if missing, never
            deleted (deleting it while held would let a second writer in).
        what: str. What the lock guards, for the error message.

    Raises:
        WriterLockedError: when another process holds the lock.
        OSError: when the lock file cannot be created or opened.

    Example:

    >>> import os, tempfile
    >>> lock = WriterLock(os.path.join(tempfile.mkdtemp(), "writer.lock"))
    >>> lock.held
    True
    >>> lock.release()
    >>> lock.held
    False
    """

    def __init__(self, path, what="The directory"):
        self.path = os.fspath(path)
        self._key = os.path.realpath(self.path)
        with _GUARD:
            entry = _HELD.get(self._key)
            if entry is None:
                entry = [_acquire(self.path, what), 0]
                _HELD[self._key] = entry
            entry[1] += 1
        self._release = weakref.finalize(self, _drop, self._key)

    @property
    def held(self):
        return self._release.alive

    def release(self):
        """Releases this hold; the lock goes once no hold is left."""
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def read_holder(path):
    """What the holder of the lock file `path` wrote: pid, host, since."""
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.loads(f.read() or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _acquire(path, what):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if fcntl is None:
            logging.warning(
                "No fcntl on this platform: %s is not protected against a "
                "second writer.",
                path,
            )
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise WriterLockedError(what, path, read_holder(path)) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _drop(key):
    with _GUARD:
        entry = _HELD[key]
        entry[1] -= 1
        if entry[1] == 0:
            del _HELD[key]
            os.close(entry[0])  # the kernel releases the lock here
