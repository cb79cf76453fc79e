"""Sample store: one writer per namespace, and shards that check themselves."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from keras_mathft.data import MathProblem
from keras_mathft.sampling import Sample
from keras_mathft.sampling import SampleStore
from keras_mathft.sampling import SamplingConfig
from keras_mathft.sampling import merge_stores
from keras_mathft.sampling import sample_to_store

from . import store_child
from .test_store import CHILD
from .test_store import reference

pytestmark = pytest.mark.backend_independent


def _by_key(samples):
    return {(s.problem_id, s.sample_index): s for s in samples}


def _run_child(directory, process=0, processes=1):
    return subprocess.run(
        [sys.executable, str(CHILD), str(directory), str(process)]
        + [str(processes)],
        env=dict(os.environ, PYTHONPATH=str(CHILD.parents[2])),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fill(directory):
    store_child.main(str(directory), 0, 1)
    return SampleStore(directory)


def test_second_writer_of_a_namespace_is_refused_by_pid(tmp_path):
    store_dir = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, str(CHILD), str(store_dir), "0", "2", "hold"],
        env=dict(os.environ, PYTHONPATH=str(CHILD.parents[2])),
    )
    try:
        ready = tmp_path / "store.ready"
        for _ in range(2400):  # until the holder samples (2 min at most)
            if ready.exists() or holder.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists()
        refused = _run_child(store_dir, 0, 2)
        assert refused.returncode == 1, refused.stderr[-2000:]
        assert "in use by another writer" in refused.stderr
        assert f"pid {holder.pid}" in refused.stderr
        # Another namespace of the same store is free.
        assert _run_child(store_dir, 1, 2).returncode == 0
    finally:
        (tmp_path / "store.go").touch()
        assert holder.wait(timeout=120) == 0
    # Nothing is lost or doubled.
    loaded = SampleStore(store_dir).load()
    assert _by_key(loaded) == reference() and len(loaded) == len(reference())
    merged = merge_stores([store_dir], tmp_path / "merged").load()
    assert _by_key(merged) == reference()


def test_a_released_namespace_lets_the_next_writer_in(tmp_path):
    store = SampleStore(tmp_path)
    with store.writing(0):
        refused = _run_child(tmp_path)
        assert f"pid {os.getpid()}" in refused.stderr
    assert _run_child(tmp_path).returncode == 0
    assert len(store.load()) == len(reference())


def _truncate_at_line(path):
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])


def _truncate_mid_line(path):
    path.write_bytes(path.read_bytes()[:-7])


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _invalid_utf8(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] = 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (_truncate_at_line, "truncated"),
        (_truncate_mid_line, "truncated"),
        (_flip_byte, "checksum"),
        (_invalid_utf8, "checksum"),
        (os.remove, "missing"),
    ],
)
def test_damaged_shard_is_named_then_quarantined_and_resampled(
    tmp_path, damage, reason
):
    store = _fill(tmp_path)
    victim = store.shard_paths()[1]
    original = victim.read_bytes()
    damage(victim)
    # Readers refuse, naming the shard, instead of loading part of it or
    # failing inside the JSON decoder.
    for read in (store.load, store.by_problem, store.completed_problem_ids):
        with pytest.raises(ValueError, match=f"{victim.name}: .*{reason}"):
            read()
    # A resume sets it aside and samples its problems again.
    store_child.main(str(tmp_path), 0, 1)
    loaded = store.load()
    assert _by_key(loaded) == reference() and len(loaded) == len(reference())
    groups = store.by_problem()
    assert all(
        [s.sample_index for s in g] == [0, 1, 2] for g in groups.values()
    )
    kept = list((tmp_path / "quarantine").glob(victim.name + ".*"))
    if damage is os.remove:
        assert kept == []
    else:
        assert [p.read_bytes() != original for p in kept] == [True]


def test_copied_shards_are_never_loaded_twice(tmp_path):
    store = _fill(tmp_path)
    first = store.shard_paths()[0]
    for name in ("shard-p000-000009.jsonl", "shard-p001-000000.jsonl"):
        shutil.copy(first, tmp_path / name)
    groups = store.by_problem()
    assert all(
        [s.sample_index for s in g] == [0, 1, 2] for g in groups.values()
    )
    assert store.verify()["unlisted"] == [
        "shard-p000-000009.jsonl",
        "shard-p001-000000.jsonl",
    ]
    # The writer of namespace 0 sets its copy aside; namespace 1's stays
    # unlisted (and unloaded) until its own writer runs.
    store_child.main(str(tmp_path), 0, 1)
    assert store.verify()["unlisted"] == ["shard-p001-000000.jsonl"]
    assert len(store.load()) == len(reference())


def test_damaged_manifest_is_named_and_everything_resampled(tmp_path):
    store = _fill(tmp_path)
    (tmp_path / "manifest-p000.json").write_text("[1, 2")
    with pytest.raises(ValueError, match="manifest-p000.json: Unreadable"):
        store.load()
    store_child.main(str(tmp_path), 0, 1)
    loaded = store.load()
    assert _by_key(loaded) == reference() and len(loaded) == len(reference())
    quarantined = sorted(p.name for p in (tmp_path / "quarantine").iterdir())
    assert len(quarantined) == 5 and quarantined[0].startswith("manifest")


def test_repeated_samples_are_refused(tmp_path):
    store = SampleStore(tmp_path)
    store.write_shard([Sample("a", 0, "x", "1", 3)])
    with pytest.raises(ValueError, match="stored once"):
        store.write_shard([Sample("a", 0, "y", "1", 3)])
    with pytest.raises(ValueError, match="stored once"):
        store.write_shard([Sample("b", 0, "y", "1", 3)] * 2)
    assert [s.text for s in store.load()] == ["x"]
    store.close()


def _fake(num_samples):
    def sample(problems):
        return [
            [
                Sample(p.unique_id, j, p.problem, None, 1)
                for j in range(num_samples)
            ]
            for p in problems
        ]

    return sample


def test_repeated_problem_ids_never_merge(tmp_path):
    a = MathProblem("What is 1+1?", "", "2", unique_id="u")
    b = MathProblem("What is 2+2?", "", "4", unique_id="u")
    with pytest.raises(ValueError, match="share the id 'u'"):
        sample_to_store(
            None,
            [a, b],
            tmp_path / "x",
            SamplingConfig(num_samples=2),
            sample_fn=_fake(2),
        )
    # The same problem listed twice (up to surrounding space) is sampled
    # once.
    again = MathProblem(a.problem + "\n", "other", "2", unique_id="u")
    store = sample_to_store(
        None,
        [a, again],
        tmp_path,
        SamplingConfig(num_samples=2),
        sample_fn=_fake(2),
    )
    assert [s.sample_index for s in store.by_problem()["u"]] == [0, 1]


def test_resume_completes_a_problem_stored_in_part(tmp_path):
    problem = MathProblem("What is 1+1?", "", "2", unique_id="u")
    store = SampleStore(tmp_path)
    store.write_shard([Sample("u", 0, "kept", None, 1)])
    sample_to_store(
        None,
        [problem],
        store,
        SamplingConfig(num_samples=3),
        sample_fn=_fake(3),
    )
    texts = [s.text for s in store.by_problem()["u"]]
    assert texts == ["kept", problem.problem, problem.problem]
    assert store.completed_problem_ids(num_samples=3) == {"u"}
    assert store.completed_problem_ids(num_samples=4) == set()
    store.close()
    with pytest.raises(ValueError, match="must return 4 samples"):
        sample_to_store(
            None,
            [problem],
            tmp_path / "b",
            SamplingConfig(num_samples=4),
            sample_fn=_fake(3),
        )
