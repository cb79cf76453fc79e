import pytest

from keras_mathft.data import DataFormatError
from keras_mathft.data import LoadReport
from keras_mathft.data import MathProblem
from keras_mathft.data import problem_from_hf_row
from keras_mathft.data import problems_from_rows
from keras_mathft.data import to_hf_dataset

pytestmark = pytest.mark.backend_independent

ROW = {
    "problem": "1+1?",
    "solution": "$\\boxed{2}$",
    "answer": "2",
    "subject": "Algebra",
    "level": 1,
    "unique_id": "test/algebra/3.json",
}


def test_math500_style_row():
    assert problem_from_hf_row(ROW) == MathProblem(**ROW)


def test_aliases_and_default_ids():
    row = {
        "question": "1+1?",
        "solution": "$\\boxed{2}$",
        "type": "Algebra",
        "level": "Level 3",
    }
    (problem,) = problems_from_rows([row], name="math_train")
    assert problem.problem == "1+1?" and problem.level == 3
    assert problem.unique_id == "math_train:0" and problem.answer == "2"


def test_bad_rows_name_their_index():
    rows = [ROW, {**ROW, "level": "Level x"}]
    with pytest.raises(DataFormatError, match="hf:1: A level"):
        problems_from_rows(rows)
    report = LoadReport()
    assert len(problems_from_rows(rows, strict=False, report=report)) == 1
    assert report.skipped[0].location == "hf:1"


def test_a_row_without_a_box_or_answer_is_refused():
    # Issue 28 item 5: no gold answer is guessed from the solution's text.
    row = {k: v for k, v in ROW.items() if k != "answer"}
    rows = [row, {**row, "solution": "We add 2 and 3. The answer is 5."}]
    with pytest.raises(DataFormatError, match="hf:1: The solution has no"):
        problems_from_rows(rows)
    report = LoadReport()
    (problem,) = problems_from_rows(rows, strict=False, report=report)
    assert problem.answer == "2"
    assert [e.location for e in report.skipped] == ["hf:1"]


def test_round_trip_through_datasets():
    pytest.importorskip("datasets")
    problems = [MathProblem(**ROW)]
    assert problems_from_rows(to_hf_dataset(problems)) == problems


def test_to_hf_dataset_without_datasets_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install datasets"):
        to_hf_dataset([MathProblem(**ROW)])
