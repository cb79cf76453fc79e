"""PRM800K label records (Lightman et al., 2023) and their solutions.

A label record holds a problem, its ground-truth answer and a list of
labelled steps. Each step offers one or more model completions, each rated
by a human (`1` good, `0` neutral, `-1` bad, `None` unrated), plus the one
that was `chosen_completion` (or a `human_completion` written instead).

- Phase 1: the solution is the chosen (or human) completion of each step.
- Phase 2: the solution is GPT-4's `pre_generated_steps`, with its
  `pre_generated_answer`.

Files are JSONL, or pretty-printed objects back to back (the upstream
example files); both are read.

The paper fine-tunes on correct PRM800K solutions (Liu et al., 2023,
section 2). `correct_solutions` keeps a solution when its final answer is
equivalent to the ground truth by `keras_mathft.grading`; whether the paper
also filtered on step ratings is unknown, so the ratings are kept on each
`PRM800KStep` for later use.
"""

import dataclasses
import pathlib

from keras_mathft.data.errors import DataFormatError
from keras_mathft.data.errors import LoadReport
from keras_mathft.data.errors import excerpt
from keras_mathft.data.errors import handle_error
from keras_mathft.data.errors import log_skips
from keras_mathft.data.json_records import iter_json_objects
from keras_mathft.data.records import MathProblem

# PRM800K steps end with "# Answer\n\n<answer>" on the last step.
ANSWER_MARKER = "# Answer"


@dataclasses.dataclass(frozen=True)
class PRM800KCompletion:
    """One candidate text for a step, with its human rating.

    Attributes:
        text: str.
        rating: int or `None`. 1 good, 0 neutral, -1 bad, `None` unrated.
        flagged: bool.
        source: str. `"model"` or `"human"`.
    """

    text: str
    rating: int | None = None
    flagged: bool = False
    source: str = "model"


@dataclasses.dataclass(frozen=True)
class PRM800KStep:
    """One labelled step.

    Attributes:
        completions: tuple of `PRM800KCompletion`. Candidates shown.
        chosen_completion: int or `None`. Index of the one continued from.
        human_completion: `PRM800KCompletion` or `None`. A human rewrite,
            used when no completion was chosen.
    """

    completions: tuple
    chosen_completion: int | None = None
    human_completion: PRM800KCompletion | None = None

    @property
    def chosen(self):
        """The completion the solution continued from, or `None`."""
        if self.chosen_completion is not None:
            return self.completions[self.chosen_completion]
        return self.human_completion

    @property
    def ratings(self):
        """Ratings of all completions shown, in order."""
        return tuple(c.rating for c in self.completions)


@dataclasses.dataclass(frozen=True)
class PRM800KRecord:
    """One PRM800K label record.

    Attributes:
        problem: str.
        ground_truth_answer: str.
        steps: tuple of `PRM800KStep`.
        finish_reason: str. `"solution"`, `"found_error"`, `"give_up"`,
            ...
        phase: int. 1, or 2 when GPT-4 `pre_generated_steps` are given.
        generation: int or `None`.
        ground_truth_solution: str or `None` (phase 2).
        pre_generated_steps: tuple of str or `None` (phase 2).
        pre_generated_answer: str or `None` (phase 2).
        is_quality_control_question: bool.
        is_initial_screening_question: bool.
        labeler: str.
        location: str. `"path:line"` of the record.
    """

    problem: str
    ground_truth_answer: str
    steps: tuple
    finish_reason: str
    phase: int = 1
    generation: int | None = None
    ground_truth_solution: str | None = None
    pre_generated_steps: tuple | None = None
    pre_generated_answer: str | None = None
    is_quality_control_question: bool = False
    is_initial_screening_question: bool = False
    labeler: str = ""
    location: str = ""

    def solution_steps(self):
        """The step texts of this record's solution.

        Phase 2: GPT-4's `pre_generated_steps`. Phase 1: the chosen (or
        human) completion of each step, up to the first step with neither.
        """
        if self.pre_generated_steps is not None:
            return list(self.pre_generated_steps)
        texts = []
        for step in self.steps:
            if step.chosen is None:
                break
            texts.append(step.chosen.text)
        return texts

    def step_ratings(self):
        """Ratings of the chosen completion of each labelled step.

        `None` where the step was a human rewrite or unrated; the list
        stops at the first step with no choice (e.g. where an error was
        found).
        """
        ratings = []
        for step in self.steps:
            if step.chosen is None:
                break
            ratings.append(step.chosen.rating)
        return ratings

    def final_answer(self):
        """The solution's answer (after `# Answer`), or `None`."""
        if self.pre_generated_answer is not None:
            return self.pre_generated_answer
        _, answer = split_answer(self.solution_steps())
        return answer

    def solution_text(self):
        """The solution as one text ending in `\\boxed{answer}`, or `None`.

        `None` when the solution has no final answer (unfinished).
        """
        return steps_to_solution(self.solution_steps(), self.final_answer())


