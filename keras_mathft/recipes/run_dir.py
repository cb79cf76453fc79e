"""A run directory: one folder per pipeline stage, resumable by design."""

import errno
import json
import os
import pathlib

from absl import logging

from keras_mathft.atomic_files import excerpt_file
from keras_mathft.atomic_files import try_read_json_object
from keras_mathft.atomic_files import write_json_atomic
from keras_mathft.runtime.processes import run_together
from keras_mathft.runtime.writer_lock import WriterLock
from keras_mathft.sampling.store import SampleStore
from keras_mathft.sampling.store import StoreDamagedError

CONFIG_FILE = "config.json"
LOCK_FILE = "writer.lock"
_DONE = "DONE.json"
_MARKER = "keras_mathft stage marker"
_MARKER_VERSION = 1
# Files a stage's marker does not vouch for: locks change holder, and a
# store's quarantine is written only by repairs.
_UNRECORDED_SUFFIXES = (".lock", ".tmp")
_UNRECORDED_FOLDERS = ("quarantine",)


class RunDirectoryError(ValueError):
    """The run directory cannot be used as it is; the message says why."""


class RunDirectory:
    """The folder of one pipeline run, with a sub-folder per stage.

    Opening takes the run's writer lock (`writer.lock`, an OS file lock
    the kernel drops when the process dies; see
    `keras_mathft.runtime.writer_lock`), so a second process on the same
    folder is refused with an error naming the holder's pid. The lock is
    held until `close()` (or until the object is garbage collected);
    within one process it is re-entrant.

    A stage counts as done when its `DONE.json` marker exists; the marker is
    written last, atomically, after every artifact of the stage. It holds
    the stage's summary, the run's settings and the size of every file of
    the stage, so the settings are stored once per finished stage besides
    `config.json`. A run that is killed midway therefore restarts at the
    first stage without a marker, and that stage resumes from whatever
    partial state it keeps (a training checkpoint, a sample store).

    Opening checks, and refuses with a message saying what to change:
    a path that is a file, lies under a file or cannot be written; a
    `config.json` that is unreadable, not an object, or holds other
    settings than `config`; a marker that is unreadable or holds other
    settings; and a finished stage whose files went missing, changed size,
    or whose sample store fails its check. A missing `config.json` is
    written again when every marker matches `config`; without
    markers, stage folders with no `config.json` are refused, since their
    settings are unknown. Settings added in later versions
    (`later_settings`) are not checked against a run that did not store
    them.

    With one process per host (JAX's distributed runtime), process 0
    alone opens the folder this way, while the others wait; once it has
    (or failed, and then they fail too), they use the folder without
    the lock and without writing (see `keras_mathft.runtime.processes`). The
    folder must be one that every host sees (NFS, a GCS FUSE mount).

    Args:
        path: str or `pathlib.Path`. Created if missing.
        config: dict or None. The run's settings (JSON values). When
            given, they are stored in `config.json` and in every marker,
            and the folder must hold a run of the same settings.
        stage_settings: optional `fn(stage, settings) -> settings`, the
            part of a run's settings that `stage`'s results depend on. A
            marker is checked on that part only, so a stage folder copied
            from a run that differs elsewhere is reused. Defaults to all
            of them.
        later_settings: names of settings in `config` that older versions
            did not store. A run directory whose `config.json` lacks them
            is opened without checking them, with a warning, and its
            `config.json` gains them; a marker that lacks them is checked
            on the others.

    Raises:
        RunDirectoryError: for the states above.
        WriterLockedError: when another process holds the run.

    Example:

    >>> import tempfile
    >>> run = RunDirectory(tempfile.mkdtemp(), config={"seed": 0})
    >>> run.is_done("ssft")
    False
    >>> run.mark_done("ssft", {"loss": 1.5})
    >>> run.summary("ssft")
    {'loss': 1.5}
    >>> run.close()
    """

    def __init__(
        self, path, config=None, stage_settings=None, later_settings=()
    ):
        self.path = pathlib.Path(path)
        self.config = None if config is None else _json_copy(config)
        self._stage_settings = stage_settings or (lambda stage, s: s)
        self._later_settings = tuple(later_settings)
        self._lock = None
        self._what = f"The run directory {str(path)!r}"
        run_together(
            self._open,
            f"opening the run directory {str(path)!r}",
            writer_only=True,
        )

    def _open(self):
        """Creates, locks and checks the folder (the writing process)."""
        _create(self.path)
        try:
            self._lock = WriterLock(self.path / LOCK_FILE, self._what)
        except OSError as e:
            raise _unwritable(self.path, e) from None
        try:
            markers = self._read_markers()
            if self.config is not None:
                self._check_config(markers)
        except BaseException:
            self._lock.release()
            raise

    def close(self):
        """Releases the run's writer lock."""
        if self._lock is not None:
            self._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def stage_dir(self, stage):
        """Returns the (created) folder of `stage`."""
        stage_path = self.path / stage
        stage_path.mkdir(parents=True, exist_ok=True)
        return stage_path

    def is_done(self, stage):
        return (self.path / stage / _DONE).exists()

    def mark_done(self, stage, summary=None):
        """Marks `stage` complete, storing a small JSON `summary`.

        The marker also records the run's settings and the size of every
        file the stage wrote; nothing may change them afterwards.
        """
        folder = self.stage_dir(stage)
        marker = {
            "marker": _MARKER,
            "version": _MARKER_VERSION,
            "stage": stage,
            "config": self.config,
            "files": _file_sizes(folder),
            "summary": summary or {},
        }
        write_json_atomic(folder / _DONE, marker)

    def summary(self, stage):
        """Returns the summary stored by `mark_done` for `stage`."""
        marker, reason = _read_marker(self.path / stage / _DONE, stage)
        if reason:
            raise _bad_marker(self.path / stage / _DONE, stage, reason)
        return marker["summary"]

    # === Checks on opening ===

    def _read_markers(self):
        """Every stage marker, checked against its stage's files."""
        markers = {}
        for folder in sorted(p for p in self.path.iterdir() if p.is_dir()):
            path = folder / _DONE
            if not os.path.lexists(path):
                continue
            marker, reason = _read_marker(path, folder.name)
            if reason:
                raise _bad_marker(path, folder.name, reason)
            _check_files(folder, marker["files"])
            markers[folder.name] = marker
        return markers

    def _check_config(self, markers):
        path = self.path / CONFIG_FILE
        for stage, marker in markers.items():
            stored = self._stage_settings(stage, marker["config"])
            wanted = self._stage_settings(
                stage, self._as_stored_by(marker["config"])
            )
            if stored != wanted:
                raise RunDirectoryError(
                    f"Stage {stage!r} of the run directory "
                    f"{str(self.path)!r} was run with other settings. Use a "
                    "new `run_dir` (--run_dir) to start another run, or the "
                    "same settings to resume this one. Received: "
                    + _diff(stored, wanted)
                )
        if os.path.lexists(path):
            stored, reason = try_read_json_object(path)
            if reason:
                raise RunDirectoryError(
                    f"{path} is unreadable ({reason}). Delete it: the "
                    "settings are restored from the markers of the "
                    "finished stages (if any) on the next run. Received: "
                    + excerpt_file(path)
                )
            if stored == self.config:
                return
            if stored != self._as_stored_by(stored):
                raise RunDirectoryError(
                    f"The run directory {str(self.path)!r} holds a run with "
                    "other settings. Use a new `run_dir` (--run_dir) to "
                    "start another run, or the same settings to resume this "
                    "one. Received: " + _diff(stored, self.config)
                )
            logging.warning(
                "%s was written by an older keras_mathft, which did not "
                "store %s; resuming without checking them (they must be "
                "what the run started with). They are stored from now on.",
                path,
                ", ".join(sorted(set(self.config) - set(stored))),
            )
            write_json_atomic(path, self.config)
            return
        folders = sorted(p.name for p in self.path.iterdir() if p.is_dir())
        if folders and not markers:
            raise RunDirectoryError(
                f"The run directory {str(self.path)!r} holds stage folders "
                f"but no {CONFIG_FILE}, so the settings that made them are "
                f"unknown. Restore {CONFIG_FILE}, or use a new `run_dir` "
                f"(--run_dir). Received: folders {folders[:5]}"
            )
        if markers:
            logging.warning(
                "%s was missing; wrote the current settings, which the "
                "markers of stages %s match.",
                path,
                sorted(markers),
            )
        write_json_atomic(path, self.config)

    def _as_stored_by(self, stored):
        """`self.config` without the later settings `stored` lacks."""
        if not isinstance(stored, dict):
            return self.config
        return {
            k: v
            for k, v in self.config.items()
            if k in stored or k not in self._later_settings
        }


