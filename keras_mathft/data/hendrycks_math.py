"""Loaders for the MATH dataset (Hendrycks et al., 2021) in both layouts.

- The original tree `MATH/{train,test}/<subject>/<n>.json`, one problem per
  file with fields `problem`, `level` (`"Level 3"`), `type` (the subject)
  and `solution`. The `unique_id` is the path under `MATH/`, e.g.
  `"test/algebra/1.json"`, which is the id MATH500 and PRM800K use.
- JSONL rows, either MATH500 / PRM800K style (`problem`, `solution`,
  `answer`, `subject`, `level` as an int, `unique_id`) or the original
  fields one per line. Rows without `unique_id` get `"<file name>:<line>"`.

A gold answer comes from the row's `answer` field, else from the
solution's last `\\boxed{...}` (`keras_mathft.grading.extract_answer_record`
with the `boxed` rule): never from the answer phrases, final math or final
numbers that read a model's solution, which would guess a wrong gold (the
last number of "... so it has 4 sides.") or one nothing can equal (the
`\\boxed{5` of an unclosed box). A solution without a box is a
`DataFormatError` (a skip in lenient mode).

Upstream quirks, decided here once (all 12,500 real files load in strict
mode):

- `"Level ?"` (two train geometry files) becomes level 0, as documented on
  `MathProblem`; any other unreadable level is an error.
- `KNOWN_ANSWERS` gives the answer of four files whose solution text
  cannot: `train/algebra/24014.json` boxes `2$`;
  `test/prealgebra/177.json` uses `\\boxed{N}` as the problem's own
  notation and leaves its answer 6 un-boxed (extraction would give 6 only
  by luck of the last box, and a wrong value for most rewrites); and
  `train/number_theory/7115.json` / `7117.json` box nothing
  (`\\boxed{}`) where their text concludes there are no primes (0). The
  solution text itself is kept byte for byte.
"""

import os
import pathlib

from keras_mathft.data.errors import DataFormatError
from keras_mathft.data.errors import LoadReport
from keras_mathft.data.errors import excerpt
from keras_mathft.data.errors import handle_error
from keras_mathft.data.errors import log_skips
from keras_mathft.data.json_records import iter_json_objects
from keras_mathft.data.records import MathProblem

SPLITS = ("train", "test")

# unique_id -> the reference answer, for solutions whose last \boxed{} is
# not the answer (see the module docstring).
KNOWN_ANSWERS = {
    "train/algebra/24014.json": "2",
    "train/number_theory/7115.json": "0",
    "train/number_theory/7117.json": "0",
    "test/prealgebra/177.json": "6",
}


