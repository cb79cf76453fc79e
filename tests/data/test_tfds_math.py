import json

import pytest
import tensorflow_datasets as tfds

from keras_mathft.data import DataFormatError
from keras_mathft.data import HendrycksMath
from keras_mathft.data import load_math
from keras_mathft.data import problems_from_tfds

pytestmark = pytest.mark.backend_independent


def _row(problem, level="Level 2", solution=None):
    return {
        "problem": problem,
        "level": level,
        "type": "Algebra",
        "solution": solution or f"So $\\boxed{{{len(problem)}}}$.",
    }


def _manual(tmp_path, math500=True, bad=False, unboxed=False):
    manual = tmp_path / "manual"
    solution = "So it has 4 sides." if unboxed else None
    files = {
        "MATH/train/algebra/1.json": _row("x+1", solution=solution),
        "MATH/test/algebra/1.json": _row("y+22", "Level x" if bad else "1"),
        "MATH/test/algebra/2.json": _row("z+333"),
    }
    for path, row in files.items():
        (manual / path).parent.mkdir(parents=True, exist_ok=True)
        (manual / path).write_text(json.dumps(row))
    if math500:
        path = manual / "prm800k/math_splits/test.jsonl"
        path.parent.mkdir(parents=True)
        row = _row("z+333") | {"unique_id": "test/algebra/2.json"}
        path.write_text(json.dumps(row) + "\n")
    return manual


def _load(tmp_path, manual, split):
    return tfds.load(
        "hendrycks_math",
        split=split,
        data_dir=str(tmp_path / "tfds"),
        download_and_prepare_kwargs={
            "download_config": tfds.download.DownloadConfig(
                manual_dir=str(manual)
            )
        },
    )


def test_tfds_load_round_trips_records(tmp_path):
    manual = _manual(tmp_path)
    assert "hendrycks_math" in tfds.list_builders()
    expected = {
        "train": load_math(manual / "MATH", "train"),
        "test": load_math(manual / "MATH", "test"),
    }
    for split, problems in expected.items():
        got = problems_from_tfds(_load(tmp_path, manual, split))
        assert sorted(got, key=str) == sorted(problems, key=str)
    paper_train = problems_from_tfds(_load(tmp_path, manual, "paper_train"))
    assert sorted(p.unique_id for p in paper_train) == [
        "test/algebra/1.json",
        "train/algebra/1.json",
    ]
    (math500,) = problems_from_tfds(_load(tmp_path, manual, "math500"))
    assert (math500.unique_id, math500.answer) == ("test/algebra/2.json", "5")
    info = HendrycksMath(data_dir=str(tmp_path / "tfds")).info
    assert info.splits["train"].num_examples == 1


def test_tfds_build_fails_on_bad_file(tmp_path):
    manual = _manual(tmp_path, math500=False, bad=True)
    with pytest.raises(DataFormatError, match="test/algebra/1.json:1"):
        _load(tmp_path, manual, "test")


def test_tfds_build_refuses_a_solution_without_a_box(tmp_path):
    # Issue 28 item 5: the builder reads through `load_math` (strict).
    manual = _manual(tmp_path, math500=False, unboxed=True)
    with pytest.raises(DataFormatError, match="train/algebra/1.json:1: The"):
        _load(tmp_path, manual, "train")


def test_tfds_needs_the_math_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="MATH/train"):
        _load(tmp_path, tmp_path / "empty", "train")
