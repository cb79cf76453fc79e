"""The files of a sample store: shards, manifests, their checks, quarantine.

A store directory holds, per writing process `p` (its namespace):

- `shard-p{p:03d}-{n:06d}.jsonl`: one `Sample` per line, never changed
  once committed;
- `manifest-p{p:03d}.json`: the committed shards, each with its row
  count, byte size and SHA-256, and the next shard number (numbers are
  never reused);
- `writer-p{p:03d}.lock`: the namespace's writer lock.

plus `meta.json` (the sampling settings) and `quarantine/` (damaged or
unlisted files set aside by a writer). A shard counts only once its
manifest lists it and it matches the manifest's record.
"""

import hashlib
import json
import os
import re
import time

from keras_mathft.atomic_files import try_read_json_object
from keras_mathft.atomic_files import write_text_atomic
from keras_mathft.sampling.sample_record import Sample

SHARD = re.compile(r"^shard-p(\d+)-(\d+)\.jsonl$")
MANIFEST = re.compile(r"^manifest-p(\d+)\.json$")
# Leftovers of `write_text_atomic` killed before its rename.
TEMPORARY = re.compile(r"^\.(?:shard|manifest)-p(\d+)[-.].*\.tmp$")
META = "meta.json"
QUARANTINE = "quarantine"
_FORMAT = 1
_SAMPLE_FIELDS = {
    "problem_id": str,
    "sample_index": int,
    "text": str,
    "answer": (str, type(None)),
    "num_tokens": int,
    "finished": bool,
    "score": (float, int, type(None)),
}


class StoreDamagedError(ValueError):
    """A file of a sample store failed its check.

    Attributes:
        path: str. The damaged (or missing) file.
        reason: str. What is wrong with it.
    """

    def __init__(self, path, reason, received, others=0, remedy=None):
        self.path = str(path)
        self.reason = reason
        more = f" ({others} more damaged files)" if others else ""
        remedy = remedy or (
            "Resume sampling into this store with the same settings "
            "(`sample_to_store`, or rerun the recipe): its writer moves "
            f"damaged files to {QUARANTINE}/ and samples their problems "
            "again."
        )
        super().__init__(
            f"{self.path}: {reason}{more} {remedy} Received: {received}"
        )


def shard_name(process_index, number):
    return f"shard-p{process_index:03d}-{number:06d}.jsonl"


def manifest_name(process_index):
    return f"manifest-p{process_index:03d}.json"


def lock_name(process_index):
    return f"writer-p{process_index:03d}.lock"


def shard_process(path):
    """The process index in a shard's file name."""
    return int(SHARD.match(path.name).group(1))


class Damage:
    """A listed file that failed its check, or an unlisted shard."""

    def __init__(self, path, process_index, reason):
        self.path = path
        self.process_index = process_index
        self.reason = reason


class Census:
    """What a store directory holds, every shard checked.

    Attributes:
        good: list of `(path, samples)`, the verified listed shards in
            (process, number) order.
        damaged: list of `Damage`: bad manifests, and listed shards that
            are missing, altered, or repeat samples stored before them.
        unlisted: list of paths of shard files no manifest lists (a
            killed commit, or a copy); never loaded.
    """

    def __init__(self, directory):
        self.good, self.damaged, self.unlisted = [], [], []
        if not directory.is_dir():
            return
        names = {p.name for p in directory.iterdir()}
        listed, seen = set(), {}
        manifests = sorted(
            (int(m.group(1)), name)
            for name in names
            if (m := MANIFEST.match(name))
        )
        for process, name in manifests:
            manifest, reason = read_manifest(directory / name, process)
            if manifest is None:
                self.damaged.append(Damage(directory / name, process, reason))
                continue
            for entry in manifest["shards"]:
                listed.add(entry["name"])
                shard = directory / entry["name"]
                samples, reason = _read_shard(shard, entry)
                if reason is None:
                    reason = _first_repeat(samples, seen, shard)
                if reason is not None:
                    self.damaged.append(Damage(shard, process, reason))
                    continue
                for s in samples:
                    seen[(s.problem_id, s.sample_index)] = shard.name
                self.good.append((shard, samples))
        self.unlisted = sorted(
            directory / name
            for name in names
            if SHARD.match(name) and name not in listed
        )

    def raise_first(self):
        """Raises `StoreDamagedError` for the first damaged file, if any."""
        if self.damaged:
            first = self.damaged[0]
            raise StoreDamagedError(
                first.path,
                first.reason[0].upper() + first.reason[1:] + ".",
                first.path.name,
                others=len(self.damaged) - 1,
            )


