"""`benchmarks/findings.py --study=evaluator --size=micro`: runs, resumes.

A run writes one JSON per finished sweep point and `findings.md` with its
tables; a second run recomputes nothing, and a point whose JSON is lost
(killed before it was written) is rebuilt from its finished stages.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "findings.py"


def _run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--study=evaluator",
            "--size=micro",
            "--seeds=0",
            "--bootstrap=50",
            f"--run_root={tmp_path / 'runs'}",
            f"--markdown={tmp_path / 'out' / 'findings.md'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout


@pytest.mark.slow
def test_micro_evaluator_study_writes_tables_and_resumes(tmp_path):
    log = _run(tmp_path)
    points = tmp_path / "runs" / "micro" / "points"
    results = {p: p.read_bytes() for p in points.glob("*/seed0.json")}
    assert sorted(p.parent.name for p in results) == [
        "p3_pairs10_margin",
        "p6_pairs10_xent",
    ]
    assert "[evaluator] running" in log
    markdown = (tmp_path / "out" / "findings.md").read_text()
    assert "**Evaluator quality**" in markdown
    assert "| 6 | 10 | xent |" in markdown
    assert "Within-problem AUC train" in markdown and "RR.Top-2" in markdown
    assert "2 of 2 points finished" in markdown
    figures = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert figures == [
        "findings_accuracy_vs_evaluator_data.png",
        "findings_accuracy_vs_n.png",
    ]

    # Nothing is recomputed: no stage runs, the JSON files are untouched.
    log = _run(tmp_path)
    assert "running" not in log
    assert log.count(" reused") == 2
    assert {p: p.read_bytes() for p in results} == results

    # A point killed after its stages but before its JSON is rebuilt from
    # them, without training again, to the same result.
    lost = points / "p6_pairs10_xent" / "seed0.json"
    lost.unlink()
    log = _run(tmp_path)
    assert "point p6_pairs10_xent seed 0 done" in log
    assert "[evaluator] done already, skipped" in log
    assert "[evaluator] running" not in log
    assert lost.read_bytes() == results[lost]
