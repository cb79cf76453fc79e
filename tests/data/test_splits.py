import pytest

from keras_mathft.data import MathProblem
from keras_mathft.data import load_paper_split
from keras_mathft.data import paper_split

pytestmark = pytest.mark.backend_independent


def _problems(ids):
    return [MathProblem(f"p {i}", "s", "1", "Algebra", 1, i) for i in ids]


def test_paper_split_moves_non_math500_test_problems_to_train():
    train = _problems(["train/a/1.json", "train/a/2.json"])
    test = _problems(["test/a/1.json", "test/a/2.json", "test/a/3.json"])
    math500 = _problems(["test/a/3.json", "test/a/1.json"])
    new_train, new_test = paper_split(train, test, math500)
    assert [p.unique_id for p in new_train] == [
        "train/a/1.json",
        "train/a/2.json",
        "test/a/2.json",
    ]
    assert new_test == math500


def test_paper_split_rejects_unknown_and_repeated_ids():
    train = _problems(["train/a/1.json"])
    test = _problems(["test/a/1.json"])
    with pytest.raises(ValueError, match="MATH500 `unique_id`"):
        paper_split(train, test, _problems(["test/a/9.json"]))
    with pytest.raises(ValueError, match="repeats"):
        paper_split(train, test + test, _problems(["test/a/1.json"]))
    with pytest.raises(ValueError, match="overlap"):
        paper_split(test, test, _problems(["test/a/1.json"]))


def test_load_paper_split_counts_on_real_data(shared_data):
    train, test = load_paper_split(shared_data)
    assert (len(train), len(test)) == (12_000, 500)
    test_ids = {p.unique_id for p in test}
    assert not test_ids & {p.unique_id for p in train}
    assert sum(p.unique_id.startswith("test/") for p in train) == 4_500
    assert all(p.unique_id.startswith("test/") for p in test)


def test_load_paper_split_checks_counts(tmp_path):
    import json

    for split, n in (("train", 1), ("test", 2)):
        folder = tmp_path / "MATH" / split / "algebra"
        folder.mkdir(parents=True)
        row = {
            "problem": "p",
            "level": "Level 1",
            "type": "Algebra",
            "solution": "\\boxed{1}",
        }
        for i in range(n):
            (folder / f"{i}.json").write_text(json.dumps(row))
    math500 = tmp_path / "prm800k" / "math_splits" / "test.jsonl"
    math500.parent.mkdir(parents=True)
    row.update(unique_id="test/algebra/0.json", subject="Algebra")
    math500.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"Received: \(2, 1\)"):
        load_paper_split(tmp_path)
    train, test = load_paper_split(tmp_path, check_counts=False)
    assert (len(train), len(test)) == (2, 1)
