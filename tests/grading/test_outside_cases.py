"""Grading cases written outside this project (see `outside_cases.py`).

Every row is graded in both argument orders. Where our documented policy
differs from the source's label the row names the policy, and the test
expects the policy's verdict, so each row pins one decision.
"""

import pytest
from outside_cases import ALL
from outside_cases import POLICIES

from keras_mathft.grading import answers_equivalent

pytestmark = pytest.mark.backend_independent

ROWS = [
    pytest.param(*(row + (None,))[:4], id=f"{source}-{k}")
    for source, rows in ALL.items()
    for k, row in enumerate(rows)
]


@pytest.mark.parametrize("gold,prediction,source_says,policy", ROWS)
def test_outside_row(gold, prediction, source_says, policy):
    assert policy is None or policy in POLICIES
    expected = source_says if policy is None else not source_says
    assert answers_equivalent(gold, prediction, timeout=30) is expected
    assert answers_equivalent(prediction, gold, timeout=30) is expected


def test_most_outside_rows_agree_with_their_source():
    # Issue 14: 55% of such third-party rows agreed before, 85.8% after
    # it; the target is 90%, and every row we decide differently names
    # its documented policy.
    rows = [row for rows in ALL.values() for row in rows]
    agreed = sum(1 for row in rows if len(row) == 3)
    assert len(rows) >= 250
    assert agreed / len(rows) >= 0.90
