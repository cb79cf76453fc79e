"""The sympy worker pool: per-process, isolated, and bounded per call.

Issue 10 items 1-3. The symbolic pairs below all need a sympy task (their
exact canonical keys differ and their numeric fingerprints agree), and
each task is cheap, so these tests exercise the pool without being slow.
"""

import multiprocessing
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from keras_mathft.grading import answers_equivalent
from keras_mathft.grading import cluster_answers
from keras_mathft.grading import grading_stats
from keras_mathft.grading import pool

pytestmark = pytest.mark.backend_independent

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
# A generous allowance on top of a call's timeout for in-process work and
# for killing an overrunning worker (the documented worst case is far
# below it; see benchmarks/README.md).
MARGIN = 8.0


def symbolic_pairs(count):
    """`count` (a, b, expected) rows that each need one sympy task.

    `\\sqrt{x}^2` is opaque to the exact canonical form, so even the
    equal rows go to sympy; the different rows differ by 1e-9 relative,
    below the fingerprint tolerance, so they go to sympy too.
    """
    rows = []
    for k in range(count):
        a = rf"{k + 2}\sqrt{{x}}\sqrt{{x}}"
        if k % 2:
            rows.append((a, f"{k + 2}x", True))
        else:
            rows.append((a, f"{k + 2}x+{k + 2}\\cdot 10^{{-9}}x", False))
    return rows


def wrong_count(rows):
    return sum(
        answers_equivalent(a, b, timeout=30) is not expected
        for a, b, expected in rows
    )


def _warm_parent():
    # Starts the parent's workers, as in the repro.
    assert answers_equivalent(r"\sin^2 x+\cos^2 x", "1", timeout=30)
    assert answers_equivalent(
        r"\begin{pmatrix} \sqrt{x}\sqrt{x} & 1 \end{pmatrix}",
        r"\begin{pmatrix} x & 1 \end{pmatrix}",
        timeout=30,
    )


def test_symbolic_rows_need_sympy():
    before = grading_stats()["symbolic_tasks"]
    assert wrong_count(symbolic_pairs(4)) == 0
    assert grading_stats()["symbolic_tasks"] == before + 4


def test_forked_child_gets_its_own_workers():
    _warm_parent()
    rows = symbolic_pairs(40)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            wrong = wrong_count(rows)
        except BaseException:
            wrong = 99
        os.write(write_end, str(wrong).encode())
        os._exit(0)
    os.close(write_end)
    parent_wrong = wrong_count(rows)
    with os.fdopen(read_end) as reader:
        child_wrong = int(reader.read() or 99)
    os.waitpid(child, 0)
    assert (parent_wrong, child_wrong) == (0, 0)


def _grade_row(row):
    a, b, expected = row
    return answers_equivalent(a, b, timeout=30) is expected


def test_multiprocessing_fork_pool_after_warm_parent():
    _warm_parent()
    rows = symbolic_pairs(40)
    with multiprocessing.get_context("fork").Pool(4) as workers:
        results = workers.map(_grade_row, rows, chunksize=2)
    assert all(results)
    assert wrong_count(rows[:6]) == 0  # the parent's workers still work


PLANTED = """
import pathlib
pathlib.Path({marker!r}).write_text("ran")
raise ImportError("planted module")
"""