def check_run_dir_path(path):
    """Raises when `path` is a file or lies under one; creates nothing.

    `preflight.check_files_and_packages` calls it too, so a bad `--run_dir`
    stops before any work starts.

    Raises:
        RunDirectoryError: naming the file in the way.
    """
    path = pathlib.Path(path)
    for parent in [path, *path.parents]:
        if os.path.lexists(parent) and not parent.is_dir():
            where = "is a file" if parent == path else f"lies under {parent}"
            raise RunDirectoryError(
                "The run directory must be a folder, and this path "
                f"{where}, which is not one. Pass another `run_dir` "
                f"(--run_dir). Received: {str(path)!r}"
            )


def _create(path):
    """Creates the run folder, or says why it cannot be one."""
    check_run_dir_path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(path, e) from None


def _unwritable(path, error):
    reason = error.strerror or str(error)
    if error.errno == errno.EROFS:
        reason = "read-only file system"
    return RunDirectoryError(
        f"Cannot write to the run directory ({reason}). Pass a `run_dir` "
        f"(--run_dir) on a writable disk. Received: {str(path)!r}"
    )


def _read_marker(path, stage):
    """`(marker, None)`, or `(None, reason)` when it is not a valid one."""
    marker, reason = try_read_json_object(path)
    if reason:
        return None, reason
    ok = (
        marker.get("marker") == _MARKER
        and marker.get("version") == _MARKER_VERSION
        and isinstance(marker.get("summary"), dict)
        and isinstance(marker.get("files"), dict)
        and isinstance(marker.get("stage"), str)
        and "config" in marker
    )
    if not ok:
        return None, "not a stage marker of this version"
    if marker["stage"] != stage:
        return None, f"the marker of stage {marker['stage']!r}"
    return marker, None


