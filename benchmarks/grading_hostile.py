"""Hostile inputs through every public grading function.

Builds at least 1,000 hostile strings (seeded): code-injection text,
power towers and huge factorials, the issue-10 repros (23-element heavy
tuples, 900-character radical sums, quadratic-extraction inputs,
100k-character answers), token soup, mutated MATH500 answers, random
unicode, and solution-like sentences. Each string goes through
`normalize_answer`, `extract_answer`, `extract_answer_record`,
`answers_equivalent` (against a MATH500 answer and against a mutation of
itself) and, 64 at a time, `cluster_answers`; `grading_stats` is read
throughout. The same work then runs from 8 threads at once, from two
`os.fork` children and from a `multiprocessing` fork pool of 4, all after
the parent's workers are warm, and every verdict decided within its
deadline is compared with the parent's.

It runs in a scratch working directory holding a planted `sympy.py` and
`keras_mathft/` that write a marker file if imported, and reports:
exceptions escaped, files created (scratch dir and /tmp), processes left
alive (the workers of the parent, of the forked children and of the pool
processes, after they exit or shut down), wrong verdicts after a fork,
and the worst wall time per call against the documented bound
(`timeout` plus `--overhead` seconds).

Usage (hold the shared CPU lock for timings):
    flock /tmp/kmft-cpu.lock python benchmarks/grading_hostile.py
"""

import json
import multiprocessing
import os
import pathlib
import random
import sys
import tempfile
import threading
import time
import traceback

from absl import app
from absl import flags

from keras_mathft import grading
from keras_mathft.grading import pool

_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / "benchmarks"))

from grading_machine import machine  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_strings", 1200, "Hostile strings (at least).")
flags.DEFINE_float("timeout", 1.0, "timeout of every grading call.")
flags.DEFINE_float(
    "overhead",
    1.0,
    "Documented worst time over `timeout` for one call (README bound).",
)
flags.DEFINE_integer("seed", 0, "Seed of the generator.")
_SHARED_DATA = pathlib.Path(
    os.environ.get("KERAS_MATHFT_SHARED_DATA", _ROOT.parent / "shared" / "data")
)
flags.DEFINE_string(
    "math500",
    str(_SHARED_DATA / "prm800k" / "math_splits" / "test.jsonl"),
    "MATH500 JSONL (answers are mutated and used as references).",
)

MARKER = pathlib.Path("/tmp/keras_mathft_hostile_marker")
PLANTED = (
    "import pathlib\n"
    f"pathlib.Path({str(MARKER)!r}).write_text('ran')\n"
    "raise ImportError('planted')\n"
)
TOKENS = (
    "1 2 0 .5 x y i e + - * / ^ _ ( ) [ ] { } , = < ! | & ; : "
    "\\\\ \\frac \\sqrt \\pi \\infty \\pm \\cdot \\sin \\log \\text{ "
    "\\left( \\right) \\{ \\} \\cup \\begin{pmatrix} \\end{pmatrix} "
    "\\circ \\% \\approx \\boxed{ $ \\( \\) \\[ \\] and or Answer: "
    "The_answer_is 999 __import__ 'os' .system \\binom ! <|im_start|> "
    "> \\le \\ge \\neq \\in x< <x< p= q= \\sum_{k=1}^{n} \\prod_{k=0}^{ "
    "\\sum_"
).split() + [" papers and ", ", which is ", "\\text{ for part (a) and }"]


def hostile_strings(count, seed, references):
    rng = random.Random(seed)
    out = [
        "__import__('os').system('touch /tmp/keras_mathft_pwned')",
        "\\boxed{__import__('os').system('touch /tmp/keras_mathft_pwned')}",
        "exec(\"open('/tmp/keras_mathft_pwned', 'w')\")",
        "().__class__.__bases__[0].__subclasses__()",
        "2^{2^{2^{2^{20}}}}",
        "10^{10^{10^{10}}}",
        "(10^{100})!",
        "99999999999!",
        "\\binom{10^{9}}{5000}",
        "9" * 10_000,
        "(" * 5000 + ")" * 5000,
        "\\frac" * 2000,
        "\\sqrt" * 2000 + "2",
        "x^" * 3000 + "2",
        "\\boxed{" * 2857,
        "final answer is x" + " " * 19_900,
        "The answer is " + "(" * 19_000,
        "Answer: " + "$a$=" * 4000,
        "answer is " + "is " * 6000,
        "\x00\x01\ud800",
        "\\begin{pmatrix}" + "1&" * 3000 + "\\end{pmatrix}",
        "(a+b+c+d+e)^{1000}",
        "(2a+2b+2c)^{900}",
        "(" + ",".join(f"(2a+2b+2c)^{{{1000 - j}}}" for j in range(23)) + ")",
        "x" * 100_000,
        "1<x<" * 2000 + "2",
        "\\sum_{k=1}^{" * 1000,
        "\\sum_{k=1}^{n}" * 300 + "k",
        "p=1,q=2;" * 500,
        "\\boxed{1} papers and " * 2000,
        "x \\neq " * 2000 + "3",
    ]
    out += ["+".join(["\\sqrt{10000000019}"] * 49) + f"+{k}" for k in range(40)]
    while len(out) < count * 0.55:
        out.append(
            "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 40)))
        )
    while len(out) < count * 0.8:
        answer = list(rng.choice(references))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(answer) + 1)
            action = rng.random()
            if action < 0.4:
                answer.insert(pos, rng.choice("{}()[]^_,=\\$&|!-+ 0x"))
            elif action < 0.7 and answer:
                del answer[min(pos, len(answer) - 1)]
            else:
                answer[pos:pos] = answer[: rng.randint(0, len(answer))]
        out.append("".join(answer))
    while len(out) < count * 0.9:
        out.append(
            "".join(
                chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 60))
            )
        )
    while len(out) < count:
        answer = rng.choice(references)
        out.append(
            rng.choice(
                (
                    f"Final Answer: The final answer is ${answer}$. I hope",
                    f"So the answer is {answer}. <|im_start|>user",
                    f"Therefore $x = {answer}$ is it.\n\nProblem:\n1+1?",
                    f"\\boxed{{{answer}}} and \\boxed{{{answer}}}1",
                    f"Answer $ {answer} $ and then {rng.randint(0, 99)}",
                )
            )
        )
    return out