def split_answer(steps):
    """Splits `"# Answer"` off the last step.

    Returns:
        `(body_steps, answer)`: the steps without the answer section, and
        the answer text (`None` when there is no `# Answer`).

    Example:

    >>> split_answer(["x = 2.", "So 2.\\n\\n# Answer\\n\\n2"])
    (['x = 2.', 'So 2.'], '2')
    """
    steps = list(steps)
    if not steps or ANSWER_MARKER not in steps[-1]:
        return steps, None
    body, _, answer = steps[-1].rpartition(ANSWER_MARKER)
    steps = steps[:-1] + ([body.strip()] if body.strip() else [])
    return steps, answer.strip() or None


def steps_to_solution(steps, answer=None):
    """Joins step texts into one solution ending in `\\boxed{answer}`.

    Steps are joined by newlines; the trailing `# Answer` section becomes
    `The answer is $\\boxed{answer}$.`, the form the generator learns.

    Args:
        steps: list of str. Step texts, the last possibly holding
            `# Answer\\n\\n<answer>`.
        answer: str or `None`. Overrides the answer in the steps.

    Returns:
        The solution text, or `None` when no answer is known.

    Example:

    >>> steps_to_solution(["Add: $1+1=2$.", "# Answer\\n\\n2"])
    'Add: $1+1=2$.\\nThe answer is $\\\\boxed{2}$.'
    """
    body, found = split_answer(steps)
    answer = found if answer is None else answer
    if answer is None:
        return None
    text = "\n".join(s.strip() for s in body if s.strip())
    boxed = f"The answer is $\\boxed{{{answer}}}$."
    return f"{text}\n{boxed}" if text else boxed


