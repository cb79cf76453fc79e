"""The record of one sampled solution, and how problems are identified."""

import dataclasses
import zlib


@dataclasses.dataclass(frozen=True)
class Sample:
    """One sampled solution to one problem.

    Args:
        problem_id: str. The problem's `unique_id` (or its position in the
            input list when the problem has none).
        sample_index: int. Which of the problem's N samples this is, from 0.
        text: str. The generated solution, without prompt and end token.
        answer: str or None. The final answer read by
            `keras_mathft.grading.extract_answer`, None when there is none.
        num_tokens: int. Generated tokens, the end token included.
        finished: bool. True when the sample ended with an end token, False
            when it was cut at `max_new_tokens`.
        score: float or None. The evaluator's score, once computed.

    Example:

    >>> s = Sample("a", 0, "so \\\\boxed{2}", "2", 5)
    >>> s.to_json()["answer"]
    '2'
    """

    problem_id: str
    sample_index: int
    text: str
    answer: str | None
    num_tokens: int
    finished: bool = True
    score: float | None = None

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data):
        return cls(**data)


def problem_text(problem):
    """The statement of a `MathProblem` (or of a plain string problem)."""
    return problem if isinstance(problem, str) else problem.problem


def problem_id(problem, index):
    """The problem's `unique_id`, or its position when it has none."""
    uid = "" if isinstance(problem, str) else problem.unique_id
    return uid or str(index)


def problem_key(problem):
    """A 32-bit key of the problem for its random streams.

    Taken from the id (or the text), never from the position, so the same
    problem draws the same samples in any batch, shard or process.
    """
    uid = "" if isinstance(problem, str) else problem.unique_id
    return zlib.crc32((uid or problem_text(problem)).encode("utf-8"))
