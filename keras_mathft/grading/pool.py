"""A small per-process pool of sympy workers, bounded by call deadlines.

Sympy can hang on innocent-looking input, and `signal.alarm` only works in
the main thread (Keras callbacks, tf.data and notebooks often run graders
elsewhere). So every symbolic comparison runs in a separate worker
process: a fresh interpreter in isolated mode (`python -I`), so neither
the caller's working directory nor `PYTHON*` variables reach its
`sys.path`; the bootstrap puts this package's own parent directory first,
so the worker runs the same copy of `keras_mathft` as the caller, and
sympy comes from the interpreter's site-packages.

One call (`run_jobs`) gets one `Deadline` for its comparisons: waiting
for a free worker and every task. A job is a list of tasks that must all
hold; the first task that fails decides the job, and its other tasks are
dropped. Tasks are spread over the workers and waited on
together. A worker still busy when the deadline passes is killed (and a
replacement started at once); a worker whose task was no longer needed is
handed back owing that result, and whoever takes it next reads and drops
the result first (or kills it if it overruns its own call's deadline).

Starting a worker (a new interpreter importing sympy and running one
warm-up simplification, which loads what a first comparison would: over
2 s on a busy 2-core machine) is not comparison time, or a grade would
depend on the machine's load: the first comparison of every new process,
and the first after a worker was killed or recycled, would count as "not
equal". So while a call holds no started worker (all it holds are still
starting), or waits for a worker slot while the pool's workers are
starting, that time is excused from its deadline (`Deadline.excuse`),
and the comparison runs with its full `timeout` once a worker is ready.
Start-up has its own bound, `STARTUP_TIMEOUT` seconds per call: a call
that has waited that long for workers to start raises `RuntimeError`
rather than answer "not equal" for a comparison it never ran. A worker
that exits during start-up (a broken environment) is counted in
`worker_failures`, and the rest of that call counts against its deadline
as before.

The pool belongs to one process: a forked child (multiprocessing, data
loader workers, pre-fork servers) forgets the parent's workers and starts
its own, so two processes never share a pipe. Workers exit when their
parent dies. POSIX only (it waits on pipe file descriptors).

Workers leave interrupts to their parent: each starts in its own session
(so a Ctrl-C in the terminal, which signals the terminal's foreground
process group, never reaches it) and ignores SIGINT (so neither does a
SIGINT sent to the worker itself). A Ctrl-C used to kill the workers
too, and every comparison they were running, or ran next, counted as
"not equal". The parent still ends its workers: at exit, when a
comparison overruns its deadline, and, if it dies, through their
orphan watch.
"""

import atexit
import collections
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.connection import wait

_PACKAGE_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
# `-I` drops the script directory, the cwd, user site-packages and every
# PYTHON* variable from the worker; the package root is passed explicitly.
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from keras_mathft.grading.pool import _worker_main; _worker_main()"
)
_READY = b"ready " + _PACKAGE_ROOT.encode()
_ORPHAN_POLL_SECONDS = 0.5
# Seconds one call may wait for worker processes to start, besides its
# `timeout`; past it the call raises instead of answering.
STARTUP_TIMEOUT = 60.0
# How often a call queued behind starting workers checks whether they
# have started (from then on, its wait is comparison time again).
_STARTUP_POLL_SECONDS = 0.05


