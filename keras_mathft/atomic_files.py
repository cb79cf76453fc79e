"""Atomic file writes: a reader or a killed run never sees half a file."""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile


def write_text_atomic(path, text):
    """Writes `text` to `path` through a synced temporary file and a rename.

    The temporary file sits in the same folder, so `os.replace` is a
    rename, which is atomic on POSIX and Windows.

    Args:
        path: str or `pathlib.Path`. Destination file; its folder is
            created if needed.
        text: str, written as UTF-8.
    """
    with _atomic_file(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_json_atomic(path, obj):
    """Writes `obj` as indented JSON with `write_text_atomic`."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True))


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_npz_atomic(path, arrays):
    """Saves `arrays` with `numpy.savez` through a synced temporary file.

    Like `write_text_atomic`, then the folder is synced too, so the new
    name survives a power loss before anything written after it (e.g. a
    manifest that refers to this file).

    Args:
        path: str or `pathlib.Path`. Destination `.npz` file.
        arrays: dict of name to array.
    """
    import numpy as np

    with _atomic_file(path, "wb") as f:
        np.savez(f, **arrays)
    fsync_directory(pathlib.Path(path).parent)


@contextlib.contextmanager
def _atomic_file(path, mode, **kwargs):
    """A temporary file beside `path`, synced and renamed onto it on exit.

    On an exception the temporary file is removed and `path` is untouched.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def fsync_directory(path):
    """Makes the entries of folder `path` (new names, renames) durable.

    A no-op where folders cannot be opened (Windows).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def try_read_json_object(path):
    """Reads a file holding one JSON object, without raising on bad content.

    Args:
        path: str or `pathlib.Path`.

    Returns:
        `(dict, None)`, or `(None, reason)` when the file cannot be read,
        is not UTF-8 JSON or holds another JSON value (`reason` is a short
        description for an error message).
    """
    try:
        with open(path, "rb") as f:
            value = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        return None, e.strerror or str(e)
    except (ValueError, RecursionError) as e:
        return None, f"{type(e).__name__}: {e}"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    return value, None


def excerpt_file(path, limit=80):
    """The first `limit` characters of a file, for error messages."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        return e.strerror or str(e)
    text = repr(data[:limit].decode("utf-8", "replace"))
    return text + ("..." if len(data) > limit else "")


@contextlib.contextmanager
def staging_directory(parent, prefix):
    """A new hidden folder in `parent` for a writer to fill, then commit.

    Its name, `.<prefix>-<pid>-<random>`, records the writer's pid: folders
    of the same prefix whose writer is dead (killed mid-write) are removed
    first, so an interrupted writer leaks nothing past the next call. The
    folder is removed on exit unless `commit_directory` moved it away.

    Args:
        parent: str or `pathlib.Path`, an existing folder.
        prefix: str, what the folder stages (e.g. `"export"`).

    Yields:
        `pathlib.Path`, the empty staging folder.
    """
    parent = pathlib.Path(parent)
    remove_stale_staging(parent, prefix)
    staged = pathlib.Path(
        tempfile.mkdtemp(dir=parent, prefix=f".{prefix}-{os.getpid()}-")
    )
    try:
        yield staged
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)


def remove_stale_staging(parent, prefix):
    """Removes `staging_directory` folders whose writer process is dead.

    Returns:
        list of `pathlib.Path`, the folders removed.
    """
    removed, start = [], f".{prefix}-"
    for path in pathlib.Path(parent).iterdir():
        if not path.name.startswith(start):
            continue
        pid = path.name[len(start) :].split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and not _is_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def commit_directory(staged, target):
    """Syncs every file of `staged`, then renames it to `target`.

    `target` must not exist or be an empty folder, which the rename
    replaces (POSIX). The files and both folders are synced before and
    after the rename, so a power loss leaves either no `target` or a
    complete one.

    Args:
        staged: `pathlib.Path`, a folder filled by the caller.
        target: `pathlib.Path`.
    """
    for path in sorted(staged.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        elif path.is_dir():
            fsync_directory(path)
    fsync_directory(staged)
    os.replace(staged, target)
    fsync_directory(target.parent)


def _is_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Alive, owned by another user.
        return True
    return True
