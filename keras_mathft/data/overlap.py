"""Finding test problems that are also training problems (contamination).

Two problems are the same when their texts match after every whitespace
character is removed and case is folded (`str.casefold`): a copy with
re-wrapped lines, changed spacing (`x + 1` for `x+1`) or changed case is
still a copy, while any other edit (a changed number, a reworded
sentence) makes another problem. Removing whitespace rather than
collapsing it also catches spacing added or dropped inside math. The
paper's split (MATH train plus the 4,500 test problems outside MATH500,
against MATH500) shares no problem by this rule.
"""

import re

_WHITESPACE_RE = re.compile(r"\s+")


def _problem_key(text):
    """`text` without whitespace, case folded: what copies share."""
    return _WHITESPACE_RE.sub("", text).casefold()


def find_overlap(train, test):
    """Returns the test problems whose text is also a training problem's.

    Texts are compared with every whitespace character removed and case
    folded (see the module docstring), in one pass over each list.

    Args:
        train: iterable of `MathProblem`. The training problems.
        test: iterable of `MathProblem`. The evaluation problems.

    Returns:
        A list of `(test_id, train_id)` pairs of `unique_id`s, one per
        shared test problem, in test order; `train_id` is the first
        training problem with that text. Empty when the sets are apart.

    Example:

    >>> from keras_mathft.data import MathProblem
    >>> train = [MathProblem("What is 1+1?", "", "2", unique_id="train/1")]
    >>> test = [MathProblem("what is 1 + 1?", "", "2", unique_id="test/1"),
    ...         MathProblem("What is 1+2?", "", "3", unique_id="test/2")]
    >>> find_overlap(train, test)
    [('test/1', 'train/1')]
    """
    first_by_key = {}
    for problem in train:
        first_by_key.setdefault(
            _problem_key(problem.problem), problem.unique_id
        )
    overlap = []
    for problem in test:
        train_id = first_by_key.get(_problem_key(problem.problem))
        if train_id is not None:
            overlap.append((problem.unique_id, train_id))
    return overlap