def parse_level(value):
    """Reads a MATH difficulty level as an int.

    Accepts ints 0-5, and strings `"Level N"` or `"N"`. `"Level ?"` (used
    upstream for two unrated problems) reads as 0.

    Raises:
        ValueError: for anything else.

    Example:

    >>> parse_level("Level 3"), parse_level(4), parse_level("Level ?")
    (3, 4, 0)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("level"):
            text = text[len("level") :].strip()
        if text == "?":
            return 0
        number = int(text) if text.isdigit() else -1
    else:
        number = -1
    if not 0 <= number <= 5:
        raise ValueError(
            'A level must be an int from 0 to 5 or a string "Level N" '
            f'(or "Level ?" for unrated). Received: {excerpt(value)}'
        )
    return number


def problem_from_row(row, unique_id=None, location="<row>"):
    """Builds a `MathProblem` from one MATH-style mapping.

    Reads `problem`, `solution`, `level` and `subject` (or `type`), plus
    `answer` and `unique_id` when present. A missing answer is the content
    of the solution's last complete `\\boxed{...}` (or `\\fbox{...}`);
    it is never guessed from the solution's prose.

    Args:
        row: mapping. One record.
        unique_id: str. Id to use when the row has none.
        location: str. Where the row came from (`"path:line"`), for errors.

    Returns:
        A `MathProblem`.

    Raises:
        DataFormatError: naming `location`, for a row that is not a mapping,
            a missing or non-string field (`answer` included: it is never
            converted), an empty `answer`, an unreadable level, or, without
            an `answer` field, a solution with no complete `\\boxed{}`.

    Example:

    >>> row = {"problem": "1+1?", "solution": "$\\\\boxed{2}$",
    ...        "level": "Level 1", "type": "Algebra"}
    >>> problem_from_row(row).answer
    '2'
    """
    if not isinstance(row, dict):
        raise DataFormatError(
            location,
            "Each record must be a JSON object with MATH fields.",
            excerpt(row),
        )
    problem = _text_field(row, ("problem",), location)
    solution = _text_field(row, ("solution",), location)
    subject = _text_field(row, ("subject", "type"), location)
    level = _level_field(row, location)
    if row.get("unique_id") is not None:
        unique_id = _text_field(row, ("unique_id",), location)
    unique_id = unique_id or location
    answer = _answer_field(row, unique_id, solution, location)
    return MathProblem(
        problem=problem,
        solution=solution,
        answer=answer,
        subject=subject,
        level=level,
        unique_id=unique_id,
    )


def load_math(path, split=None, strict=True, report=None):
    """Loads MATH problems from a directory tree or a JSONL file.

    Args:
        path: str or path. A `.jsonl` file; a MATH root holding `train/`
            and `test/`; or one split folder holding `<subject>/<n>.json`.
        split: `"train"`, `"test"` or `None`. Which split of a MATH root to
            read; `None` reads train then test. Ignored for a JSONL file or
            a split folder.
        strict: bool. `True` raises on the first bad record; `False` skips
            bad records, counts them in `report` and logs a warning.
            Defaults to `True`.
        report: `LoadReport` or `None`. Collects counts and skips.

    Returns:
        A list of `MathProblem`, in a fixed order (subject folder, then
        file number; or file order for JSONL).

    Raises:
        DataFormatError: for a bad record in strict mode, naming its file
            and line: malformed JSON or text that is not UTF-8, a missing
            or mistyped field, an empty or unreadable per-problem file, or
            a `unique_id` used before (lenient mode keeps the first). Also
            for a `path` that is neither layout, in both modes.
        ValueError: for a bad `split`.

    Example:

    >>> train = load_math("../shared/data/MATH", "train")  # doctest: +SKIP
    >>> len(train)  # doctest: +SKIP
    7500
    """
    path = pathlib.Path(path)
    report = LoadReport() if report is None else report
    if split is not None and split not in SPLITS:
        raise ValueError(
            f"`split` must be one of {SPLITS} or None. Received: {split!r}"
        )
    if path.is_file():
        files = [(path, None)]
    elif path.is_dir():
        files = _tree_files(path, split)
    else:
        raise DataFormatError(
            str(path),
            "`path` must be a MATH folder or a JSONL file that exists.",
            repr(str(path)),
        )
    problems, first_seen = [], {}
    for file, unique_id in files:
        for location, problem in _load_file(file, unique_id, strict, report):
            seen = first_seen.setdefault(problem.unique_id, location)
            if seen != location:
                # Samples, labels and the paper split are keyed by id.
                error = DataFormatError(
                    location,
                    f"The `unique_id` {problem.unique_id!r} was used "
                    f"before, at {seen}. Give each problem its own id.",
                    excerpt(problem.unique_id),
                )
                handle_error(error, strict, report)
                continue
            problems.append(problem)
    report.num_loaded += len(problems)
    log_skips(str(path), report)
    return problems


def _tree_files(root, split):
    if any((root / s).is_dir() for s in SPLITS):
        splits = SPLITS if split is None else (split,)
        dirs = [root / s for s in splits]
    else:
        dirs = [root]
    files = []
    for split_dir in dirs:
        if not split_dir.is_dir():
            raise ValueError(
                f"Split folder {str(split_dir)!r} does not exist. Pass the "
                f"MATH root holding {SPLITS}. Received: {str(root)!r}"
            )
        for subject in sorted(os.listdir(split_dir)):
            subject_dir = split_dir / subject
            if not subject_dir.is_dir():
                continue
            names = [n for n in os.listdir(subject_dir) if n.endswith(".json")]
            for name in sorted(names, key=_file_order):
                uid = f"{split_dir.name}/{subject}/{name}"
                files.append((subject_dir / name, uid))
    if not files:
        raise ValueError(
            "Found no `<subject>/<n>.json` files. Pass a MATH root or a "
            f"split folder. Received: {str(root)!r}"
        )
    return files


def _file_order(name):
    stem = name[: -len(".json")]
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _load_file(file, unique_id, strict, report):
    """`(location, MathProblem)` for each good record of one file."""
    problems = []
    if unique_id is not None:
        # One record per file; its id is the path under the MATH root.
        skipped = report.num_skipped
        records = list(iter_json_objects(file, strict, report))
        # A file whose only object was skipped as unreadable is counted
        # once, by the reader; an empty file is counted here.
        if len(records) != 1 and (records or report.num_skipped == skipped):
            handle_error(
                DataFormatError(
                    f"{file}:1",
                    "A per-problem MATH file must hold exactly one JSON "
                    "object.",
                    f"{len(records)} objects",
                ),
                strict,
                report,
            )
            return problems
    else:
        records = iter_json_objects(file, strict, report)
    for line, row in records:
        location = f"{file}:{line}"
        default_id = unique_id or f"{file.name}:{line}"
        try:
            problem = problem_from_row(row, default_id, location)
        except DataFormatError as e:
            handle_error(e, strict, report)
        else:
            problems.append((location, problem))
    return problems


def _level_field(row, location):
    """The row's `level` as an int, or a `DataFormatError`."""
    if "level" not in row:
        raise DataFormatError(
            location,
            "Missing field `level`. Add it to the record.",
            f"fields {sorted(row)}",
        )
    try:
        return parse_level(row["level"])
    except ValueError as e:
        raise DataFormatError(location, str(e)) from None