def _copy_package(target):
    """A copy of keras_mathft holding only what grading needs."""
    package = REPO_ROOT / "keras_mathft"
    copy = target / "keras_mathft"
    copy.mkdir(parents=True)
    for name in ("__init__.py", "version.py"):
        shutil.copy(package / name, copy / name)
    shutil.copytree(
        package / "grading",
        copy / "grading",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return target


def test_workers_ignore_modules_in_the_working_directory(tmp_path):
    # A sympy.py (and a stale keras_mathft) in the caller's directory must
    # not run in a worker; the worker imports the caller's own package copy,
    # here one reachable only through PYTHONPATH.
    workdir = tmp_path / "work"
    workdir.mkdir()
    marker = tmp_path / "PLANTED_RAN"
    planted = PLANTED.format(marker=str(marker))
    (workdir / "sympy.py").write_text(planted)
    stale = workdir / "keras_mathft"
    stale.mkdir()
    (stale / "__init__.py").write_text(planted)
    package_root = _copy_package(tmp_path / "site")
    code = (
        "from keras_mathft.grading import answers_equivalent, grading_stats;"
        "ok = answers_equivalent(r'\\sin^2 x+\\cos^2 x', '1', timeout=60);"
        "print(ok, grading_stats()['worker_failures'])"
    )
    env = dict(os.environ, PYTHONPATH=str(package_root))
    # `-P`: the caller itself does not import from its directory either.
    done = subprocess.run(
        [sys.executable, "-P", "-c", code],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not marker.exists()
    assert done.stdout.split() == ["True", "0"], done.stderr


# Each element of the tuple needs a sympy expansion that takes minutes.
HEAVY_TUPLE = (
    "(" + ",".join(f"(2a+2b+2c)^{{{1000 - j}}}" for j in range(23)) + ")",
    "("
    + ",".join(f"2^{{{1000 - j}}}(a+b+c)^{{{1000 - j}}}" for j in range(23))
    + ")",
)


def test_one_deadline_bounds_a_call_with_many_tasks():
    start = time.monotonic()
    assert answers_equivalent(*HEAVY_TUPLE, timeout=1.0) is False
    assert time.monotonic() - start < 1.0 + MARGIN


def test_one_deadline_bounds_a_cluster_call():
    answers = ["(a+b+c+d+e)^{1000}"] + [str(i) for i in range(10)]
    start = time.monotonic()
    clusters = cluster_answers(answers, timeout=1.0)
    assert time.monotonic() - start < 1.0 + MARGIN
    assert len(clusters) == 11


def test_in_process_work_is_bounded():
    # About 900 characters each, no sympy task at all: this exercises the
    # in-process exact arithmetic (square-free parts of big radicands).
    answers = [
        "+".join([r"\sqrt{10000000019}"] * 49) + f"+{k}" for k in range(64)
    ]
    start = time.monotonic()
    clusters = cluster_answers(answers, timeout=1.0)
    assert time.monotonic() - start < 1.0 + MARGIN
    assert len(clusters) == 64


def test_stops_at_the_first_decisive_task():
    # Element 0 is different (sympy says so at once); the other nine are
    # equal but each takes a trigonometric simplification.
    first = symbolic_pairs(1)[0]
    a = "(" + first[0] + "".join([r", \sin(2x)"] * 9) + ")"
    b = "(" + first[1] + "".join([r", 2\sin x\cos x"] * 9) + ")"
    assert answers_equivalent(r"\sin^2 x+\cos^2 x", "1", timeout=30)
    before = grading_stats()["symbolic_tasks"]
    assert answers_equivalent(a, b, timeout=30) is False
    assert grading_stats()["symbolic_tasks"] - before <= 3


def test_queueing_counts_against_the_deadline():
    # Two threads hold both workers with slow tasks; a third call must give
    # up at its own deadline instead of waiting for a free worker.
    slow = (
        "(2a+2b+2c)^{900}",
        "2^{900}(a+b+c)^{900}",
    )
    answers_equivalent(r"\sin^2 x+\cos^2 x", "1", timeout=30)
    before = grading_stats()["symbolic_tasks"]
    holders = [
        threading.Thread(
            target=answers_equivalent,
            args=slow,
            kwargs={"timeout": 6.0},
            daemon=True,
        )
        for _ in range(2)
    ]
    for thread in holders:
        thread.start()
    deadline = time.monotonic() + 60
    while grading_stats()["symbolic_tasks"] < before + 2:
        if time.monotonic() > deadline:
            pytest.fail("the slow tasks never held both workers")
        time.sleep(0.05)
    easy = symbolic_pairs(2)[1]
    assert answers_equivalent(easy[0], easy[1], timeout=0.5) is False
    assert all(thread.is_alive() for thread in holders)
    for thread in holders:
        thread.join()
    assert answers_equivalent(easy[0], easy[1], timeout=30) is True


ORPHAN_SCRIPT = r"""
import sys, threading, time
from keras_mathft.grading import answers_equivalent, grading_stats
from keras_mathft.grading import pool
slow = ("(2a+2b+2c)^{900}", "2^{900}(a+b+c)^{900}")
threading.Thread(
    target=answers_equivalent, args=slow, kwargs={"timeout": 600},
    daemon=True,
).start()
while grading_stats()["symbolic_tasks"] < 1:
    time.sleep(0.05)
pids = [w.process.pid for w in pool.get_pool()._workers]
print(" ".join(map(str, pids)), flush=True)
time.sleep(600)
"""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_busy_workers_exit_when_their_parent_dies():
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
    finally:
        parent.kill()
        parent.wait()
    assert pids and all(pid > 0 for pid in pids)
    deadline = time.monotonic() + 30
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, pids))


# Issue 28 item 8: a worker's start-up is not comparison time. Workers of
# these pools sleep before they even start Python's imports, so a start
# takes longer than the calls' `timeout` on any machine; their sympy
# tasks (`symbolic_pairs`) take milliseconds once a worker is up.
@pytest.fixture
def slow_start_pool(monkeypatch):
    """Replaces this process's pool by one whose workers start slowly."""
    made = []

    def make(seconds, **kwargs):
        slow = f"import time; time.sleep({seconds}); " + pool._BOOTSTRAP
        monkeypatch.setattr(pool, "_BOOTSTRAP", slow)
        made.append(pool.SympyPool(**kwargs))
        monkeypatch.setattr(pool, "_POOL", made[-1])
        return made[-1]

    yield make
    for fresh in made:
        fresh.shutdown()


EQUAL_ROW = symbolic_pairs(2)[1]


def test_the_warm_up_is_a_real_comparison():
    # Workers run it before they report ready, so that the first
    # simplification's loading is start-up too; a malformed task would
    # fail silently there.
    from keras_mathft.grading import symbolic

    assert symbolic.warm_up() is True


