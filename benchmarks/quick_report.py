"""Records (or checks) the `--quick` recipe's report on one CPU thread.

A redesign that must not change behaviour is judged by this script: it
runs `examples/train.py --quick` in a fresh process pinned to one CPU with
single-threaded XLA and TensorFlow (multi-threaded XLA CPU kernels can
differ in the last bits from run to run), then copies `report.json` and
`report.md` to `--output`. With `--compare=DIR` it also checks that both
files are byte-identical to an earlier recording and prints the first
differences.

    flock /tmp/kmft-cpu.lock env KERAS_BACKEND=jax python \\
        benchmarks/quick_report.py --output=/tmp/quick_jax_before
    flock /tmp/kmft-cpu.lock env KERAS_BACKEND=jax python \\
        benchmarks/quick_report.py --output=/tmp/quick_jax_after \\
        --compare=/tmp/quick_jax_before

Run it under `flock` on a shared machine: another process on the same CPU
changes nothing in the results, but makes the run much slower.
"""

import difflib
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

flags.DEFINE_string("output", None, "Folder for report.json and report.md.")
flags.DEFINE_string("compare", None, "Folder of an earlier recording.")
flags.DEFINE_integer("cpu", 0, "The one CPU the run may use.")
flags.DEFINE_list("extra", [], "Extra train.py flags, e.g. --multitask.")
FLAGS = flags.FLAGS

REPO = pathlib.Path(__file__).resolve().parents[1]
FILES = ("report.json", "report.md")
# Set before JAX or TensorFlow start in the child: one thread everywhere.
_SINGLE_THREAD_ENV = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false "
    "intra_op_parallelism_threads=1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def record(output, cpu, extra):
    """Runs the quick recipe and copies its report files to `output`."""
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    run_dir = pathlib.Path(tempfile.mkdtemp(prefix="kmft_quick_"))
    env = dict(os.environ, **_SINGLE_THREAD_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    command = [
        "taskset",
        "-c",
        str(cpu),
        sys.executable,
        str(REPO / "examples" / "train.py"),
        "--quick",
        f"--run_dir={run_dir}",
        *extra,
    ]
    start = time.perf_counter()
    with open(output / "train.log", "w") as log:
        subprocess.run(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True
        )
    seconds = time.perf_counter() - start
    for name in FILES:
        shutil.copy(run_dir / "report" / name, output / name)
    shutil.rmtree(run_dir)
    return seconds


def compare(recorded, fresh):
    """Returns the names of the files that differ, printing a diff."""
    differ = []
    for name in FILES:
        old = (pathlib.Path(recorded) / name).read_bytes()
        new = (pathlib.Path(fresh) / name).read_bytes()
        if old == new:
            print(f"{name}: identical ({len(new)} bytes)")
            continue
        differ.append(name)
        print(f"{name}: DIFFERS")
        diff = difflib.unified_diff(
            old.decode().splitlines(),
            new.decode().splitlines(),
            "before",
            "after",
            lineterm="",
            n=1,
        )
        for line in list(diff)[:60]:
            print("  " + line)
    return differ


def main(argv):
    del argv
    if not FLAGS.output:
        raise app.UsageError("--output is required.")
    backend = os.environ.get("KERAS_BACKEND", "jax")
    print(
        f"machine={platform.node()} cpus={os.cpu_count()} backend={backend} "
        f"cpu={FLAGS.cpu} extra={FLAGS.extra}",
        flush=True,
    )
    seconds = record(FLAGS.output, FLAGS.cpu, FLAGS.extra)
    report = json.loads((pathlib.Path(FLAGS.output) / FILES[0]).read_text())
    print(f"recorded in {seconds:.0f} s: {report['overall'].get('pass@1')}")
    if FLAGS.compare:
        return 1 if compare(FLAGS.compare, FLAGS.output) else 0
    return 0


if __name__ == "__main__":
    app.run(main)
