"""examples/train.py starts clean: our lines, progress lines, real warnings."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
# Start-up noise of TensorFlow, XLA, JAX and SentencePiece on a CPU run.
NOISE = re.compile(
    r"^[IWE]\d{4} [\d:.]+ +\d+ [\w.]+\.cc:\d+\]"
    r"|absl::InitializeLog|oneDNN|cuInit|cuda|libtpu"
    r"|Unable to initialize backend|LOG\(INFO\)|cpu_feature_guard"
)
TINY_FLAGS = [
    "--num_train_problems=32",
    "--num_test_problems=2",
    "--num_eval_train_problems=2",
    "--num_samples=2",
    "--num_train_samples=2",
    "--top_k_clusters=2",
    "--hidden_dim=16",
    "--num_layers=1",
    "--batch_size=8",
    "--evaluator_batch_size=4",
    "--sft_steps=2",
    "--evaluator_steps=2",
    "--max_new_tokens=8",
    "--checkpoint_every=2",
    "--max_level=1",
    "--evaluator_loss=xent",
    # Some solutions may be cut: then a real warning must show.
    "--sequence_length=96",
]


@pytest.mark.slow
def test_a_tiny_run_prints_only_our_lines(tmp_path):
    # stdout and stderr go to a pipe, as under nohup or in CI logs.
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    # As a user runs it: without the test run's persistent XLA cache, whose
    # every load TensorFlow logs at error level.
    env.pop("TF_XLA_FLAGS", None)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "train.py"),
            "--quick",
            f"--run_dir={tmp_path / 'run'}",
            *TINY_FLAGS,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    output = result.stdout
    assert result.returncode == 0, output[-3000:]
    lines = output.splitlines()
    assert lines[0].startswith("Run directory: ")
    assert not [line for line in lines if NOISE.search(line)], output[:3000]
    # Progress as plain lines, for training and for sampling.
    assert "\r" not in output and "\b" not in output
    assert any(re.match(r"2/2 steps \(100%\) ", line) for line in lines)
    assert any(re.match(r"2/2 problems \(100%\) ", line) for line in lines)
    # Real warnings stay: the truncation warning of our tokenizer.
    summary = next(line for line in lines if line.startswith("[ssft] done"))
    truncated = int(re.search(r"'truncated': (\d+)", summary).group(1))
    warned = any("examples truncated" in line for line in lines)
    assert warned == (truncated > 0)
    assert any(line.startswith("| Pass@1 (greedy) |") for line in lines)


def test_an_unsupported_backend_stops_before_anything_is_written(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND="numpy")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "train.py"),
            "--quick",
            f"--run_dir={tmp_path / 'run'}",
            *TINY_FLAGS,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "jax and tensorflow backends only" in result.stderr
    assert "Received: KERAS_BACKEND='numpy'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
