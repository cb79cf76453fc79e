"""Fine-tune a math solver and its evaluator, end to end, resumably.

With no flags and no network this trains a small decoder from scratch on
the embedded math task (about 15 minutes on a 2-core CPU), samples,
trains an evaluator, re-ranks and prints the paper-style table:

    KERAS_BACKEND=jax python examples/train.py            # default size
    KERAS_BACKEND=jax python examples/train.py --quick    # smoke test
    KERAS_BACKEND=jax python examples/train.py --preset=gemma_2b_en \\
        --data=math --data_dir=../shared/data --lora_rank=8 \\
        --dtype=bfloat16 --num_samples=64 --run_dir=runs/gemma

Every flag is a field of `keras_mathft.recipes.RecipeConfig`; run with
`--help` for the list. A stopped run restarts where it stopped when run
again with the same flags; one Ctrl-C stops it (exit code 130).

One process per host (JAX; a TPU pod slice): run the same command on
every host with `--distributed` and a `--run_dir` that every host sees;
off a pod, also give `--coordinator_address=HOST:PORT` (process 0's),
`--num_processes` and each process's `--process_id`:

    python examples/train.py --distributed --run_dir=/mnt/shared/run
"""

import atexit
import glob
import os
import re
import signal
import sys
import threading

# Start-up noise that C++ libraries print straight to stderr (fd 2), past
# Python's logging: INFO lines of TensorFlow (oneDNN, cuda drivers, CPU
# features; TF 2.21 prints them before `TF_CPP_MIN_LOG_LEVEL` applies,
# and keras-hub imports TensorFlow even on JAX) and of the SentencePiece
# inside TF Text. Warnings and errors of every library stay.
_NOISE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|^I\d{4} [\d:.]+ +\d+ [\w.]+\.cc:\d+\]"
    r"|^[\w.]+\.cc\(\d+\) LOG\(INFO\)"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
)
# Without an NVIDIA device, TensorFlow's CUDA probing errors are noise:
# there is no GPU to use.
_NO_GPU_NOISE = re.compile(
    r"failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory"
)


def _quiet_startup():
    """Filters fd 2 through a thread that drops the lines above.

    Only in this CLI (a library must not change its user's streams);
    `KMFT_RAW_STDERR=1` turns it off.

    Returns:
        The function that puts fd 2 back once the filter has passed on
        every line (registered with `atexit`), or `None` when off.
    """
    if os.environ.get("KMFT_RAW_STDERR") == "1":
        return None
    has_gpu = bool(glob.glob("/dev/nvidia[0-9]*"))
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                _forward(original, line + b"\n", has_gpu)
        if pending:
            _forward(original, pending, has_gpu)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()

    def restore():
        # The last lines (a traceback) go through before the process ends.
        sys.stderr.flush()
        os.dup2(original, 2)  # Closes the pipe's last write end.
        thread.join(timeout=5)

    atexit.register(restore)
    return restore


def _forward(fd, line, has_gpu):
    text = line.decode("utf-8", "replace")
    if _NOISE.search(text) or (not has_gpu and _NO_GPU_NOISE.search(text)):
        return
    os.write(fd, line)


def _quiet_logging():
    """After flag parsing: absl shows INFO only when asked (`-v 0`)."""
    from absl import flags
    from absl import logging

    # JAX logs "Unable to initialize backend 'tpu'" (and the like) at
    # INFO while it looks for accelerators.
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


def _exit_at_once(code):
    """Ends the process now, without Python's shutdown.

    After a Ctrl-C, XLA may still be compiling in its own threads (an
    interrupted compile goes on), and the shutdown waits for it, seconds,
    or crashes in it. What the run keeps is on disk already, written
    atomically, and the run's writer lock goes with the process.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if _restore_stderr is not None:
        _restore_stderr()
    os._exit(code)


os.environ.setdefault("KERAS_BACKEND", "jax")
_restore_stderr = _quiet_startup()

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_mathft import recipes  # noqa: E402

recipes.define_flags()
flags.DEFINE_integer(
    "progress",
    2,
    "0: silent, 1: stage lines and the table, 2: also progress bars "
    "(plain lines when stdout is not a terminal).",
)
flags.DEFINE_bool(
    "distributed",
    False,
    "One process per host (JAX): join JAX's distributed runtime and train "
    "data parallel over every host's devices; process 0 writes --run_dir, "
    "which every host must see. On a TPU pod slice the TPU runtime gives "
    "the addresses; elsewhere pass the three flags below (which imply "
    "--distributed) or set KERAS_DISTRIBUTION_JOB_ADDRESSES, "
    "KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID.",
)
flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 (--distributed)."
)
flags.DEFINE_integer(
    "num_processes", None, "Number of processes (--distributed)."
)
flags.DEFINE_integer(
    "process_id", None, "This process's index, 0 first (--distributed)."
)
_CLUSTER_FLAGS = ("coordinator_address", "num_processes", "process_id")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    _quiet_logging()
    cluster = {name: flags.FLAGS[name].value for name in _CLUSTER_FLAGS}
    if flags.FLAGS.distributed or any(v is not None for v in cluster.values()):
        # Before any computation: every process joins the runtime first.
        recipes.initialize_distributed(**cluster)
    try:
        config = recipes.config_from_flags()
        recipes.check_run_directory(config)
    except ValueError as error:
        print(f"train.py: {error}", file=sys.stderr)
        return 2
    print(f"Run directory: {config.run.run_dir}", flush=True)
    try:
        recipes.run_pipeline(config, verbose=flags.FLAGS.progress)
    except KeyboardInterrupt:
        # More Ctrl-Cs change nothing while the process ends.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(
            "train.py: stopped by Ctrl-C; run the same command to resume.",
            file=sys.stderr,
        )
        _exit_at_once(130)  # 128 + SIGINT, as a shell reports it.
    return 0


if __name__ == "__main__":
    app.run(main)