class Recorder:
    """Counts calls, exceptions and the slowest call per function."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0
        self.exceptions = []
        self.worst = {}

    def call(self, name, function, *args, **kwargs):
        start = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        except BaseException:  # noqa: BLE001 - counted, it must not happen
            with self.lock:
                self.exceptions.append((name, traceback.format_exc()))
            result = None
        seconds = time.perf_counter() - start
        with self.lock:
            self.calls += 1
            if seconds > self.worst.get(name, (0.0, None))[0]:
                example = repr(args[0])[:60] if args else ""
                self.worst[name] = (seconds, example)
        return result


def grade_all(strings, references, recorder, timeout):
    """Every public function over `strings`; returns decided verdicts."""
    verdicts = {}
    timeouts_before = grading.grading_stats()["timeouts"]
    for k, text in enumerate(strings):
        reference = references[k % len(references)]
        recorder.call("normalize_answer", grading.normalize_answer, text)
        recorder.call("extract_answer", grading.extract_answer, text)
        recorder.call(
            "extract_answer_record", grading.extract_answer_record, text
        )
        for other in (reference, text[: len(text) // 2] + "1"):
            before = grading.grading_stats()["timeouts"]
            verdict = recorder.call(
                "answers_equivalent",
                grading.answers_equivalent,
                text,
                other,
                timeout=timeout,
            )
            if grading.grading_stats()["timeouts"] == before:
                verdicts[k, other] = verdict
        recorder.call("grading_stats", grading.grading_stats)
    for start in range(0, len(strings), 64):
        recorder.call(
            "cluster_answers (64 answers)",
            grading.cluster_answers,
            strings[start : start + 64],
            timeout=timeout,
        )
    cut = grading.grading_stats()["timeouts"] - timeouts_before
    return verdicts, cut


def _worker_pids():
    return [
        worker.process.pid
        for worker in list(pool.get_pool()._workers)
        if hasattr(worker, "process")
    ]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def _wrong(verdicts, expected):
    return sum(
        1
        for key, verdict in verdicts.items()
        if key in expected and verdict is not expected[key]
    )


_SHARED = {}


def _pool_task(indices):
    strings, references, expected = (
        _SHARED["strings"],
        _SHARED["references"],
        _SHARED["expected"],
    )
    recorder = Recorder()
    # A pair that needs sympy, so that every forked process starts (and
    # is checked on) workers of its own.
    symbolic = grading.answers_equivalent(r"\sin^2 x+\cos^2 x", "1", timeout=30)
    shard = [strings[k] for k in indices]
    verdicts, _ = grade_all(shard, references, recorder, FLAGS.timeout)
    remapped = {(indices[k], other): v for (k, other), v in verdicts.items()}
    return {
        "wrong": _wrong(remapped, expected) + (symbolic is not True),
        "exceptions": len(recorder.exceptions),
        "calls": recorder.calls,
        "worst": {name: w[0] for name, w in recorder.worst.items()},
        "pids": _worker_pids(),
    }


def main(argv):
    del argv
    print("machine:", machine())
    print("backend: none (pure Python grader)")
    references = [json.loads(line)["answer"] for line in open(FLAGS.math500)]
    strings = hostile_strings(FLAGS.num_strings, FLAGS.seed, references)
    print(
        f"settings: {len(strings)} hostile strings, timeout={FLAGS.timeout}, "
        f"documented bound per call = timeout + {FLAGS.overhead} s"
    )
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="kmft_hostile_"))
    (scratch / "sympy.py").write_text(PLANTED)
    (scratch / "keras_mathft").mkdir()
    (scratch / "keras_mathft" / "__init__.py").write_text(PLANTED)
    MARKER.unlink(missing_ok=True)
    before_files = set(os.listdir(scratch))
    before_tmp = set(os.listdir("/tmp"))
    os.chdir(scratch)

    # Serial pass: the reference verdicts.
    recorder = Recorder()
    start = time.perf_counter()
    expected, cut = grade_all(strings, references, recorder, FLAGS.timeout)
    print(
        f"serial: {recorder.calls} calls in "
        f"{time.perf_counter() - start:.1f} s, {cut} comparisons cut by "
        f"their deadline"
    )

    # 8 threads at once, each on every 8th string.
    threads, thread_verdicts = [], {}

    def run_shard(offset):
        shard = list(range(offset, len(strings), 8))
        verdicts, _ = grade_all(
            [strings[k] for k in shard], references, recorder, FLAGS.timeout
        )
        for (k, other), verdict in verdicts.items():
            thread_verdicts[shard[k], other] = verdict

    for offset in range(8):
        threads.append(threading.Thread(target=run_shard, args=(offset,)))
        threads[-1].start()
    for thread in threads:
        thread.join()
    print(f"8 threads: wrong verdicts {_wrong(thread_verdicts, expected)}")

    # Two os.fork children, after the parent's workers are warm.
    child_reports, child_pids = [], []
    for offset in range(2):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_end)
            _SHARED.update(
                strings=strings, references=references, expected=expected
            )
            report = _pool_task(list(range(offset, len(strings), 4)))
            os.write(write_end, json.dumps(report).encode())
            # A forked child leaves without the parent's exit handlers.
            os._exit(0)
        os.close(write_end)
        child_pids.append((pid, read_end))
    for pid, read_end in child_pids:
        with os.fdopen(read_end) as reader:
            child_reports.append(json.loads(reader.read() or "{}"))
        os.waitpid(pid, 0)

    # A multiprocessing fork pool of 4 over a quarter of the strings.
    _SHARED.update(strings=strings, references=references, expected=expected)
    chunks = [list(range(k, len(strings), 16)) for k in range(4)]
    with multiprocessing.get_context("fork").Pool(4) as workers:
        pool_reports = workers.map(_pool_task, chunks)
    forked = child_reports + pool_reports
    print(
        "forked (2 os.fork children + Pool(4)): wrong verdicts "
        f"{sum(r.get('wrong', 1) for r in forked)}, exceptions "
        f"{sum(r.get('exceptions', 1) for r in forked)}, calls "
        f"{sum(r.get('calls', 0) for r in forked)}"
    )

    # Processes: forked children's workers exit once their parents did.
    parent_pids = _worker_pids()
    pool.get_pool().shutdown()
    orphan_pids = [pid for r in forked for pid in r.get("pids", [])]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        map(_alive, parent_pids + orphan_pids)
    ):
        time.sleep(0.2)
    leaked = [pid for pid in parent_pids + orphan_pids if _alive(pid)]

    os.chdir(_ROOT)
    created = sorted(set(os.listdir(scratch)) - before_files)
    created_tmp = sorted(
        name
        for name in set(os.listdir("/tmp")) - before_tmp
        if "pwned" in name or "hostile_marker" in name
    )
    print("\n| figure | value |")
    print("| --- | --- |")
    print(f"| hostile strings | {len(strings)} |")
    total_calls = recorder.calls + sum(r.get("calls", 0) for r in forked)
    print(f"| calls (serial, 8 threads, forked) | {total_calls:,} |")
    escaped = len(recorder.exceptions)
    escaped += sum(r.get("exceptions", 1) for r in forked)
    print(f"| exceptions escaped | {escaped} |")
    files = len(created) + len(created_tmp)
    print(f"| files created (scratch dir, /tmp) | {files} |")
    print(f"| planted modules run | {int(MARKER.exists())} |")
    print(
        f"| worker processes left alive ({len(parent_pids + orphan_pids)} "
        f"tracked) | {len(leaked)} |"
    )
    print(
        f"| wrong verdicts after fork / under threads | "
        f"{sum(r.get('wrong', 1) for r in forked)} / "
        f"{_wrong(thread_verdicts, expected)} |"
    )
    bound = FLAGS.timeout + FLAGS.overhead
    print("\nworst wall time per call (serial and 8 threads), seconds")
    print("| function | worst | bound | input |")
    print("| --- | --- | --- | --- |")
    for name, (seconds, example) in sorted(recorder.worst.items()):
        limit = bound if "equivalent" in name or "cluster" in name else "-"
        print(f"| {name} | {seconds:.3f} | {limit} | `{example}` |")
    forked_worst = max(
        (w for r in forked for w in r.get("worst", {}).values()), default=0
    )
    print(f"worst call in forked processes: {forked_worst:.3f} s")
    for name, trace in recorder.exceptions[:5]:
        print("EXCEPTION in", name, trace)


if __name__ == "__main__":
    app.run(main)
