import json

import pytest

from keras_mathft.data import DataFormatError
from keras_mathft.data import LoadReport
from keras_mathft.data import MathProblem
from keras_mathft.data import correct_solutions
from keras_mathft.data import load_prm800k
from keras_mathft.data import steps_to_solution
from keras_mathft.grading import extract_answer

pytestmark = pytest.mark.backend_independent

EXAMPLES = "prm800k/examples"


def _record(steps, answer="5", **question):
    return {
        "labeler": "x",
        "generation": None,
        "question": {"problem": "2+3?", "ground_truth_answer": answer}
        | question,
        "label": {"steps": steps, "finish_reason": "solution"},
    }


def _step(text, rating=1, chosen=0):
    completions = [{"text": text, "rating": rating, "flagged": False}]
    return {
        "completions": completions,
        "human_completion": None,
        "chosen_completion": chosen,
    }


def _write(tmp_path, rows, name="labels.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_steps_to_solution_ends_in_boxed_answer():
    text = steps_to_solution(["Add them.", "$2+3=5$.\n\n# Answer\n\n5"])
    assert text == "Add them.\n$2+3=5$.\nThe answer is $\\boxed{5}$."
    assert extract_answer(text) == "5"
    assert steps_to_solution(["No answer yet."]) is None
    assert steps_to_solution(["# Answer\n\n5"]) == "The answer is $\\boxed{5}$."


def test_phase1_fixture(tmp_path):
    human = {"text": "Carry on.", "rating": None, "source": "human"}
    rows = [
        _record(
            [
                _step("Add them."),
                {
                    "completions": [{"text": "bad", "rating": -1}],
                    "human_completion": human,
                    "chosen_completion": None,
                },
                _step("# Answer\n\n5", rating=0),
            ]
        ),
        _record([_step("Wrong.\n\n# Answer\n\n6")]),
        _record([_step("Unfinished.", chosen=None)]),
    ]
    records = load_prm800k(_write(tmp_path, rows))
    first = records[0]
    assert first.phase == 1 and first.finish_reason == "solution"
    assert first.solution_steps() == ["Add them.", "Carry on.", "# Answer\n\n5"]
    assert first.step_ratings() == [1, None, 0]
    assert first.steps[1].ratings == (-1,)
    assert first.final_answer() == "5"
    assert records[1].final_answer() == "6"
    assert records[2].final_answer() is None
    assert records[2].solution_text() is None
    (solution,) = correct_solutions(records)
    assert solution.solution == (
        "Add them.\nCarry on.\nThe answer is $\\boxed{5}$."
    )
    assert solution.answer == "5"
    assert solution.unique_id == f"{tmp_path / 'labels.jsonl'}:1"


def test_correct_solutions_dedupes_and_matches_problems(tmp_path):
    row = _record([_step("# Answer\n\n5")])
    records = load_prm800k(_write(tmp_path, [row, row]))
    math = [MathProblem("2+3?", "s", "5", "Algebra", 1, "test/algebra/7.json")]
    (solution,) = correct_solutions(records, problems=math)
    assert (solution.subject, solution.level, solution.unique_id) == (
        "Algebra",
        1,
        "test/algebra/7.json",
    )


def test_phase2_uses_pre_generated_steps(tmp_path):
    row = _record(
        [_step("Add.")],
        pre_generated_steps=["Add.", "So 5.\n\n# Answer\n\n5"],
        pre_generated_answer="5",
        ground_truth_solution="\\boxed{5}",
    )
    (record,) = load_prm800k(_write(tmp_path, [row]))
    assert record.phase == 2
    assert record.solution_text() == "Add.\nSo 5.\nThe answer is $\\boxed{5}$."
    assert len(correct_solutions([record])) == 1


@pytest.mark.parametrize("truth", [None, "", " "])
def test_a_blank_ground_truth_gives_no_solution(tmp_path, truth):
    # A blank gold answer equals nothing but a blank final answer.
    row = _record(
        [_step("Add.")],
        answer=truth,
        pre_generated_steps=["Add.", "# Answer\n\n"],
        pre_generated_answer="",
    )
    records = load_prm800k(_write(tmp_path, [row]))
    assert correct_solutions(records) == []


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda r: r.pop("question"), "Missing field `question`"),
        (lambda r: r["question"].pop("problem"), "`question.problem`"),
        (lambda r: r["label"].pop("steps"), "`label.steps`"),
        (lambda r: r["label"].update(steps={}), "must be a list"),
        (
            lambda r: r["label"]["steps"][0].update(chosen_completion=3),
            "chosen_completion",
        ),
        (
            lambda r: r["label"]["steps"][0]["completions"][0].update(rating=2),
            "rating",
        ),
        (
            lambda r: r["question"].update(pre_generated_steps="x"),
            "pre_generated_steps",
        ),
    ],
)
def test_bad_records_name_file_and_line(tmp_path, mutate, match):
    bad = _record([_step("# Answer\n\n5")])
    mutate(bad)
    path = _write(tmp_path, [_record([_step("ok")]), bad])
    with pytest.raises(DataFormatError, match=match) as info:
        load_prm800k(path)
    assert info.value.location == f"{path}:2"
    report = LoadReport()
    assert len(load_prm800k(path, strict=False, report=report)) == 1
    assert report.num_skipped == 1