def read_manifest(path, process_index):
    """`(manifest, None)`, or `(None, reason)` when missing or damaged."""
    if not path.exists():
        return None, "missing"
    manifest, reason = try_read_json_object(path)
    if reason:
        return None, f"unreadable manifest ({reason})"
    shards = manifest.get("shards")
    ok = (
        manifest.get("format") == _FORMAT
        and manifest.get("process_index") == process_index
        and isinstance(manifest.get("next_shard"), int)
        and isinstance(shards, list)
        and all(_is_entry(e, process_index, manifest) for e in shards)
    )
    if not ok:
        return None, "not a manifest of this namespace"
    return manifest, None


def new_manifest(directory, process_index):
    """An empty manifest whose next number follows every shard file seen."""
    numbers = [
        int(m.group(2))
        for p in directory.iterdir()
        if (m := SHARD.match(p.name)) and int(m.group(1)) == process_index
    ]
    # Never reuse a shard number, even one now in quarantine.
    quarantined = directory / QUARANTINE
    if quarantined.is_dir():
        for p in quarantined.iterdir():
            m = SHARD.match(p.name.split(".jsonl")[0] + ".jsonl")
            if m and int(m.group(1)) == process_index:
                numbers.append(int(m.group(2)))
    return {
        "format": _FORMAT,
        "process_index": process_index,
        "next_shard": max(numbers, default=-1) + 1,
        "shards": [],
    }


def write_manifest(directory, manifest):
    write_text_atomic(
        directory / manifest_name(manifest["process_index"]),
        json.dumps(manifest, indent=1),
    )


def commit_shard(directory, manifest, rows, replacing=None):
    """Writes a shard, then `manifest` listing it; returns the shard's path.

    Each write is atomic (a synced temporary file renamed into place), and
    the shard counts only once the manifest lists it, so a kill at any
    point leaves the previous state or the new one. With `replacing`, the
    new shard takes that shard's place in the manifest; the caller removes
    the old file.
    """
    number = manifest["next_shard"]
    path = directory / shard_name(manifest["process_index"], number)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    write_text_atomic(path, text)
    data = text.encode("utf-8")
    entry = {
        "name": path.name,
        "rows": len(rows),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    shards = [e for e in manifest["shards"] if e["name"] != replacing]
    manifest["shards"] = shards + [entry]
    manifest["next_shard"] = number + 1
    write_manifest(directory, manifest)
    return path


def quarantine(path):
    """Moves `path` into `quarantine/` under a fresh name; returns it."""
    folder = path.parent / QUARANTINE
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = folder / f"{path.name}.{stamp}"
    n = 1
    while target.exists():
        target = folder / f"{path.name}.{stamp}.{n}"
        n += 1
    os.replace(path, target)
    return target


def create_once(path, text):
    """Creates `path` holding `text` unless it exists; never overwrites.

    A synced temporary file is hard-linked to `path`, which fails if
    `path` exists, so of two writers starting together one wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_text_atomic(temporary, text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _is_entry(entry, process_index, manifest):
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        return False
    m = SHARD.match(entry["name"])
    return (
        m is not None
        and int(m.group(1)) == process_index
        and int(m.group(2)) < manifest["next_shard"]
        and isinstance(entry.get("rows"), int)
        and isinstance(entry.get("bytes"), int)
        and isinstance(entry.get("sha256"), str)
    )


def _read_shard(path, entry):
    """`(samples, None)`, or `(None, reason)` when it fails its check."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "listed by the manifest but missing"
    except OSError as e:
        return None, f"unreadable ({e.strerror})"
    if len(data) != entry["bytes"]:
        return None, (
            f"{len(data)} bytes where the manifest records {entry['bytes']} "
            "(truncated or appended to)"
        )
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return None, "its checksum differs from the manifest's (altered)"
    # Split on b"\n" only: texts may hold U+2028, which `splitlines` splits.
    lines = data.split(b"\n")
    if lines.pop() != b"":
        return None, "its last line is cut"
    samples = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            row = None
        if not _is_sample_row(row):
            return None, f"line {number} is not a sample record"
        samples.append(Sample.from_json(row))
    if len(samples) != entry["rows"]:
        return None, (
            f"{len(samples)} rows where the manifest records {entry['rows']}"
        )
    return samples, None


def _is_sample_row(row):
    return (
        isinstance(row, dict)
        and set(row) == set(_SAMPLE_FIELDS)
        and all(isinstance(row[k], t) for k, t in _SAMPLE_FIELDS.items())
    )


def _first_repeat(samples, seen, shard):
    """Why `samples` repeat stored keys (or each other), or None."""
    keys = set()
    for s in samples:
        key = (s.problem_id, s.sample_index)
        if key in seen or key in keys:
            where = seen.get(key, shard.name)
            return f"holds sample {key} already stored in {where}"
        keys.add(key)
    return None
