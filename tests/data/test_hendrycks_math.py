import json
import logging

import pytest

from keras_mathft.data import KNOWN_ANSWERS
from keras_mathft.data import DataFormatError
from keras_mathft.data import LoadReport
from keras_mathft.data import MathProblem
from keras_mathft.data import load_math
from keras_mathft.data import parse_level
from keras_mathft.data import problem_from_row

pytestmark = pytest.mark.backend_independent


def _row(**overrides):
    row = {
        "problem": "What is $1+1$?",
        "level": "Level 2",
        "type": "Algebra",
        "solution": "$1+1=\\boxed{2}$.",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def _write_tree(root, files):
    for path, content in files.items():
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        if not isinstance(content, str):
            content = json.dumps(content, indent=4)
        file.write_text(content, encoding="utf-8")
    return root


def _write_jsonl(path, lines):
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def tree(tmp_path):
    return _write_tree(
        tmp_path / "MATH",
        {
            "train/algebra/10.json": _row(),
            "train/algebra/9.json": _row(problem="p9", level="Level ?"),
            "train/geometry/1.json": _row(type="Geometry", level="Level 5"),
            "test/algebra/3.json": _row(solution="So $\\boxed{\\frac12}$."),
        },
    )


def test_parse_level():
    assert [parse_level(v) for v in ("Level 1", "Level 5", 3, "4")] == [
        1,
        5,
        3,
        4,
    ]
    assert parse_level("Level ?") == 0
    for bad in ("Level x", "Level 6", 7, None, True, "", 2.0):
        with pytest.raises(ValueError, match="level"):
            parse_level(bad)


def test_tree_layout(tree):
    train = load_math(tree, "train")
    # Subject folders in order, files by number (9 before 10).
    assert [p.unique_id for p in train] == [
        "train/algebra/9.json",
        "train/algebra/10.json",
        "train/geometry/1.json",
    ]
    assert train[1] == MathProblem(
        problem="What is $1+1$?",
        solution="$1+1=\\boxed{2}$.",
        answer="2",
        subject="Algebra",
        level=2,
        unique_id="train/algebra/10.json",
    )
    assert train[0].level == 0
    (test,) = load_math(tree, "test")
    assert test.answer == "\\frac12"
    assert len(load_math(tree)) == 4
    # A split folder works too and keeps its ids.
    assert load_math(tree / "test") == [test]


def test_jsonl_layouts(tmp_path):
    path = _write_jsonl(
        tmp_path / "rows.jsonl",
        [
            {
                "problem": "p",
                "solution": "s \\boxed{3}",
                "answer": "3",
                "subject": "Prealgebra",
                "level": 1,
                "unique_id": "test/prealgebra/5.json",
            },
            _row(),  # The original fields, no id.
        ],
    )
    first, second = load_math(path)
    assert first.unique_id == "test/prealgebra/5.json" and first.level == 1
    assert (second.unique_id, second.answer) == ("rows.jsonl:2", "2")


def test_answer_field_wins_over_extraction():
    row = _row(answer="two")
    assert problem_from_row(row).answer == "two"


# Issue 28 item 5: solutions whose text states an answer without a box.
# The final-number, answer-phrase and final-math rules read them as `4`,
# `5`, `\\boxed{5` and `5`; a gold answer is never guessed.
UNBOXED = [
    "The area is 12 square units, so the perimeter is 14 units and it has "
    "4 sides.",
    "We add 2 and 3. The answer is 5.",
    "So the answer is $\\boxed{5$.",
    "Therefore $x = 5$.",
]


@pytest.mark.parametrize("solution", UNBOXED)
def test_gold_answers_come_only_from_a_box(tmp_path, solution):
    path = _write_jsonl(
        tmp_path / "rows.jsonl",
        [_row(problem="a"), _row(problem="b", solution=solution)],
    )
    with pytest.raises(DataFormatError, match="no final `\\\\boxed") as info:
        load_math(path)
    assert info.value.location == f"{path}:2"
    report = LoadReport()
    problems = load_math(path, strict=False, report=report)
    assert [p.problem for p in problems] == ["a"]
    assert [e.location for e in report.skipped] == [f"{path}:2"]
    root = _write_tree(
        tmp_path / "MATH",
        {
            "train/algebra/1.json": _row(),
            "train/algebra/2.json": _row(solution=solution),
        },
    )
    with pytest.raises(DataFormatError, match="2.json:1: The solution has"):
        load_math(root, "train")
    report = LoadReport()
    problems = load_math(root, "train", strict=False, report=report)
    assert [p.unique_id for p in problems] == ["train/algebra/1.json"]
    assert report.num_skipped == 1
    # An explicit `answer` field is a gold answer whatever the solution.
    assert problem_from_row(_row(solution=solution, answer="7")).answer == "7"


def test_an_empty_answer_field_is_refused(tmp_path):
    path = _write_jsonl(tmp_path / "rows.jsonl", [_row(answer=" ")])
    with pytest.raises(DataFormatError, match="`answer` is empty"):
        load_math(path)
    report = LoadReport()
    assert load_math(path, strict=False, report=report) == []
    assert report.num_skipped == 1


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_line_numbers_count_cr_line_ends(tmp_path, newline):
    # Issue 28 item 15: an old Mac (CR-only) file reported every error at
    # line 1 and lenient reading skipped the rest of the file.
    lines = [
        json.dumps(_row(problem="a")),
        json.dumps(_row(problem="b")),
        '{"problem": oops}',
        json.dumps(_row(problem="d")),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    with pytest.raises(DataFormatError) as info:
        load_math(path)
    assert info.value.location == f"{path}:3"
    assert "at line 3, column 13" in str(info.value)
    report = LoadReport()
    problems = load_math(path, strict=False, report=report)
    assert [p.unique_id for p in problems] == [
        "rows.jsonl:1",
        "rows.jsonl:2",
        "rows.jsonl:4",
    ]
    assert [e.location for e in report.skipped] == [f"{path}:3"]
    # A pretty-printed object spanning CR-ended lines, then a bad byte.
    text = json.dumps(_row(problem="e"), indent=1).replace("\n", newline)
    path.write_bytes(
        (text + newline).encode("utf-8") + b'{"problem": "caf\xe9"}'
    )
    with pytest.raises(DataFormatError, match="column 17") as info:
        load_math(path)
    assert info.value.location == f"{path}:{text.count(newline) + 2}"


def test_known_answers_fix_upstream_quirks(tmp_path):
    root = _write_tree(
        tmp_path,
        {"train/algebra/24014.json": _row(solution="is $\\boxed{2$}.")},
    )
    (problem,) = load_math(root, "train")
    assert problem.answer == KNOWN_ANSWERS["train/algebra/24014.json"] == "2"
    assert problem.solution == "is $\\boxed{2$}."


@pytest.mark.parametrize(
    "line, match",
    [
        ('{"problem": "p", "level": ', "Malformed JSON"),
        (json.dumps(_row(solution=None)), "Missing field `solution`"),
        (json.dumps(_row(type=None)), "Missing field `subject`"),
        (json.dumps(_row(level=None)), "Missing field `level`"),
        (json.dumps(_row(level="Level x")), "level"),
        (json.dumps(_row(solution="no box")), "no final"),
        (json.dumps(_row(problem=3)), "`problem` must be a string"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_jsonl_line_names_file_and_line(tmp_path, line, match):
    path = _write_jsonl(tmp_path / "bad.jsonl", [_row(), _row(), line])
    with pytest.raises(DataFormatError, match=match) as info:
        load_math(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert "Received: " in str(info.value)
    assert info.value.location == f"{path}:3"


def test_bad_tree_file_names_the_file(tree):
    bad = tree / "train/algebra/11.json"
    bad.write_text(json.dumps(_row(level="Level x"), indent=4))
    with pytest.raises(DataFormatError, match="11.json:1: A level"):
        load_math(tree, "train")
    bad.write_text('{\n  "problem": oops\n}')
    with pytest.raises(
        DataFormatError, match="11.json:1: Malformed JSON .* at line 2"
    ):
        load_math(tree, "train")


def test_lenient_mode_counts_and_logs_skips(tmp_path, caplog):
    path = _write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            _row(),
            "{not json",
            _row(level="Level x"),
            _row(solution="no box"),
            _row(problem="last"),
        ],
    )
    report = LoadReport()
    with caplog.at_level(logging.WARNING):
        problems = load_math(path, strict=False, report=report)
    assert [p.problem for p in problems] == ["What is $1+1$?", "last"]
    assert report.num_loaded == 2 and report.num_skipped == 3
    assert [e.location for e in report.skipped] == [
        f"{path}:2",
        f"{path}:3",
        f"{path}:4",
    ]
    assert "skipped 3" in caplog.text


def test_lenient_mode_resumes_after_pretty_printed_garbage(tmp_path):
    text = (
        json.dumps(_row(problem="a"), indent=4)
        + '\n{\n    "problem": broken\n}\n'
        + json.dumps(_row(problem="b"), indent=4)
    )
    path = tmp_path / "objects.json"
    path.write_text(text)
    report = LoadReport()
    problems = load_math(path, strict=False, report=report)
    assert [p.problem for p in problems] == ["a", "b"]
    assert report.skipped[0].location == f"{path}:7"


def test_bad_paths_and_splits(tmp_path, tree):
    with pytest.raises(ValueError, match="exists"):
        load_math(tmp_path / "nope")
    with pytest.raises(ValueError, match="split"):
        load_math(tree, "validation")
    with pytest.raises(ValueError, match="no `<subject>"):
        load_math(tmp_path / "MATH" / "train" / "algebra")


def test_real_math_tree_counts(real_math):
    train, test = real_math
    assert (len(train), len(test)) == (7500, 5000)
    ids = {p.unique_id for p in train + test}
    assert len(ids) == 12500
    assert {p.level for p in train + test} == {0, 1, 2, 3, 4, 5}
    by_id = {p.unique_id: p for p in train + test}
    assert by_id["train/geometry/377.json"].level == 0
    assert by_id["train/geometry/471.json"].level == 0
    for uid, answer in KNOWN_ANSWERS.items():
        assert by_id[uid].answer == answer
    assert by_id["test/algebra/1.json"].subject == "Algebra"
    assert all(p.answer for p in train + test)


def test_real_jsonl_layouts(shared_data, real_math):
    rows = load_math(shared_data / "MATH" / "test.jsonl")
    assert len(rows) == 5000
    _, test = real_math
    key = lambda p: (p.problem, p.solution, p.level, p.subject)  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, test))
    math500 = load_math(shared_data / "prm800k/math_splits/test.jsonl")
    assert len(math500) == 500
    by_id = {p.unique_id: p for p in test}
    for p in math500:
        original = by_id[p.unique_id]
        assert (p.problem, p.solution, p.level, p.subject) == key(original)
        assert p.answer == original.answer


GOOD = json.dumps(_row(problem="good")).encode("utf-8") + b"\n"


@pytest.mark.parametrize(
    "bad, match",
    [
        # Latin-1 text, and a stray byte inside and outside a string.
        (
            json.dumps(_row(problem="café"), ensure_ascii=False).encode(
                "latin-1"
            ),
            "Byte 0xe9 at column 17 is not UTF-8",
        ),
        (
            json.dumps(_row(x="\x00"))
            .replace("\\u0000", "\xff")
            .encode("latin-1"),
            "Byte 0xff .* not UTF-8",
        ),
        (b'{"problem": \xff}', "Byte 0xff at column 13 is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"level": ' + b"9" * 5000 + b"}", "number that cannot be read"),
        (b'{"problem": "a\nb"}', r"\(Invalid control character at line 2"),
    ],
)
def test_unreadable_lines_name_file_and_line(tmp_path, bad, match):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(GOOD + bad + b"\n" + GOOD)
    with pytest.raises(DataFormatError, match=match) as info:
        load_math(path)
    assert info.value.location == f"{path}:2"
    assert "Received: " in str(info.value)
    assert " at at " not in str(info.value)
    report = LoadReport()
    problems = load_math(path, strict=False, report=report)
    last = 3 + bad.count(b"\n")
    assert [p.unique_id for p in problems] == [
        "rows.jsonl:1",
        f"rows.jsonl:{last}",
    ]
    assert [e.location for e in report.skipped] == [f"{path}:2"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_wide_encodings_are_refused_by_name(tmp_path, encoding):
    path = tmp_path / "rows.jsonl"
    path.write_bytes((json.dumps(_row()) + "\n").encode(encoding))
    with pytest.raises(DataFormatError, match="save it as UTF-8") as info:
        load_math(path)
    assert info.value.location == f"{path}:1"
    report = LoadReport()
    assert load_math(path, strict=False, report=report) == []
    assert report.num_skipped == 1


def test_tree_counts_empty_and_unreadable_files(tree):
    (tree / "train/algebra/12.json").write_text("")
    (tree / "train/algebra/5.json").mkdir()
    report = LoadReport()
    problems = load_math(tree, "train", strict=False, report=report)
    assert len(problems) == 3
    assert sorted(e.location for e in report.skipped) == [
        str(tree / "train/algebra/12.json") + ":1",
        str(tree / "train/algebra/5.json"),
    ]
    with pytest.raises(DataFormatError, match="5.json: Cannot read"):
        load_math(tree, "train")
    (tree / "train/algebra/5.json").rmdir()
    with pytest.raises(DataFormatError, match="12.json:1: A per-problem"):
        load_math(tree, "train")


def test_missing_paths_are_data_format_errors(tmp_path):
    for strict in (True, False):
        with pytest.raises(DataFormatError, match="exists") as info:
            load_math(tmp_path / "nope.jsonl", strict=strict)
        assert info.value.location == str(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("answer", [{"a": 1}, 5, ["5"], True])
def test_non_string_answers_are_refused_not_converted(tmp_path, answer):
    path = _write_jsonl(tmp_path / "rows.jsonl", [_row(answer=answer)])
    with pytest.raises(DataFormatError, match="`answer` must be a string"):
        load_math(path)
    report = LoadReport()
    assert load_math(path, strict=False, report=report) == []
    assert report.num_skipped == 1


def test_repeated_unique_ids_are_refused(tmp_path):
    rows = [
        _row(problem="first", unique_id="u"),
        _row(problem="other"),
        _row(problem="second", unique_id="u"),
    ]
    path = _write_jsonl(tmp_path / "rows.jsonl", rows)
    with pytest.raises(DataFormatError, match=f"used before, at {path}:1"):
        load_math(path)
    report = LoadReport()
    problems = load_math(path, strict=False, report=report)
    assert [p.problem for p in problems] == ["first", "other"]
    assert [e.location for e in report.skipped] == [f"{path}:3"]
