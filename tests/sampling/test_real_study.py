"""The real-model study's report, recomputed from its stored samples.

`benchmarks/real_model.py` sampled Gemma 3 270M (the few-shot base model,
and the recipe's LoRA SSFT model with its evaluator) on MATH500 problems
and stored every test sample's text (and evaluator score) in
`real_study/`. Here the answers are extracted and
graded again and the metrics recomputed, so real model output stays in
the suite without running the model: a change in extraction, grading,
clustering or the re-rankers that moves a figure of the study fails
here. After an intended change, rerun the study's report stage
(`benchmarks/real_model.py --stages=report --study_out=...`).
"""

import json
import pathlib

import pytest

from keras_mathft import grading
from keras_mathft.data import MathProblem
from keras_mathft.sampling import Sample
from keras_mathft.sampling import evaluate
from keras_mathft.sampling import evaluator_auc
from keras_mathft.sampling import expected_calibration_error
from keras_mathft.sampling import within_problem_auc

pytestmark = pytest.mark.backend_independent

STUDY = pathlib.Path(__file__).parent / "real_study" / "gemma3_270m_cpu.jsonl"


def load_study():
    with open(STUDY, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return lines[0]["header"], lines[1:]


def sample(problem_id, index, text):
    return Sample(problem_id, index, text, grading.extract_answer(text), 1)


def setting(rows):
    problems = [
        MathProblem(
            "",
            "",
            r["reference"],
            r["subject"],
            r["level"],
            r["problem_id"],
        )
        for r in rows
    ]
    greedy = [sample(r["problem_id"], 0, r["greedy"]) for r in rows]
    samples = [
        [sample(r["problem_id"], i, t) for i, t in enumerate(r["samples"])]
        for r in rows
    ]
    scores = [r["scores"] for r in rows]
    return problems, greedy, samples, None if None in scores else scores


def flat(tree, prefix=""):
    """`{"a/b": number}` of a nested dict of numbers and lists of them."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(flat(value, f"{prefix}{key}/"))
        return out
    if isinstance(tree, list):
        return {f"{prefix}{i}": v for i, v in enumerate(tree)}
    return {prefix: tree}


@pytest.fixture(scope="module")
def study():
    return load_study()


def test_report_recomputes_from_stored_samples(study):
    header, rows = study
    for name in header["results"]:
        check_setting(header, rows, name)


def check_setting(header, rows, name):
    problems, greedy, samples, scores = setting(
        [r for r in rows if r["setting"] == name]
    )
    # Settings are compared on their first N samples (the base model's
    # draw holds more).
    num = header["settings"]["num_samples"]
    samples = [group[:num] for group in samples]
    top_k = header["settings"]["top_k_clusters"]
    result = evaluate(
        problems,
        samples,
        greedy=greedy,
        scores=scores,
        top_k=top_k,
        top_n=top_k,
        n_values=[n for n in (1, 2, 4, 8, 16, 32, 64) if n <= num],
        trials=16,
        seed=0,
        bootstrap=header["bootstrap"],
    )
    # The study was recorded before reports compared each re-ranker with
    # voting (`against_voting`): every figure it holds is recomputed.
    versus = result["overall"].pop("against_voting", None)
    assert (versus is not None) == (scores is not None)
    assert flat(result["overall"]) == pytest.approx(
        flat(header["results"][name]["overall"])
    )
    if scores is not None:
        correct = [
            [
                s.answer is not None
                and bool(grading.answers_equivalent(s.answer, p.answer))
                for s in group
            ]
            for p, group in zip(problems, samples)
        ]
        quality = {
            "evaluator_auc": evaluator_auc,
            "evaluator_within_problem_auc": within_problem_auc,
            "evaluator_ece": expected_calibration_error,
        }
        for key, metric in quality.items():
            assert metric(correct, scores) == pytest.approx(header[key]), key


def test_study_is_real_output(study):
    header, rows = study
    num = header["settings"]["num_samples"]
    assert {r["setting"] for r in rows} == set(header["results"])
    for r in rows:
        assert len(r["samples"]) >= num
        assert r["problem_id"].startswith("test/")
        assert 1 <= r["level"] <= header["settings"]["max_level"]