class _Worker:
    """One worker process and the two pipe ends that talk to it."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOTSTRAP, _PACKAGE_ROOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            # Out of the terminal's process group: Ctrl-C is the parent's.
            start_new_session=True,
        )
        self.send_conn = Connection(
            os.dup(self.process.stdin.fileno()), readable=False
        )
        self.recv_conn = Connection(
            os.dup(self.process.stdout.fileno()), writable=False
        )
        self.process.stdin.close()
        self.process.stdout.close()
        self.tasks_done = 0
        self.ready = False
        # Set while the worker computes a result nobody needs any more: the
        # deadline of the call that sent it, after which it is killed.
        self.owed_until = None

    @property
    def usable(self):
        return self.ready and self.owed_until is None

    def settle(self):
        """Reads the pending handshake or unneeded result; False if broken."""
        message = self.recv_conn.recv_bytes()
        if not self.ready:
            self.ready = message == _READY
            return self.ready
        self.owed_until = None
        self.tasks_done += 1
        return True

    def send(self, task):
        self.send_conn.send_bytes(pickle.dumps(task))

    def receive(self):
        result = pickle.loads(self.recv_conn.recv_bytes())
        self.tasks_done += 1
        return bool(result)

    def close_pipes(self):
        for conn in (self.send_conn, self.recv_conn):
            try:
                conn.close()
            except OSError:
                pass

    def kill(self):
        self.close_pipes()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class _JobQueue:
    """One `run_jobs` call's jobs: their results so far, the number of
    tasks each still needs, and the `(job, task)` units left to send."""

    def __init__(self, jobs, skip):
        self.jobs = jobs
        self.skip = skip
        self.results = [True if not tasks else None for tasks in jobs]
        self.left = [len(tasks) for tasks in jobs]
        self.queue = collections.deque(
            (j, t) for j, tasks in enumerate(jobs) for t in range(len(tasks))
        )

    def next_unit(self):
        """The next unit of an undecided job, or None; asks `skip` first."""
        while self.queue:
            j, t = self.queue.popleft()
            if self.results[j] is not None:
                continue
            if self.skip is not None and self.skip(j):
                self.results[j] = False
                continue
            return j, t
        return None

    def pending(self):
        return sum(1 for j, _ in self.queue if self.results[j] is None)


class SympyPool:
    """Runs jobs of comparison tasks in worker processes, by deadline.

    Args:
        max_workers: int. Most worker processes alive at once.
        recycle_after: int. A worker is replaced after this many tasks.
        startup_timeout: float. Seconds one call may wait for workers to
            start, on top of its deadline (see the module docstring).
    """

    def __init__(
        self,
        max_workers=2,
        recycle_after=500,
        startup_timeout=STARTUP_TIMEOUT,
    ):
        self.pid = os.getpid()
        self.max_workers = max_workers
        self.recycle_after = recycle_after
        self.startup_timeout = startup_timeout
        self._idle = []
        self._workers = set()
        self._cond = threading.Condition()
        self._closed = False
        self.stats = {
            "symbolic_tasks": 0,
            "timeouts": 0,
            "worker_starts": 0,
            "worker_failures": 0,
        }

    def _count(self, key, amount=1):
        with self._cond:
            self.stats[key] += amount

    def _start_worker(self):
        """Starts a worker for a slot already reserved in `_workers`."""
        try:
            worker = _Worker()
        except (OSError, ValueError, subprocess.SubprocessError):
            with self._cond:
                self.stats["worker_failures"] += 1
            return None
        with self._cond:
            self.stats["worker_starts"] += 1
        return worker

    def _startup_allowance(self, deadline):
        """Seconds the call of `deadline` may still wait for start-up."""
        return self.startup_timeout - deadline.excused

    def _startup_error(self):
        return RuntimeError(
            "No sympy worker process started within the start-up bound "
            f"({self.startup_timeout:g} s per call, on top of `timeout`): "
            "the machine is overloaded or the Python environment is broken. "
            "Grading refuses to answer 'not equal' for comparisons it could "
            f"not run. Received: startup_timeout={self.startup_timeout:g}"
        )

    def _acquire(self, deadline, block):
        """An idle or new worker (maybe still starting), or None."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._idle:
                    usable = [w for w in self._idle if w.usable]
                    worker = (usable or self._idle)[-1]
                    self._idle.remove(worker)
                    return worker
                if len(self._workers) < self.max_workers:
                    placeholder = object()
                    self._workers.add(placeholder)
                    break
                if not block:
                    return None
                # Slots held by workers still starting (a placeholder is
                # one being spawned): queueing behind start-up is start-up.
                if any(not getattr(w, "ready", False) for w in self._workers):
                    allowance = self._startup_allowance(deadline)
                    if allowance <= 0:
                        raise self._startup_error()
                    start = time.monotonic()
                    self._cond.wait(min(allowance, _STARTUP_POLL_SECONDS))
                    deadline.excuse(min(time.monotonic() - start, allowance))
                    continue
                remaining = deadline.remaining()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
        start = time.monotonic()
        worker = self._start_worker()
        # Spawning the process is start-up too (fork and exec of a large
        # parent can take a while on a busy machine).
        allowance = max(0.0, self._startup_allowance(deadline))
        deadline.excuse(min(time.monotonic() - start, allowance))
        with self._cond:
            self._workers.discard(placeholder)
            if worker is not None:
                self._workers.add(worker)
            self._cond.notify()
        return worker

    def _release(self, worker, healthy=True):
        if (
            healthy
            and not self._closed
            and worker.tasks_done < self.recycle_after
        ):
            with self._cond:
                self._idle.append(worker)
                self._cond.notify()
            return
        worker.kill()
        replacement = None if self._closed else self._start_worker()
        with self._cond:
            self._workers.discard(worker)
            if replacement is not None and not self._closed:
                # Started now, so that the next call finds it warm.
                self._workers.add(replacement)
                self._idle.append(replacement)
                replacement = None
            self._cond.notify()
        if replacement is not None:
            replacement.kill()

    def run_jobs(self, jobs, deadline, skip=None, on_hold=None):
        """Decides jobs of sympy tasks before `deadline`.

        Args:
            jobs: list of lists of tasks (see `symbolic.compare`). A job
                holds when all its tasks hold; an empty job holds.
            deadline: `Deadline` for the whole call.
            skip: optional callable(job index) -> bool, asked before a
                job's next task is sent; True drops the job (no longer
                needed, e.g. its answers were already merged).
            on_hold: optional callable(job index), called as soon as a
                job is known to hold (so that `skip` can use it).

        Returns:
            A list of bools, one per job. A job that failed, was skipped,
            or was not decided before the deadline is False. Time spent
            waiting for workers to start is not counted in the deadline
            (see the module docstring).

        Raises:
            RuntimeError: when the call waited `startup_timeout` seconds
                for workers to start.
        """
        state = _JobQueue(jobs, skip)
        results = state.results
        held, busy = [], {}
        # Set when a worker of this call died while starting: start-up is
        # then failing, not slow, and is no longer excused.
        start_failed = False
        try:
            while not deadline.expired():
                self._send_units(state, held, busy)
                idle_held = sum(1 for w in held if w not in busy)
                if state.pending() > idle_held:
                    worker = self._acquire(deadline, block=not held)
                    if worker is not None:
                        held.append(worker)
                        continue
                useful = [w for w in busy if results[busy[w][0]] is None]
                if not useful and not state.pending():
                    break
                waiting = [w for w in held if w in busy or not w.usable]
                if not waiting:
                    break
                if not start_failed and not any(w.ready for w in held):
                    # Every worker held is still starting: start-up time.
                    ready = self._wait_for_start(waiting, deadline)
                else:
                    ready = self._wait_for_answers(waiting, deadline)
                start_failed |= self._read_ready(
                    waiting, ready, state, held, busy, on_hold
                )
        finally:
            self._finish(held, busy, results, deadline)
        undecided = sum(1 for result in results if result is None)
        if undecided:
            self._count("timeouts", undecided)
        return [bool(result) for result in results]

    def _send_units(self, state, held, busy):
        """Sends the next task of `state` to each free usable worker."""
        for worker in [w for w in held if w.usable and w not in busy]:
            unit = state.next_unit()
            if unit is None:
                break
            try:
                worker.send(state.jobs[unit[0]][unit[1]])
            except (OSError, ValueError, pickle.PickleError):
                self._fail(worker, held)
                state.results[unit[0]] = False
                continue
            busy[worker] = unit
            self._count("symbolic_tasks")

    def _wait_for_answers(self, waiting, deadline):
        """Waits for a message until `deadline` or a worker's owed time."""
        timeout = deadline.remaining()
        for worker in waiting:
            if worker.owed_until is not None:
                timeout = min(timeout, worker.owed_until.remaining())
        return wait([w.recv_conn for w in waiting], timeout)

    def _read_ready(self, waiting, ready, state, held, busy, on_hold):
        """Reads the ready workers and drops those whose owed time is up.

        Returns True when a worker died while starting.
        """
        start_failed = False
        for worker in waiting:
            if worker.recv_conn in ready:
                starting = not worker.ready
                j = self._collect(worker, held, busy, state.results, state.left)
                start_failed |= starting and not worker.ready
                if j is not None and on_hold is not None:
                    on_hold(j)
            elif worker.owed_until is not None and worker.owed_until.expired():
                held.remove(worker)
                self._release(worker, healthy=False)
        return start_failed

    def _wait_for_start(self, waiting, deadline):
        """Waits for starting workers, excusing the wait from `deadline`.

        Raises:
            RuntimeError: once the call has waited `startup_timeout`
                seconds for start-up in all.
        """
        allowance = self._startup_allowance(deadline)
        if allowance <= 0:
            raise self._startup_error()
        start = time.monotonic()
        ready = wait([w.recv_conn for w in waiting], allowance)
        deadline.excuse(min(time.monotonic() - start, allowance))
        return ready

    def _collect(self, worker, held, busy, results, left):
        """Reads one message; returns the index of a job it made hold."""
        unit = busy.pop(worker, None)
        try:
            if unit is None:
                if worker.settle():
                    return None
                raise EOFError("bad handshake")
            holds = worker.receive()
        except (OSError, EOFError, pickle.PickleError, ValueError):
            self._fail(worker, held)
            if unit is not None and results[unit[0]] is None:
                results[unit[0]] = False
            return None
        j = unit[0]
        if results[j] is None:
            left[j] -= 1
            if not holds:
                results[j] = False
            elif left[j] == 0:
                results[j] = True
                return j
        return None

    def _fail(self, worker, held):
        self._count("worker_failures")
        held.remove(worker)
        self._release(worker, healthy=False)

    def _finish(self, held, busy, results, deadline):
        for worker in held:
            unit = busy.get(worker)
            if unit is None:
                self._release(worker)
            elif results[unit[0]] is None or deadline.expired():
                # Still computing a needed task at the deadline.
                self._release(worker, healthy=False)
            else:
                worker.owed_until = deadline
                self._release(worker)

    def shutdown(self):
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
            with self._cond:
                self._workers.discard(worker)

    def abandon(self):
        """Drops an inherited pool in a forked child, without killing the
        parent's workers (and without its lock, which a parent thread may
        have held at the fork)."""
        self._closed = True
        for worker in list(self._workers):
            if isinstance(worker, _Worker):
                worker.close_pipes()
        self._idle = []