def test_a_cold_start_is_not_comparison_time(slow_start_pool):
    # The first comparison of a new process (a data-loader worker, a
    # forked child, a notebook kernel) waited for the start-up out of its
    # own deadline and was graded "different".
    slow_start_pool(2.0)
    assert answers_equivalent(*EQUAL_ROW[:2], timeout=1.0) is True
    stats = grading_stats()
    assert (stats["worker_starts"], stats["timeouts"]) == (1, 0)


def test_a_cold_cluster_call_merges_after_start_up(slow_start_pool):
    slow_start_pool(2.0)
    answers = [EQUAL_ROW[0], "7", EQUAL_ROW[1]]
    clusters = cluster_answers(answers, timeout=1.0)
    assert [c.members for c in clusters] == [(0, 2), (1,)]
    assert grading_stats()["timeouts"] == 0


def test_a_replacement_start_is_not_comparison_time(slow_start_pool):
    # A timeout kills the busy worker and starts a replacement; the next
    # call used to pay the replacement's start-up out of its deadline.
    slow_start_pool(2.0)
    assert answers_equivalent(*EQUAL_ROW[:2], timeout=30) is True
    assert answers_equivalent(*HEAVY_TUPLE, timeout=0.5) is False
    assert grading_stats()["timeouts"] == 1
    assert answers_equivalent(*EQUAL_ROW[:2], timeout=1.0) is True
    assert grading_stats()["timeouts"] == 1


def test_calls_queued_behind_a_start_wait_for_it(slow_start_pool):
    # One worker slot: the second thread queues while the first thread's
    # worker starts; neither start-up counts against a deadline.
    slow_start_pool(2.0, max_workers=1)
    results = []

    def grade():
        results.append(answers_equivalent(*EQUAL_ROW[:2], timeout=1.0))

    threads = [threading.Thread(target=grade) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True, True]
    assert grading_stats()["worker_starts"] == 1


def test_start_up_has_its_own_bound(slow_start_pool):
    # A worker that never starts: the call stops waiting after the
    # start-up bound and says so, instead of answering "different".
    slow_start_pool(600, startup_timeout=1.0)
    with pytest.raises(RuntimeError, match="start-up bound") as info:
        answers_equivalent(*EQUAL_ROW[:2], timeout=1.0)
    assert str(info.value).endswith("Received: startup_timeout=1")


def test_a_worker_that_dies_starting_is_a_failure(slow_start_pool, monkeypatch):
    # Start-up that fails (not slow) is not waited for: the call ends at
    # its deadline, the failures counted.
    monkeypatch.setattr(pool, "_BOOTSTRAP", "raise SystemExit(1)")
    slow_start_pool(0)
    assert answers_equivalent(*EQUAL_ROW[:2], timeout=1.0) is False
    assert grading_stats()["worker_failures"] >= 1


# Ctrl-C belongs to the grading process: its workers neither receive a
# terminal's Ctrl-C nor die of a SIGINT, which used to fail the
# comparisons they held or were handed next ("not equal").
@pytest.fixture
def fresh_pool(monkeypatch):
    """This process's pool replaced by a new one (its own workers)."""
    fresh = pool.SympyPool()
    monkeypatch.setattr(pool, "_POOL", fresh)
    yield fresh
    fresh.shutdown()


def test_workers_ignore_sigint(fresh_pool):
    assert wrong_count(symbolic_pairs(2)) == 0
    workers = [w for w in fresh_pool._workers if isinstance(w, pool._Worker)]
    assert workers
    for worker in workers:
        os.kill(worker.process.pid, signal.SIGINT)
    # Equal rows only: a comparison a dead worker fails reads "different".
    equal_rows = [row for row in symbolic_pairs(8) if row[2]]
    assert wrong_count(equal_rows) == 0
    assert all(worker.process.poll() is None for worker in workers)
    stats = grading_stats()
    assert (stats["worker_starts"], stats["worker_failures"]) == (
        len(workers),
        0,
    )


CTRL_C_SCRIPT = r"""
import signal, sys
from keras_mathft.grading import answers_equivalent, grading_stats
interrupted = []
signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
pair = (r"\sin^2 x+\cos^2 x", "1")
assert answers_equivalent(*pair, timeout=60)
print("ready", flush=True)
sys.stdin.readline()
equal = answers_equivalent(*pair, timeout=60)
stats = grading_stats()
print(interrupted == [True], equal, stats["worker_starts"])
print(stats["worker_failures"])
"""


def test_ctrl_c_in_the_terminal_reaches_only_the_parent():
    # A terminal's Ctrl-C signals its foreground process group: here a
    # grading process that handles SIGINT, alone in its group with
    # whatever it started.
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert child.stdout.readline().split() == ["ready"]
        os.killpg(child.pid, signal.SIGINT)
        out, _ = child.communicate("go\n", timeout=120)
    finally:
        child.kill()
        child.wait()
    # Interrupted, still equal, and the first worker did the second
    # comparison too.
    assert out.split() == ["True", "True", "1", "0"]
