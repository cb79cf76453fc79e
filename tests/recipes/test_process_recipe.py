"""`--evaluator=process` end to end on a tiny config."""

import json

import pytest
from pipeline_child import TINY

from keras_mathft import data
from keras_mathft import sampling
from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import run_pipeline
from keras_mathft.recipes import sampling_stages
from keras_mathft.recipes import stage_names


def _alternating_labels(flat):
    """Every other solution right throughout, the others wrong at once.

    A tiny model's samples are never right; these labels give the
    process evaluator pairs to train on.
    """
    out = []
    for i, (_, text) in enumerate(flat):
        n = len(data.split_steps(text))
        wrong = [0] + [None] * (n - 1) if n else []
        out.append([1] * n if i % 2 == 0 else wrong)
    return out


def _read(path):
    return json.loads(path.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("multitask", [False, True])
def test_process_evaluator_trains_on_step_labels_and_scores_steps(
    tmp_path, monkeypatch, multitask
):
    monkeypatch.setattr(sampling_stages, "exact_labels", _alternating_labels)
    config = RecipeConfig(
        run_dir=str(tmp_path / "run"),
        evaluator="process",
        multitask=multitask,
        **{**TINY, "evaluator_loss": "mixture"},
    )
    trained = "multitask_evaluation" if multitask else "evaluator"
    names = stage_names(config)
    assert names[3:5] == ["step_labels", trained]
    report = run_pipeline(config, verbose=0)
    recipe = report["recipe"]
    run = tmp_path / "run"
    rows = [
        json.loads(line)
        for line in (run / "step_labels" / "steps.jsonl").open()
    ]
    labels = [v for r in rows for v in r["labels"]]
    assert recipe["stages"]["step_labels"] == {
        "solutions": TINY["num_eval_train_problems"]
        * TINY["num_train_samples"],
        "right_steps": labels.count(1),
        "wrong_steps": labels.count(0),
        "source": "exact",
    }
    assert recipe["stages"][trained]["trained"] is True
    assert recipe["stages"][trained]["step_pairs"] > 0
    # A solution's score is its weakest step's.
    steps = _read(run / "test_scores" / "step_scores.json")
    scores = _read(run / "test_scores" / "scores.json")
    assert [len(g) for g in steps] == [TINY["num_samples"]] * len(steps)
    for step_group, score_group in zip(steps, scores):
        for step_scores, score in zip(step_group, score_group):
            assert score == pytest.approx(min(step_scores))
            assert 0 < score < 1
    product = recipe["process_product"]
    rerankers = [n for n, r in sampling.RERANKERS.items() if r.needs_scores]
    assert set(product) == {"evaluator_within_problem_auc", *rerankers}
    assert all(0 <= product[n] <= 1 for n in rerankers)
    assert recipe["config"]["evaluator"] == "process"


@pytest.mark.backend_independent
def test_the_outcome_evaluator_has_no_step_stage():
    config = RecipeConfig(**TINY)
    assert "step_labels" not in stage_names(config)
    assert config.evaluator.evaluator == "outcome"


@pytest.mark.backend_independent
def test_exact_step_labels_of_the_stage_are_the_data_module_s():
    problems = data.make_synthetic_problems(3, seed=0, levels=[1])
    flat = [(p, p.solution) for p in problems]
    flat += [(p, p.solution.replace(" = ", " = 1", 1)) for p in problems]
    expected = [data.exact_step_labels(p, t).labels for p, t in flat]
    assert sampling_stages.exact_labels(flat) == expected
    assert all(set(v) <= {1} for v in expected[:3])
    assert all(0 in v for v in expected[3:])


def _math_row(a, b):
    return json.dumps(
        {
            "problem": f"What is ${a}+{b}$?",
            "solution": f"${a}+{b}={a + b}$.\nSo it is $\\boxed{{{a + b}}}$.",
            "answer": str(a + b),
            "level": "Level 1",
            "type": "Algebra",
        }
    )


@pytest.mark.slow
def test_step_labels_of_other_data_come_from_rollouts(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "train.jsonl").write_text(
        "".join(_math_row(a, 1) + "\n" for a in range(3))
    )
    (data_dir / "test.jsonl").write_text(_math_row(7, 7) + "\n")
    config = RecipeConfig(
        run_dir=str(tmp_path / "run"),
        evaluator="process",
        **{
            **TINY,
            "data": "math",
            "data_dir": str(data_dir),
            "num_train_problems": None,
            "num_test_problems": None,
            "num_eval_train_problems": None,
            "batch_size": 2,
        },
    )
    run_pipeline(config, verbose=0, stop_after="step_labels")
    folder = tmp_path / "run" / "step_labels"
    summary = _read(folder / "DONE.json")["summary"]
    rows = [json.loads(line) for line in (folder / "steps.jsonl").open()]
    steps = [len(data.split_steps(r["solution"])) for r in rows]
    assert [len(r["labels"]) for r in rows] == steps
    assert summary["source"] == "monte_carlo"
    assert summary["solutions"] == 3 * TINY["num_train_samples"]
    # k rollouts from every step but the last, which the sample ends.
    k = sampling_stages.STEP_ROLLOUTS
    assert summary["rollouts"] == k * sum(max(n - 1, 0) for n in steps)
    labels = [v for r in rows for v in r["labels"]]
    assert summary["right_steps"] == labels.count(1)
    assert summary["wrong_steps"] == labels.count(0)
