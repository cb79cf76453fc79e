"""`benchmarks/sampling.py`: its llama.cpp method is skipped with a
reason, and its decode-step timing runs the pool the sampler decodes."""

import json
import math
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
# Flags are parsed in a child: absl's flags are process-wide.
SKIP_REASONS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import sampling
from absl import flags
reasons = []
for argv in json.loads(sys.argv[2]):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["sampling.py", *argv])
    reasons.append(sampling.llama_cpp_unavailable())
print("RESULT " + json.dumps(reasons))
"""
DECODE_STEP = """
import json, sys
sys.path.insert(0, sys.argv[1])
import sampling
from absl import flags
from keras_mathft.data import embedded_tokenizer_proto
from keras_mathft.models import build_causal_lm
flags.FLAGS(["sampling.py"])
lm = build_causal_lm(
    "gemma", embedded_tokenizer_proto(), num_layers=1, hidden_dim=16
)
seconds = sampling.decode_step_seconds(lm, 2, 32, "top_p")
print("RESULT " + json.dumps(seconds))
"""


def _child_result(code, *args, timeout=120):
    """Runs `code` with the benchmarks folder and `args`; its RESULT."""
    proc = subprocess.run(
        [sys.executable, "-c", code, str(BENCHMARKS), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def _interpreter(path, exit_code):
    """A stand-in interpreter whose `-c "import llama_cpp"` exits so."""
    path.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.backend_independent
def test_llama_cpp_method_is_skipped_with_a_reason(tmp_path):
    gguf = ["--model=preset", "--preset=/models/x.gguf"]
    without = _interpreter(tmp_path / "without", 1)
    with_it = _interpreter(tmp_path / "with", 0)
    argvs = [
        ["--model=preset", "--preset=/models/preset_dir"],
        gguf,
        [*gguf, f"--llama_cpp_python={without}"],
        [*gguf, "--llama_cpp_python=/no/such/python"],
        [*gguf, f"--llama_cpp_python={with_it}"],
    ]
    reasons = _child_result(SKIP_REASONS, json.dumps(argvs))
    assert reasons[0] == "it needs --model=preset with a .gguf --preset"
    assert reasons[1] == "no --llama_cpp_python interpreter given"
    assert reasons[2] == f"{without} cannot import llama_cpp"
    assert reasons[3] == "/no/such/python cannot import llama_cpp"
    assert reasons[4] is None


def test_decode_step_timing_runs_the_pool():
    seconds = _child_result(DECODE_STEP, timeout=300)
    assert math.isfinite(seconds)
