"""A resumable, self-checking on-disk store of sampled solutions.

`SampleStore` is the store; `sample_to_store` samples into it, resuming
after the problems already stored:

>>> import tempfile
>>> from keras_mathft.sampling import SamplingConfig
>>> fake = lambda ps: [[Sample(p, 0, "t", "1", 1)] for p in ps]
>>> config = SamplingConfig(num_samples=1)
>>> store = sample_to_store(
...     None, ["1+0?"], tempfile.mkdtemp(), config, sample_fn=fake
... )
>>> sorted(store.by_problem()), store.read_meta()["num_samples"]
(['0'], 1)
"""

import collections
import contextlib
import json
import pathlib

from absl import logging

from keras_mathft.atomic_files import excerpt_file
from keras_mathft.atomic_files import try_read_json_object
from keras_mathft.runtime.processes import this_process
from keras_mathft.runtime.writer_lock import WriterLock
from keras_mathft.sampling import shards
from keras_mathft.sampling.sample_record import Sample
from keras_mathft.sampling.sample_record import problem_id
from keras_mathft.sampling.sample_record import problem_text
from keras_mathft.sampling.sampling_config import resolve_config
from keras_mathft.sampling.shards import StoreDamagedError


class SampleStore:
    """A directory of JSONL shards, each holding every sample of some problems.

    Writers and namespaces. Each writing process owns a namespace
    (`process_index`): its shards, its manifest and its writer lock (file
    names in `keras_mathft.sampling.shards`). The lock is an OS file lock
    (see `keras_mathft.runtime.writer_lock`) taken by the first write, or by
    `writing()`, and held until `close()`. A second process writing the
    same namespace is refused with an error naming the holder's pid; the
    kernel drops the lock when the holder dies, so a killed run resumes
    without clean-up. Readers need no lock.

    Commits. A shard is written to a temporary file, fsynced and renamed
    into place, then the namespace's manifest, which lists every committed
    shard with its row count, byte size and SHA-256, is rewritten the same
    way. A shard counts only once the manifest lists it, so a run killed
    at any point leaves whole, listed shards and at most one unlisted one.

    Checks. Loading verifies every listed shard (present, same size, same
    checksum, same rows) and that no (problem_id, sample_index) appears
    twice, and raises `StoreDamagedError` naming the file otherwise.
    Unlisted shard files (a killed commit, or a shard copied in under
    another name) are never loaded. A writer taking its namespace repairs
    it: damaged and unlisted shards are moved to `quarantine/` (never
    deleted) and dropped from the manifest, so `sample_to_store` samples
    their problems again; nothing is lost and nothing is counted twice.

    All N samples of a problem go into one shard. `meta.json` records the
    sampling settings; `check_meta` refuses to resume a store made with
    different settings.

    Args:
        directory: path of the store; created by the first write.

    Raises:
        ValueError: when `directory` is a file.

    Example:

    >>> import tempfile
    >>> store = SampleStore(tempfile.mkdtemp())
    >>> _ = store.write_shard([Sample("a", 0, "x", "1", 3)])
    >>> [s.text for s in store.load()]
    ['x']
    >>> store.close()
    """

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(
                "A sample store is a directory; this path is a file. Pass "
                f"another directory. Received: {str(self.directory)!r}"
            )
        self._locks = {}  # process index -> WriterLock
        self._keys = None  # stored (problem_id, sample_index), once writing

    # === Reading (no lock) ===

    def shard_paths(self):
        """Committed, verified shard files, sorted."""
        return [path for path, _ in self._census().good]

    def load(self):
        """Every stored `Sample`, verified, in shard order then written order.

        Raises:
            StoreDamagedError: naming a shard or manifest that is missing,
                damaged, or holds samples stored elsewhere too.
        """
        census = self._census()
        census.raise_first()
        return [s for _, samples in census.good for s in samples]

    def by_problem(self):
        """`{problem_id: [Sample, ...]}` sorted by sample index (verified)."""
        groups = {}
        for s in self.load():
            groups.setdefault(s.problem_id, []).append(s)
        for v in groups.values():
            v.sort(key=lambda s: s.sample_index)
        return groups

    def completed_problem_ids(self, num_samples=None):
        """Ids of problems whose samples are stored and verified.

        Args:
            num_samples: int or None. When given, a problem counts only if
                it has exactly the sample indices `0 .. num_samples - 1`.

        Raises:
            StoreDamagedError: as `load`.
        """
        keys = [(s.problem_id, s.sample_index) for s in self.load()]
        if num_samples is None:
            return {pid for pid, _ in keys}
        return _completed(keys, num_samples)

    def verify(self):
        """Checks every shard; returns `{"shards", "samples", "unlisted"}`.

        `unlisted` names the shard files no manifest lists (never loaded).

        Raises:
            StoreDamagedError: as `load`.
        """
        census = self._census()
        census.raise_first()
        return {
            "shards": len(census.good),
            "samples": sum(len(s) for _, s in census.good),
            "unlisted": [p.name for p in census.unlisted],
        }

    def read_meta(self):
        """The stored sampling settings, or None before the first write.

        Raises:
            StoreDamagedError: when `meta.json` is not a JSON object.
        """
        path = self.directory / shards.META
        if not path.exists():
            return None
        meta, reason = try_read_json_object(path)
        if reason:
            raise StoreDamagedError(
                path,
                f"The settings file is unreadable ({reason}).",
                excerpt_file(path),
                remedy="Restore it, or sample into a new directory.",
            )
        return meta

    # === Writing (under the namespace's lock) ===

    def check_meta(self, meta):
        """Writes `meta` the first time; raises if it differs afterwards.

        The first write never overwrites (see `shards.create_once`), so two
        writers starting together agree on one.
        """
        old = self.read_meta()
        if old is None:
            text = json.dumps(meta, indent=1)
            shards.create_once(self.directory / shards.META, text)
            old = self.read_meta()
        if old != json.loads(json.dumps(meta)):
            raise ValueError(
                f"The store at {self.directory} was made with other settings; "
                "use a new directory or the same settings. "
                f"Received: {meta}, stored: {old}"
            )

    @contextlib.contextmanager
    def writing(self, process_index=0):
        """Holds namespace `process_index` for the `with` block.

        Takes its lock (unless this store holds it already) and repairs the
        namespace (see the class docstring); releases the lock at the end
        only if it took it.

        Raises:
            WriterLockedError: when another process writes this namespace.
        """
        taken = process_index not in self._locks
        self._writer(process_index)
        try:
            yield self
        finally:
            if taken:
                self._locks.pop(process_index).release()

    def write_shard(self, samples, process_index=0):
        """Commits `samples` as a new shard of `process_index`; returns it.

        Raises:
            ValueError: when a (problem_id, sample_index) repeats within
                `samples` or is stored already.
            WriterLockedError: when another process writes this namespace.
        """
        self._writer(process_index)
        keys = [(s.problem_id, s.sample_index) for s in samples]
        counts = collections.Counter(keys)
        repeated = sorted(
            k for k, n in counts.items() if n > 1 or k in self._keys
        )
        if repeated:
            raise ValueError(
                "Each (problem_id, sample_index) may be stored once; these "
                "are in the store already or repeat in this shard. Write "
                f"other samples. Received: {repeated[:5]}"
            )
        path = self._commit(process_index, [s.to_json() for s in samples])
        self._keys.update(keys)
        return path

    def set_scores(self, scores):
        """Adds evaluator scores, `{(problem_id, sample_index): score}`.

        Each affected shard is rewritten under a new name and swapped in
        by its manifest, then the old file is removed.

        Raises:
            StoreDamagedError: as `load`.
            WriterLockedError: when another process writes a namespace
                that must change.
        """

        def changes(samples):
            keys = ((s.problem_id, s.sample_index) for s in samples)
            return any(k in scores for k in keys)

        for path, samples in self._census().good:
            if changes(samples):
                self._writer(shards.shard_process(path))
        census = self._census()
        census.raise_first()
        for path, samples in census.good:
            if not changes(samples):
                continue
            rows = [s.to_json() for s in samples]
            for row in rows:
                key = (row["problem_id"], row["sample_index"])
                if key in scores:
                    row["score"] = float(scores[key])
            self._commit(shards.shard_process(path), rows, replacing=path.name)
            path.unlink()

    def close(self):
        """Releases every namespace lock this store holds."""
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # === Internals ===

    def _census(self):
        return shards.Census(self.directory)

    def _commit(self, process_index, rows, replacing=None):
        manifest = self._manifest(process_index)
        return shards.commit_shard(self.directory, manifest, rows, replacing)

    def _manifest(self, process_index):
        """This namespace's manifest; a fresh one when none is readable."""
        path = self.directory / shards.manifest_name(process_index)
        manifest, reason = shards.read_manifest(path, process_index)
        if manifest is not None:
            return manifest
        if path.exists():
            # Its shards cannot be verified: `_repair` sets them aside as
            # unlisted, and the manifest goes too.
            logging.warning(
                "Sample store %s: %s is damaged (%s), moved to %s.",
                self.directory,
                path.name,
                reason,
                shards.quarantine(path),
            )
        return shards.new_manifest(self.directory, process_index)

    def _writer(self, process_index):
        """Takes (once) the lock of a namespace and repairs the namespace."""
        if process_index in self._locks:
            return
        if not isinstance(process_index, int) or process_index < 0:
            raise ValueError(
                "`process_index` must be an int >= 0. "
                f"Received: {process_index!r}"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(
            self.directory / shards.lock_name(process_index),
            f"Namespace p{process_index:03d} of the sample store "
            f"{str(self.directory)!r}",
        )
        try:
            census = self._repair(process_index)
        except BaseException:
            lock.release()
            raise
        self._locks[process_index] = lock
        for damage in census.damaged:
            logging.warning(
                "Sample store %s: %s is damaged (%s); the writer of "
                "process %d sets it aside when resumed.",
                self.directory,
                damage.path.name,
                damage.reason,
                damage.process_index,
            )
        self._keys = {
            (s.problem_id, s.sample_index)
            for _, samples in census.good
            for s in samples
        }

    def _repair(self, process_index):
        """Quarantines the damaged and unlisted shards of one namespace.

        Returns the census of the store after the repair.
        """
        for path in self.directory.iterdir():
            m = shards.TEMPORARY.match(path.name)
            if m and int(m.group(1)) == process_index:
                path.unlink()  # an uncommitted write: no data in it
        census = self._census()
        mine = [d for d in census.damaged if d.process_index == process_index]
        unlisted = [
            p
            for p in census.unlisted
            if shards.shard_process(p) == process_index
        ]
        if not mine and not unlisted:
            return census
        manifest = self._manifest(process_index)
        bad = [
            (d.path, d.reason) for d in mine if shards.SHARD.match(d.path.name)
        ]
        bad += [(p, "not listed by the manifest") for p in unlisted]
        for path, reason in bad:
            if path.exists():
                where = f"moved to {shards.quarantine(path)}"
            else:
                where = "missing"
            logging.warning(
                "Sample store %s: %s (%s, %s); its problems will be "
                "sampled again.",
                self.directory,
                path.name,
                reason,
                where,
            )
        dropped = {path.name for path, _ in bad}
        manifest["shards"] = [
            e for e in manifest["shards"] if e["name"] not in dropped
        ]
        shards.write_manifest(self.directory, manifest)
        census.damaged = [
            d for d in census.damaged if d.process_index != process_index
        ]
        return census


def shard_problems(problems, process_index, num_processes):
    """This process's share of `problems` (round-robin by position)."""
    if not 0 <= process_index < num_processes:
        raise ValueError(
            "`process_index` must be in [0, num_processes). Received: "
            f"{process_index} of {num_processes}"
        )
    return list(problems)[process_index::num_processes]


def sample_to_store(
    model,
    problems,
    store,
    config=None,
    *,
    problems_per_shard=32,
    process_index=None,
    num_processes=None,
    verbose=True,
    sample_fn=None,
    on_stats=None,
):
    """Samples into a store, resuming after the problems already stored.

    Each process samples every `num_processes`-th problem into its own
    namespace (`process_index`; by default its place in JAX's distributed
    runtime, or 0 of 1). Samples depend only on (seed, problem, sample
    index): a resumed or re-sharded run draws the same ones. The store
    records `config.draws()` and refuses to resume with other draws.

    Args:
        model: a `MathSolver` or keras-hub `CausalLM`.
        problems: list of `MathProblem` (with unique ids) or strings; one
            listed twice (same id and text) is sampled once.
        store: a `SampleStore` or a directory.
        config: optional `SamplingConfig`; `SamplingConfig()` by default.
        problems_per_shard: int. Problems per shard, the unit of resuming.
        sample_fn: optional callable `problems -> list of lists of Sample`
            replacing the model (tests, other engines).
        on_stats: optional callable, given the sampler's `SamplingStats`
            once every problem is stored (not with `sample_fn`).
        verbose, process_index, num_processes: the progress bar, the share.

    Returns:
        The `SampleStore` (example in the module docstring).

    Raises:
        ValueError: on two problems with one id and two texts, other draws
            in the store, or a problem without exactly N samples.
        WriterLockedError, StoreDamagedError: as `SampleStore.writing`.
    """
    config = resolve_config(config)
    store = store if isinstance(store, SampleStore) else SampleStore(store)
    index, count = _share(process_index, num_processes)
    indexed = _unique_problems(list(problems))
    with store.writing(index):
        store.check_meta(config.draws())  # checked on every resume
        mine = shard_problems(indexed, index, count)
        todo = _not_stored(store, mine, config.num_samples)
        if sample_fn is None:
            stream = _sampler_stream(model, todo, config, verbose)
        else:
            stream = _batched(sample_fn, todo, problems_per_shard)
        shards_of = (index, problems_per_shard)
        _store_stream(store, stream, todo, config.num_samples, shards_of)
    if on_stats is not None and getattr(stream, "stats", None) is not None:
        on_stats(stream.stats)
    return store


def _share(process_index, num_processes):
    """`(process_index, num_processes)`, None taken from `this_process`."""
    here, count = this_process()
    return (
        here if process_index is None else process_index,
        count if num_processes is None else num_processes,
    )


def _not_stored(store, indexed, num_samples):
    """The `(position, problem)` pairs whose samples are not all stored.

    Reads the verified shards of every namespace (damaged ones do not
    count), as the store's writer holds them.
    """
    done = _completed(store._keys, num_samples)
    return [(i, p) for i, p in indexed if problem_id(p, i) not in done]


def _sampler_stream(model, todo, config, verbose):
    """The model's sampler's stream over every problem left."""
    from keras_mathft.sampling.sampler import get_sampler

    # One stream over every problem left: the sampler's slots stay full
    # across shard boundaries, and finished problems are committed as
    # soon as a shard's worth is done.
    sampler = get_sampler(model, config)
    return sampler.iter_problems([p for _, p in todo], config, verbose)


def _store_stream(store, stream, todo, num_samples, where):
    """Commits the stream's problems; `where`: `(process_index, problems
    per shard)`."""
    process_index, shard_size = where
    ready = []
    for k, samples in stream:
        i, p = todo[k]
        ready.append(_checked(samples, problem_id(p, i), num_samples))
        if len(ready) == shard_size:
            _write_groups(store, ready, process_index)
            ready = []
    if ready:
        _write_groups(store, ready, process_index)


def _batched(sample_fn, todo, size):
    """`(position in todo, samples)` from `sample_fn` on batches of todo."""
    for start in range(0, len(todo), size):
        part = todo[start : start + size]
        results = list(sample_fn([p for _, p in part]))
        if len(results) != len(part):
            raise ValueError(
                "The sampler must return one list of samples per "
                f"problem. Received: {len(results)} lists for "
                f"{len(part)} problems"
            )
        yield from enumerate(results, start)


def _checked(samples, pid, num_samples):
    samples = [_with_id(s, pid) for s in samples]
    got = sorted(s.sample_index for s in samples)
    if got != list(range(num_samples)):
        raise ValueError(
            f"The sampler must return {num_samples} samples "
            f"(indices 0 .. {num_samples - 1}) per problem. "
            f"Received: indices {got[:8]} for problem {pid!r}"
        )
    return samples


def _write_groups(store, groups, process_index):
    # A problem stored in part (e.g. by hand) gets the rest.
    flat = [
        s
        for samples in groups
        for s in samples
        if (s.problem_id, s.sample_index) not in store._keys
    ]
    store.write_shard(flat, process_index=process_index)
    return store


def _completed(keys, num_samples):
    """Ids whose stored sample indices are exactly 0 .. num_samples - 1."""
    indices = {}
    for pid, index in keys:
        indices.setdefault(pid, set()).add(index)
    full = set(range(num_samples))
    return {pid for pid, got in indices.items() if got == full}


def _unique_problems(problems):
    """`(position, problem)` pairs, one per id; refuses conflicting ids."""
    first, out = {}, []
    for i, p in enumerate(problems):
        pid = problem_id(p, i)
        if pid in first:
            j = first[pid]
            # Loaders match problems on stripped text (e.g. PRM800K's).
            if problem_text(problems[j]).strip() != problem_text(p).strip():
                raise ValueError(
                    "Two problems share the id "
                    f"{pid!r} but differ; their samples would mix in the "
                    "store. Give each problem its own `unique_id`. "
                    f"Received: positions {j} and {i}"
                )
            continue
        first[pid] = i
        out.append((i, p))
    return out


def _with_id(sample, problem_id):
    # String problems get positional ids; keep the global position.
    if sample.problem_id == problem_id:
        return sample
    data = sample.to_json()
    data["problem_id"] = problem_id
    return Sample.from_json(data)