def load_prm800k(path, strict=True, report=None):
    """Loads PRM800K label records (phase 1 or 2).

    Args:
        path: str or path. A JSONL file, or a file of pretty-printed
            objects back to back.
        strict: bool. `True` raises on the first bad record; `False` skips
            it, counts it in `report` and logs a warning. Defaults to
            `True`.
        report: `LoadReport` or `None`.

    Returns:
        A list of `PRM800KRecord`.

    Raises:
        DataFormatError: in strict mode, naming file and line, for
            malformed JSON, text that is not UTF-8, or a missing or
            mistyped field (answers and other texts must be strings: they
            are never converted). In both modes for a `path` that is not a
            readable file.

    Example:

    >>> records = load_prm800k("phase2_train.jsonl")  # doctest: +SKIP
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataFormatError(
            str(path),
            "`path` must be a PRM800K label file that exists.",
            repr(str(path)),
        )
    report = LoadReport() if report is None else report
    records = []
    for line, row in iter_json_objects(path, strict, report):
        try:
            records.append(record_from_row(row, f"{path}:{line}"))
        except DataFormatError as e:
            handle_error(e, strict, report)
    report.num_loaded += len(records)
    log_skips(str(path), report)
    return records


def record_from_row(row, location="<row>"):
    """Parses one PRM800K label record from its JSON mapping.

    Raises:
        DataFormatError: naming `location`, for a missing or mistyped
            field.
    """
    row = _mapping(row, "record", location)
    question = _mapping(_get(row, "question", location), "question", location)
    label = _mapping(_get(row, "label", location), "label", location)
    raw_steps = _get(label, "steps", location, "label.")
    if not isinstance(raw_steps, list):
        raise DataFormatError(
            location, "`label.steps` must be a list.", excerpt(raw_steps)
        )
    steps = tuple(_step(s, i, location) for i, s in enumerate(raw_steps))
    pre_steps = question.get("pre_generated_steps")
    if pre_steps is not None:
        if not isinstance(pre_steps, list) or not all(
            isinstance(s, str) for s in pre_steps
        ):
            raise DataFormatError(
                location,
                "`question.pre_generated_steps` must be a list of strings.",
                excerpt(pre_steps),
            )
        pre_steps = tuple(pre_steps)
    answer = _get(question, "ground_truth_answer", location, "question.")
    return PRM800KRecord(
        problem=_string(
            _get(question, "problem", location, "question."),
            "question.problem",
            location,
        ),
        ground_truth_answer=_optional_string(
            answer, "question.ground_truth_answer", location, ""
        ),
        steps=steps,
        finish_reason=_optional_string(
            label.get("finish_reason"), "label.finish_reason", location, ""
        ),
        phase=2 if pre_steps is not None else 1,
        generation=row.get("generation"),
        ground_truth_solution=_optional_string(
            question.get("ground_truth_solution"),
            "question.ground_truth_solution",
            location,
        ),
        pre_generated_steps=pre_steps,
        pre_generated_answer=_optional_string(
            question.get("pre_generated_answer"),
            "question.pre_generated_answer",
            location,
        ),
        is_quality_control_question=bool(
            row.get("is_quality_control_question", False)
        ),
        is_initial_screening_question=bool(
            row.get("is_initial_screening_question", False)
        ),
        labeler=_optional_string(row.get("labeler"), "labeler", location, ""),
        location=location,
    )


def correct_solutions(records, problems=None, answers_equivalent=None):
    """Returns the records' correct solutions as `MathProblem`s.

    A record gives a solution when it has a final answer (phase 1 records
    that ended without one, e.g. `give_up`, give none) and that answer is
    equivalent to `ground_truth_answer`; a blank (or null) ground truth
    is no gold answer, so its record gives none. Repeated (problem,
    solution) pairs are kept once.

    Args:
        records: list of `PRM800KRecord`.
        problems: list of `MathProblem` or `None`. MATH problems matched by
            problem text, to fill `subject`, `level` and `unique_id`;
            unmatched solutions keep the record's location as id.
        answers_equivalent: callable or `None`. Answer equivalence;
            defaults to `keras_mathft.grading.answers_equivalent`.

    Returns:
        A list of `MathProblem` whose `solution` ends in `\\boxed{answer}`
        and whose `answer` is the ground truth.

    Example:

    >>> train = correct_solutions(load_prm800k(path))  # doctest: +SKIP
    """
    if answers_equivalent is None:
        from keras_mathft.grading import answers_equivalent
    by_text = {p.problem.strip(): p for p in problems or ()}
    out, seen = [], set()
    for record in records:
        answer = record.final_answer()
        if not record.ground_truth_answer.strip():
            continue  # `""` would equal a blank final answer
        if answer is None or not answers_equivalent(
            answer, record.ground_truth_answer
        ):
            continue
        solution = record.solution_text()
        key = (record.problem.strip(), solution)
        if key in seen:
            continue
        seen.add(key)
        match = by_text.get(record.problem.strip())
        out.append(
            MathProblem(
                problem=record.problem,
                solution=solution,
                answer=record.ground_truth_answer,
                subject=match.subject if match else "",
                level=match.level if match else 0,
                unique_id=match.unique_id if match else record.location,
            )
        )
    return out


def _step(raw, index, location):
    where = f"label.steps[{index}]"
    raw = _mapping(raw, where, location)
    completions = raw.get("completions") or []
    if not isinstance(completions, list):
        raise DataFormatError(
            location, f"`{where}.completions` must be a list.", excerpt(raw)
        )
    completions = tuple(
        _completion(c, f"{where}.completions[{i}]", location)
        for i, c in enumerate(completions)
    )
    chosen = raw.get("chosen_completion")
    if chosen is not None and (
        not isinstance(chosen, int) or not 0 <= chosen < len(completions)
    ):
        raise DataFormatError(
            location,
            f"`{where}.chosen_completion` must index `completions`.",
            excerpt(chosen),
        )
    human = raw.get("human_completion")
    if human is not None:
        human = _completion(human, f"{where}.human_completion", location)
    return PRM800KStep(completions, chosen, human)


def _completion(raw, where, location):
    raw = _mapping(raw, where, location)
    rating = raw.get("rating")
    if rating is not None and rating not in (-1, 0, 1):
        raise DataFormatError(
            location,
            f"`{where}.rating` must be -1, 0, 1 or null.",
            excerpt(rating),
        )
    return PRM800KCompletion(
        text=_string(_get(raw, "text", location, where + "."), where, location),
        rating=rating,
        flagged=bool(raw.get("flagged") or False),
        source=_optional_string(
            raw.get("source"), where + ".source", location, "model"
        ),
    )


def _get(mapping, key, location, prefix=""):
    if key not in mapping:
        raise DataFormatError(
            location,
            f"Missing field `{prefix}{key}`. Add it to the record.",
            f"fields {sorted(mapping)}",
        )
    return mapping[key]


def _mapping(value, what, location):
    if not isinstance(value, dict):
        raise DataFormatError(
            location, f"`{what}` must be a JSON object.", excerpt(value)
        )
    return value


def _string(value, what, location):
    if not isinstance(value, str):
        raise DataFormatError(
            location, f"`{what}` must be a string.", excerpt(value)
        )
    return value


def _optional_string(value, what, location, default=None):
    """`value` when a string, `default` when null; never a conversion."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise DataFormatError(
            location,
            f"`{what}` must be a string or null (write a number as a JSON "
            'string, e.g. "5").',
            excerpt(value),
        )
    return value