def test_malformed_json_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(_record([])) + "\n{oops\n")
    with pytest.raises(DataFormatError, match="labels.jsonl:2: Malformed"):
        load_prm800k(path)


def test_real_examples(shared_data):
    examples = shared_data / EXAMPLES
    (test1,) = load_prm800k(examples / "prm800k-phase1-test-example.json")
    # Three pretty-printed objects back to back, not one JSON document.
    train1 = load_prm800k(examples / "prm800k-phase1-train-example.json")
    assert [r.finish_reason for r in train1] == [
        "solution",
        "give_up",
        "solution",
    ]
    assert [r.location.rsplit(":", 1)[1] for r in train1][0] == "1"
    (test2,) = load_prm800k(examples / "prm800k-phase2-test-example.json")
    assert test1.phase == 1 and test2.phase == 2
    assert test1.final_answer() == "29"
    assert test1.step_ratings() == [1, None, 1, 1, 1, 1]
    assert test1.solution_text().endswith(
        "That means a pencil costs 29 cents.\nThe answer is $\\boxed{29}$."
    )
    assert test2.final_answer() == "7200"
    assert test2.ground_truth_answer == "28800"
    assert test2.step_ratings() == [1, 0, 1, 1, 1, 1]
    # The give-up record has no answer; the phase 2 answer is wrong.
    kept = correct_solutions([test1, *train1, test2])
    assert [s.answer for s in kept] == ["29", "40_9"]
    assert all(extract_answer(s.solution) == s.answer for s in kept)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (
            lambda r: r["question"].update(ground_truth_answer={"a": 1}),
            "`question.ground_truth_answer` must be a string",
        ),
        (
            lambda r: r["question"].update(pre_generated_answer=5),
            "`question.pre_generated_answer` must be a string",
        ),
        (
            lambda r: r["label"].update(finish_reason=["solution"]),
            "`label.finish_reason` must be a string",
        ),
    ],
)
def test_non_string_answers_are_refused_not_converted(tmp_path, mutate, match):
    bad = _record([_step("# Answer\n\n5")])
    mutate(bad)
    path = _write(tmp_path, [bad])
    with pytest.raises(DataFormatError, match=match) as info:
        load_prm800k(path)
    assert info.value.location == f"{path}:1"


def test_missing_or_unreadable_files_are_data_format_errors(tmp_path):
    for strict in (True, False):
        with pytest.raises(DataFormatError, match="exists"):
            load_prm800k(tmp_path / "missing.jsonl", strict=strict)
    path = tmp_path / "labels.jsonl"
    path.write_bytes(
        json.dumps(_record([_step("ok")])).encode() + b"\n{\xff}\n"
    )
    with pytest.raises(DataFormatError, match="labels.jsonl:2: Byte 0xff"):
        load_prm800k(path)
    report = LoadReport()
    assert len(load_prm800k(path, strict=False, report=report)) == 1
    assert report.num_skipped == 1
