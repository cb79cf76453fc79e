"""`benchmarks/sampling.py`'s decode-step timing runs the sampler's
compiled block on the pool it really decodes (`pool_layout`)."""

import json
import math
import pathlib
import subprocess
import sys

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
# Flags parsed in a child: absl's flags are process-wide.
CHILD = """
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


def test_decode_step_timing_runs_the_pool():
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(BENCHMARKS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, proc.stderr[-3000:]
    assert math.isfinite(json.loads(lines[-1][len("RESULT ") :]))