_POOL = None
_POOL_LOCK = threading.Lock()
# Pools inherited through fork: kept referenced so that their (foreign)
# process handles are never finalized in the child.
_INHERITED = []


def get_pool():
    """This process's pool, created on first use (and anew after a fork)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None and _POOL.pid != os.getpid():
            _forget_inherited_pool()
        if _POOL is None:
            _POOL = SympyPool()
        return _POOL


def _forget_inherited_pool():
    global _POOL, _POOL_LOCK
    if _POOL is not None:
        _POOL.abandon()
        _INHERITED.append(_POOL)
    _POOL = None
    _POOL_LOCK = threading.Lock()


def _shutdown_at_exit():
    pool = _POOL
    if pool is not None and pool.pid == os.getpid():
        pool.shutdown()


atexit.register(_shutdown_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_pool)


def grading_stats():
    """Counters of this process's symbolic pool.

    Returns:
        A dict with `symbolic_tasks` (sympy tasks sent), `timeouts`
        (comparisons not decided within their call's deadline, counted as
        not equivalent), `worker_starts` and `worker_failures`.

    Example:

    >>> sorted(grading_stats())
    ['symbolic_tasks', 'timeouts', 'worker_failures', 'worker_starts']
    """
    pool = get_pool()
    with pool._cond:
        return dict(pool.stats)


def _exit_when_orphaned(parent):
    # A worker busy in a long sympy call never reads its pipe's EOF, so it
    # also watches for its parent's death.
    while True:
        time.sleep(_ORPHAN_POLL_SECONDS)
        if os.getppid() != parent:
            # From this watcher thread only `os._exit` ends the process
            # (`sys.exit` would end the thread).
            os._exit(0)


def _worker_main():
    # Interrupts are the parent's to handle (module docstring); a
    # KeyboardInterrupt here would only lose the comparison.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The pipe to the parent is fd 0/1; anything printed by library code
    # must not corrupt it, so stdout is pointed at stderr.
    recv_conn = Connection(os.dup(0), writable=False)
    send_conn = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    threading.Thread(
        target=_exit_when_orphaned, args=(os.getppid(),), daemon=True
    ).start()
    from keras_mathft.grading import symbolic

    # Part of start-up, which is not comparison time (module docstring).
    symbolic.warm_up()
    send_conn.send_bytes(_READY)
    while True:
        try:
            payload = recv_conn.recv_bytes()
        except (EOFError, OSError):
            return
        result = symbolic.run_task(pickle.loads(payload))
        send_conn.send_bytes(pickle.dumps(bool(result)))