def _answer_field(row, unique_id, solution, location):
    """The gold answer: the row's `answer`, else a known one, else the box.

    Raises:
        DataFormatError: for a non-string or empty `answer`, or, without
            one, a solution with no complete `\\boxed{}`.
    """
    answer = row.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise DataFormatError(
            location,
            "Field `answer` must be a string (write a number as a JSON "
            'string, e.g. "5"), or be left out to read the `\\boxed{}` '
            "answer of the solution.",
            excerpt(answer),
        )
    if answer is not None and not answer.strip():
        raise DataFormatError(
            location,
            "Field `answer` is empty; no answer can equal it. Give the "
            "answer, or leave the field out to read the `\\boxed{}` answer "
            "of the solution.",
            excerpt(answer),
        )
    if answer is None:
        answer = KNOWN_ANSWERS.get(unique_id)
    if answer is None:
        answer = _boxed_answer(solution)
    if answer is None:
        raise DataFormatError(
            location,
            "The solution has no final `\\boxed{...}` answer (a gold answer "
            "is never guessed from its text). Add an `answer` field or box "
            "the answer in the solution.",
            excerpt(solution[-80:]),
        )
    return answer


def _text_field(row, names, location):
    for name in names:
        if name in row:
            value = row[name]
            if not isinstance(value, str):
                raise DataFormatError(
                    location,
                    f"Field `{name}` must be a string.",
                    excerpt(value),
                )
            return value
    raise DataFormatError(
        location,
        f"Missing field `{names[0]}`"
        + (f" (or `{names[1]}`)" if len(names) > 1 else "")
        + ". Add it to the record.",
        f"fields {sorted(row)}",
    )


def _boxed_answer(solution):
    """The solution's boxed answer, or None when it boxes nothing."""
    from keras_mathft.grading import extract_answer_record

    record = extract_answer_record(solution)
    # The other rules read a model's prose; a gold answer must be stated.
    return record.answer if record.rule == "boxed" else None
