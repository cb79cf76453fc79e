"""`benchmarks/findings --size=micro` studies: they run and resume.

A run writes one JSON per finished sweep point and its section of
`findings.md`; a second run recomputes nothing, and a point whose JSON is
lost (killed before it was written) is rebuilt from its finished stages.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "findings"


def _run(tmp_path, study="evaluator"):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            f"--study={study}",
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


def _python(code):
    """Runs `code` with the modules of `benchmarks/findings/` importable."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{SCRIPT}"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


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
        "findings_accuracy_vs_within_auc.png",
    ]
    # Every synthetic evaluator re-ranks every test problem of the base.
    synthetic = json.loads(
        (tmp_path / "runs" / "micro" / "synthetic" / "seed0.json").read_text()
    )
    assert [s["target_auc"] for s in synthetic] == [
        0.6,
        0.65,
        0.7,
        0.75,
        0.8,
        0.9,
        0.95,
        0.99,
    ]
    assert {len(s["per_problem"]["rr_top_k"]) for s in synthetic} == {6}
    assert "**Synthetic evaluators: the quality re-ranking needs**" in markdown
    assert "| Between-cluster share |" in markdown

    # Nothing is recomputed: no stage runs, the JSON files are untouched.
    log = _run(tmp_path)
    assert "running" not in log
    assert log.count(" reused") == 4  # 2 points, synthetic, clustering
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


@pytest.mark.slow
def test_micro_style_study_trains_equal_tokens_and_keeps_other_sections(
    tmp_path,
):
    markdown = tmp_path / "out" / "findings.md"
    markdown.parent.mkdir()
    markdown.write_text(
        "# Findings\n<!-- study:evaluator -->\nstudy 1 here\n"
        "<!-- /study:evaluator -->\n"
    )
    log = _run(tmp_path, "style")
    root = tmp_path / "runs" / "micro" / "style"
    results = {
        p.parent.name: json.loads(p.read_text())
        for p in root.glob("*/seed0.json")
    }
    assert sorted(results) == ["both", "coarse", "detailed"]
    # Equal token budget: steps x tokens per example match the detailed
    # run's (4 steps at the micro size) to within one step's rounding.
    detailed = results["detailed"]
    assert detailed["sft_steps"] == 4
    budget = detailed["sft_steps"] * detailed["tokens_per_example"]
    for style, r in results.items():
        assert len(r["per_problem"]["pass@1"]) == 6
        assert abs(r["sft_steps"] * r["tokens_per_example"] - budget) <= (
            r["tokens_per_example"] / 2 + 1e-6
        ), style
    assert (
        results["coarse"]["tokens_per_example"]
        < (detailed["tokens_per_example"])
    )
    # (Level-1 coarse solutions are barely shorter: 4 steps still.)
    assert results["coarse"]["sft_steps"] >= 4
    assert "[ssft] running" in log
    text = markdown.read_text()
    # Its section is added; study 1's is kept as it was.
    assert text.startswith("# Findings\n<!-- study:evaluator -->\nstudy 1")
    assert text.count("<!-- study:style -->") == 1
    assert "| coarse | 1 |" in text and "Maj1@4" in text

    # A rerun recomputes nothing and rewrites its section in place.
    log = _run(tmp_path, "style")
    assert "running" not in log and log.count(" reused") == 3
    assert markdown.read_text().count("<!-- study:style -->") == 1


@pytest.mark.slow
def test_micro_multitask_study_matches_steps_and_shares_the_first_phase(
    tmp_path,
):
    log = _run(tmp_path, "multitask")
    root = tmp_path / "runs" / "micro" / "multitask"
    results = {
        p.parent.name: json.loads(p.read_text())
        for p in (root / "points").glob("*/seed0.json")
    }
    assert sorted(results) == ["e2", "e4"]
    for name, r in results.items():
        assert len(r["ssft"]["pass@1"]) == 6
        assert len(r["multitask"]["rr_top_k"]) == 6
    # Matched compute: SSFT runs S + E + G = 4 + E + 2 steps.
    assert sorted(p.name for p in root.glob("ssft_*")) == [
        "ssft_10_seed0",
        "ssft_8_seed0",
    ]
    # The first generation phase and the evaluator data are trained and
    # sampled once, in the shared folder, then copied into both E runs.
    assert log.count("[ssft] running") == 3  # shared + 2 SSFT baselines
    assert log.count("[train_samples] running") == 1
    assert log.count("[multitask_evaluation] running") == 2
    text = (tmp_path / "out" / "findings.md").read_text()
    assert "study 3: multi-task" in text and "| 4 | 1 |" in text

    log = _run(tmp_path, "multitask")
    assert "running" not in log and log.count(" reused") == 2


