"""Runs a script as N cooperating processes on localhost, bounded in time.

The multi-process tests (JAX's distributed runtime, TensorFlow's
`MultiWorkerMirroredStrategy`) start their workers through `run_cluster`:
ports are picked free by binding them, every worker shares one deadline,
and when one fails or the deadline passes all are killed, so a stuck
collective never hangs the suite.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


def free_ports(count):
    """`count` distinct TCP ports that were free on 127.0.0.1 just now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_cluster(
    args,
    num_processes,
    env=None,
    per_process_env=None,
    timeout=120,
    results=True,
    pin_cpus=False,
):
    """Runs `python *args` as `num_processes` workers; returns their results.

    Worker `i` gets `MP_PROCESS_ID=i` and `MP_NUM_PROCESSES` in its
    environment, plus `per_process_env(i)` when given, and `tests/` and the
    repository on `PYTHONPATH`. Each worker prints one line
    `RESULT <json>`; the results come back in worker order. With
    `results=False` the workers' whole stdout comes back instead. With
    `pin_cpus`, worker `i` runs on the `i`-th allowed CPU (modulo their
    number; Linux), so workers do not crowd one another's cores.

    Raises:
        AssertionError: when a worker exits with an error or prints no
            result, or the cluster runs past `timeout` seconds. All
            workers are killed first; the message holds their stderr.
    """
    base = dict(os.environ, **(env or {}))
    base["PYTHONPATH"] = os.pathsep.join(
        [REPO, TESTS, base.get("PYTHONPATH", "")]
    )
    procs, outs, errs = [], [], []
    try:
        for i in range(num_processes):
            worker_env = dict(base, MP_PROCESS_ID=str(i))
            worker_env["MP_NUM_PROCESSES"] = str(num_processes)
            worker_env.update(per_process_env(i) if per_process_env else {})
            outs.append(tempfile.TemporaryFile("w+"))
            errs.append(tempfile.TemporaryFile("w+"))
            procs.append(
                subprocess.Popen(
                    [sys.executable, *map(str, args)],
                    env=worker_env,
                    stdout=outs[-1],
                    stderr=errs[-1],
                    text=True,
                    preexec_fn=_on_cpu(i) if pin_cpus else None,
                )
            )
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in procs):
            failed = [i for i, p in enumerate(procs) if p.poll()]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        codes = [p.poll() for p in procs]
        failed = [i for i, code in enumerate(codes) if code]
        if failed:
            problem = f"worker {failed[0]} exited with {codes[failed[0]]}"
        elif None in codes:
            problem = f"the cluster ran past {timeout} s"
        if failed or None in codes:
            raise AssertionError(f"{problem}; all killed.\n" + _tails(errs))
        texts = []
        for out in outs:
            out.seek(0)
            texts.append(out.read())
        if not results:
            return texts
        parsed = []
        for i, text in enumerate(texts):
            lines = [x for x in text.splitlines() if x.startswith("RESULT ")]
            assert lines, f"worker {i} printed no result.\n" + _tails(errs)
            parsed.append(json.loads(lines[-1][len("RESULT ") :]))
        return parsed
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for f in outs + errs:
            f.close()


def _on_cpu(i):
    """A `preexec_fn` that pins the child to the `i`-th allowed CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return lambda: os.sched_setaffinity(0, {cpus[i % len(cpus)]})


def _tails(files, chars=3000):
    parts = []
    for i, f in enumerate(files):
        f.seek(0)
        parts.append(f"--- worker {i} stderr ---\n{f.read()[-chars:]}")
    return "\n".join(parts)
