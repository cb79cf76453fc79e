"""Sample store: atomic shards, kill-and-resume, multi-process merge."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import types
from unittest import mock

import keras
import pytest

from keras_mathft.data import MathProblem
from keras_mathft.sampling import Sample
from keras_mathft.sampling import SampleStore
from keras_mathft.sampling import SamplingConfig
from keras_mathft.sampling import SolutionSampler
from keras_mathft.sampling import merge_stores
from keras_mathft.sampling import sample_solutions
from keras_mathft.sampling import sample_to_store
from keras_mathft.sampling import shard_problems
from keras_mathft.sampling import store as store_lib

from . import store_child

CHILD = pathlib.Path(store_child.__file__)


def run_child(directory, process=0, processes=1, kill_at=None):
    args = [sys.executable, str(CHILD), str(directory), str(process)]
    args += [str(processes)] + ([kill_at] if kill_at else [])
    env = dict(os.environ, PYTHONPATH=str(CHILD.parents[2]))
    return subprocess.Popen(args, env=env)


def keys(samples):
    return sorted((s.problem_id, s.sample_index) for s in samples)


def reference():
    return {
        (s.problem_id, s.sample_index): s
        for group in store_child.fake_samples(store_child.PROBLEMS)
        for s in group
    }


@pytest.mark.backend_independent
def test_round_trip_is_exact(tmp_path):
    store = SampleStore(tmp_path)
    written = [
        Sample("a", 0, "x \\boxed{1}", "1", 5),
        Sample("a", 1, 'ünïcode\n"q"', None, 7, finished=False),
    ]
    store.write_shard(written[:1])
    store.write_shard(written[1:], process_index=3)
    assert store.load() == written
    assert store.completed_problem_ids() == {"a"}
    store.set_scores({("a", 1): 0.25})
    assert [s.score for s in SampleStore(tmp_path).load()] == [None, 0.25]


@pytest.mark.backend_independent
def test_meta_mismatch_refuses_to_resume(tmp_path):
    store = SampleStore(tmp_path)
    store.check_meta({"seed": 0})
    store.check_meta({"seed": 0})
    with pytest.raises(ValueError, match="other settings"):
        store.check_meta({"seed": 1})


@pytest.mark.backend_independent
def test_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    # A kill before each os.replace / os.fsync / os.link of a whole run
    # covers every state a commit passes through (shard written, synced,
    # renamed; manifest written, synced, renamed). The kernel drops the
    # writer lock with the process, so each resume starts at once.
    counter = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path / "count"), "0", "1"]
        + ["count"],
        env=dict(os.environ, PYTHONPATH=str(CHILD.parents[2])),
        capture_output=True,
        text=True,
        check=True,
    )
    calls = json.loads(counter.stdout.splitlines()[-1])
    assert calls["replace"] >= 8 and calls["fsync"] >= 8
    for name, count in calls.items():
        for k in range(1, count + 1):
            _kill_and_resume(tmp_path / f"{name}{k}", f"{name}:{k}")


def _kill_and_resume(directory, kill_at):
    assert run_child(directory, kill_at=kill_at).wait(timeout=120) == -9
    store_child.main(str(directory), 0, 1)  # resume, in this process
    loaded = SampleStore(directory).load()
    assert {(s.problem_id, s.sample_index): s for s in loaded} == (
        reference()
    ), kill_at
    assert len(loaded) == len(reference()), kill_at
    # A second resume has nothing left to do.
    store_child.main(str(directory), 0, 1)
    assert len(SampleStore(directory).load()) == len(loaded)


@pytest.mark.backend_independent
def test_two_processes_fill_one_store_and_merge(tmp_path):
    shared = tmp_path / "shared"
    children = [run_child(shared, i, 2) for i in range(2)]
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    names = {p.name[:10] for p in SampleStore(shared).shard_paths()}
    assert names == {"shard-p000", "shard-p001"}
    merged = merge_stores([shared], tmp_path / "merged")
    loaded = merged.load()
    assert {(s.problem_id, s.sample_index): s for s in loaded} == reference()
    assert len(loaded) == len(reference())
    with pytest.raises(ValueError, match="overlap"):
        merge_stores([shared, tmp_path / "merged"], tmp_path / "again")


@pytest.mark.backend_independent
def test_shard_problems_partitions():
    parts = [shard_problems(range(10), i, 3) for i in range(3)]
    assert sorted(sum(parts, [])) == list(range(10))
    with pytest.raises(ValueError, match="Received"):
        shard_problems(range(10), 3, 3)


@pytest.mark.backend_independent
def test_process_defaults_follow_jax_when_loaded(tmp_path, monkeypatch):
    # Process 1 of 3 in a JAX cluster (the runtime itself is tested in
    # tests/test_multiprocess.py): its namespace, every third problem.
    cluster = types.SimpleNamespace(
        process_index=lambda: 1, process_count=lambda: 3
    )
    monkeypatch.setitem(sys.modules, "jax", cluster)
    store_child.main(str(tmp_path), None, None)
    names = {p.name[:10] for p in SampleStore(tmp_path).shard_paths()}
    assert names == {"shard-p001"}
    ids = {s.problem_id for s in SampleStore(tmp_path).load()}
    assert ids == {p.unique_id for p in store_child.PROBLEMS[1::3]}
    monkeypatch.delitem(sys.modules, "jax")
    assert store_lib.this_process() == (0, 1)


def test_real_model_resume_draws_the_same_samples(tmp_path, gpt2_lm):
    problems = [
        MathProblem(f"What is {i}+{i}?", "", str(2 * i), unique_id=f"q{i}")
        for i in range(3)
    ]
    config = SamplingConfig(
        num_samples=3, max_new_tokens=6, stop_token_ids=None
    )
    kwargs = dict(problems_per_shard=1, verbose=False)
    # One decoding stream over every problem, however many shards: the
    # sampler's slots never drain at a shard boundary.
    with mock.patch.object(
        SolutionSampler,
        "iter_problems",
        autospec=True,
        side_effect=SolutionSampler.iter_problems,
    ) as streams:
        full = sample_to_store(
            gpt2_lm, problems, tmp_path / "full", config, **kwargs
        )
    assert streams.call_count == 1
    assert len(full.shard_paths()) == 3
    assert full.by_problem() == {
        p.unique_id: group
        for p, group in zip(
            problems,
            sample_solutions(gpt2_lm, problems, config, verbose=False),
        )
    }
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    cut = SampleStore(tmp_path / "cut")
    cut.shard_paths()[-1].unlink()
    sample_to_store(gpt2_lm, problems, cut, config, **kwargs)
    assert keys(cut.load()) == keys(full.load())
    assert cut.by_problem() == full.by_problem()


@pytest.mark.slow
@pytest.mark.skipif(
    keras.config.backend() != "jax",
    reason="keras.distribution on JAX: the child runs JAX on any backend",
)
def test_data_parallel_shards_rows_and_keeps_samples():
    # JAX with 2 virtual CPU devices, in a fresh process (XLA_FLAGS must be
    # set before jax starts).
    child = CHILD.with_name("data_parallel_child.py")
    env = dict(os.environ, PYTHONPATH=str(CHILD.parents[2]))
    proc = subprocess.run(
        [sys.executable, str(child)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result == {"devices": 2, "data_parallel": 2, "same": True}