@pytest.mark.slow
def test_micro_process_study_writes_its_section_and_resumes(tmp_path):
    log = _run(tmp_path, "process")
    root = tmp_path / "runs" / "micro" / "process"
    results = {
        p.parent.name: json.loads(p.read_text())
        for p in root.glob("*/seed0.json")
    }
    assert sorted(results) == [
        "monte_carlo",
        "outcome",
        "outcome_hard",
        "process_exact",
        "process_mc",
    ]
    for arm in ("outcome", "outcome_hard"):
        assert list(results[arm]["variants"]) == ["score"]
    for arm in ("process_exact", "process_mc"):
        variants = results[arm]["variants"]
        assert list(variants) == ["min", "product"]
        assert len(variants["min"]["per_problem"]["rr_top_k"]) == 6
    # Monte-Carlo labels: the first 3 problems' 4 samples each, k = 2
    # rollouts for every step but the last.
    mc = results["monte_carlo"]
    assert len(mc["labels"]) == 3 and {len(g) for g in mc["labels"]} == {4}
    steps = sum(len(v) for g in mc["labels"] for v in g)
    assert mc["cost"]["steps"] == steps
    assert mc["cost"]["rollouts"] == 2 * (steps - 12)
    text = (tmp_path / "out" / "findings.md").read_text()
    assert (
        "# Issue 29" in text and "| process, exact labels | product |" in text
    )
    assert "Maj1@4" in text and "RR.Top-2" in text

    log = _run(tmp_path, "process")
    assert "running" not in log and log.count(" reused") == 6


def test_cpu_studies_share_each_seeds_base_run():
    # At `--size=cpu` the style study's detailed run and the multi-task
    # study's first phase are the evaluator study's base run: trained once.
    code = "\n".join(
        [
            "import common, multitask, sizes, style",
            "common.FLAGS(['findings', '--size=cpu'])",
            "st = sizes.STYLE_STUDY['cpu']",
            "mt = sizes.MULTITASK_STUDY['cpu']",
            "ssft, _ = multitask.run_configs(mt, 1, 100, {})",
            "for config in (",
            "    style.run_config(st, 'detailed', 1, {}),",
            "    style.run_config(st, 'coarse', 1, {}),",
            "    ssft.replace(sft_steps=900),",
            "    ssft,",
            "):",
            "    print(sizes.shared_run(config, {}).run.run_dir)",
        ]
    )
    done = _python(code)
    root = os.path.join("runs", "findings", "cpu")
    assert done.stdout.split() == [
        os.path.join(root, "base_seed1"),
        os.path.join(root, "style", "coarse", "run_seed1"),
        os.path.join(root, "base_seed1"),
        os.path.join(root, "multitask", "ssft_1100_seed1"),
    ]


def test_synthetic_scores_and_between_cluster_share():
    code = "\n".join(
        [
            "import numpy as np",
            "import synthetic",
            "from keras_mathft import sampling",
            "rng = np.random.default_rng(0)",
            "correct = [[i < 30 for i in range(64)] for _ in range(200)]",
            "for auc in (0.6, 0.9, 0.99):",
            "    scores = synthetic.draw_scores(correct, auc, rng)",
            "    print(sampling.within_problem_auc(correct, scores))",
            # Two wrong clusters {0, 1} and {2, 3}, one right {4}; a
            # score of 0.5 is log-odds 0, 0.9 is log(9).
            "from keras_mathft.grading import AnswerCluster as C",
            "groups = [[C('1', (0, 1)), C('2', (2, 3)), C('3', (4,))]]",
            "right = [[False] * 4 + [True]]",
            "share = synthetic.between_cluster_share",
            "for scores in ([.5, .5, .9, .9, .1], [.5, .9, .5, .9, .1]):",
            "    print(share(groups, right, [scores]))",
        ]
    )
    done = _python(code)
    # 6,000 right and 6,800 wrong samples: a standard error near 0.006.
    measured = [float(v) for v in done.stdout.split()]
    assert measured[:3] == pytest.approx([0.6, 0.9, 0.99], abs=0.015)
    # Alike within clusters: all variance between; alike across: none.
    assert measured[3:] == pytest.approx([1.0, 0.0], abs=1e-9)