def _bad_marker(path, stage, reason):
    return RunDirectoryError(
        f"{path} is not a valid stage marker ({reason}). Delete it to run "
        f"stage {stage!r} again. Received: {excerpt_file(path)}"
    )


def _check_files(folder, recorded):
    """Refuses a finished stage whose files changed after its marker."""
    stage = folder.name
    for name, size in sorted(recorded.items()):
        file = folder / name
        try:
            actual = file.stat().st_size
        except OSError:
            actual = None
        if actual != size:
            what = "is missing" if actual is None else "changed size"
            raise RunDirectoryError(
                f"{file}, written by the finished stage {stage!r}, {what}. "
                "Restore it, or delete "
                f"{folder / _DONE} to run the stage again. Received: "
                f"{size} bytes recorded, "
                + ("none found" if actual is None else f"{actual} found")
            )
    stores = {p.parent for p in folder.glob("**/manifest-p*.json")}
    for store in sorted(stores):
        try:
            SampleStore(store).verify()
        except StoreDamagedError as e:
            raise RunDirectoryError(
                f"The sample store of the finished stage {stage!r} is "
                f"damaged: {e.path}: {e.reason} Delete {folder / _DONE} and "
                "rerun: the stage resumes, moves the damaged files to "
                "quarantine/ and samples their problems again. Received: "
                f"{pathlib.Path(e.path).name}"
            ) from None


def _file_sizes(folder):
    sizes = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _UNRECORDED_FOLDERS)
        for name in sorted(files):
            if name == _DONE or name.endswith(_UNRECORDED_SUFFIXES):
                continue
            path = pathlib.Path(root, name)
            sizes[path.relative_to(folder).as_posix()] = path.stat().st_size
    return sizes


def _json_copy(value):
    # Compared with what JSON files hold: tuples become lists, and so on.
    return json.loads(json.dumps(value))


def _diff(stored, wanted):
    stored = stored if isinstance(stored, dict) else {}
    changed = sorted(
        k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k)
    )
    return ", ".join(
        f"{k}: {stored.get(k)!r} -> {wanted.get(k)!r}" for k in changed
    )
