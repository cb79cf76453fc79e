"""The cache of converted GGUF presets, checked before every use.

One folder per source file, named by the file's sha256, holds a keras-hub
preset and `gguf_source.json`: the source's hash and name, the converter
version and, for every file of the preset, its size, modification time and
sha256, recorded when the entry was written. An entry is used only when
every file is there with its recorded size, every small file (configs,
tokenizer assets) hashes as recorded, and every large one (the weights)
either keeps its recorded modification time or hashes as recorded. So a
truncated, emptied, deleted or rewritten file is found without hashing
gigabytes of weights on every load; a damaged entry is rebuilt from the
source file, with a warning.

Entries are written in a staging folder
(`atomic_files.staging_directory`) and renamed into place under a lock
file, so concurrent conversions of one file serialize and a conversion
killed midway leaves only a staging folder, which the next conversion or
load removes.
"""

import contextlib
import hashlib
import os
import pathlib
import shutil

from absl import logging

from keras_mathft import atomic_files

CACHE_ENV = "KERAS_MATHFT_GGUF_CACHE"
SOURCE_FILE = "gguf_source.json"
# Files at most this big are hashed on every use.
ALWAYS_HASHED_BYTES = 16 * 1024**2
_STAGING_PREFIX = "tmp"


def gguf_cache_dir(cache_dir=None):
    """The folder that holds converted GGUF presets.

    Args:
        cache_dir: optional override.

    Returns:
        `pathlib.Path`: `cache_dir`, else `$KERAS_MATHFT_GGUF_CACHE`, else
        `~/.cache/keras_mathft/gguf`.
    """
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or os.path.join(
            os.path.expanduser("~"), ".cache", "keras_mathft", "gguf"
        )
    return pathlib.Path(cache_dir)


def file_sha256(path):
    """The hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_cache_root(root):
    """Creates the cache folder, with an error that names the setting.

    Raises:
        ValueError: when the folder cannot be created or written.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ValueError(
            f"The GGUF cache folder {str(root)!r} cannot be created or "
            f"written ({error.strerror or error}). Point ${CACHE_ENV} or "
            "`cache_dir=` at a writable folder. Received: cache_dir="
            f"{str(root)!r}"
        ) from error


def describe_files(folder):
    """Size, modification time and sha256 of every file under `folder`."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != SOURCE_FILE:
            stat = path.stat()
            files[path.relative_to(folder).as_posix()] = {
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "sha256": file_sha256(path),
            }
    return files


def damage(folder, info):
    """What is wrong with a cache entry, or None when it is intact.

    Args:
        folder: `pathlib.Path`, the entry.
        info: dict, its `gguf_source.json`.

    Returns:
        str describing the first problem found, or None.
    """
    files = info.get("files")
    if not isinstance(files, dict) or not files:
        return "it records no checksums (written by an older version)"
    for name, want in files.items():
        path = folder / name
        try:
            stat = path.stat()
        except OSError:
            return f"{name} is missing"
        if stat.st_size != want.get("size"):
            return f"{name} has {stat.st_size} bytes, not {want.get('size')}"
        unchanged = stat.st_mtime_ns == want.get("mtime_ns")
        if unchanged and stat.st_size > ALWAYS_HASHED_BYTES:
            continue
        if file_sha256(path) != want.get("sha256"):
            return f"{name} does not hash as recorded"
    return None


@contextlib.contextmanager
def locked(root, key):
    """An exclusive lock on one cache entry, across processes (POSIX)."""
    try:
        import fcntl
    except ImportError:  # Not POSIX: no cross-process lock.
        yield
        return
    with open(root / f".{key}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def staging(root):
    """A staging folder for a new entry.

    See `atomic_files.staging_directory`.
    """
    return atomic_files.staging_directory(root, _STAGING_PREFIX)


def remove_stale(root):
    """Removes the staging folders of dead conversions, where it can.

    A conversion killed after its entry was renamed into place, but before
    its (then empty) staging folder was removed, leaves that folder; a
    later load of the same file finds the entry complete and converts
    nothing, so it cleans up here.
    """
    try:
        atomic_files.remove_stale_staging(root, _STAGING_PREFIX)
    except OSError:  # A read-only or unlistable cache: nothing to do.
        pass


def commit(staged, target, info):
    """Records checksums, then moves a filled staging folder into place.

    Args:
        staged: `pathlib.Path`, the filled preset folder.
        target: `pathlib.Path`, the entry's folder (replaced if present).
        info: dict, written as `gguf_source.json` with the checksums.
    """
    info = {**info, "files": describe_files(staged)}
    atomic_files.write_json_atomic(staged / SOURCE_FILE, info)
    if target.exists():
        shutil.rmtree(target)
    atomic_files.commit_directory(staged, target)


def discard(target, reason):
    """Removes a damaged entry, with a warning that says why."""
    logging.warning(
        "The cached GGUF conversion %s is damaged (%s); converting the "
        "source file again.",
        target,
        reason,
    )
    shutil.rmtree(target, ignore_errors=True)
