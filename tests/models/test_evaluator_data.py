import itertools

import pytest

from keras_mathft.data import MathProblem
from keras_mathft.models import build_evaluator_examples

pytestmark = pytest.mark.backend_independent


def test_counts_skips_and_pairs():
    problems = ["p0", "p1", "p2", MathProblem("p3", "s", "1")]
    samples = [
        ["a", "b", "c"],
        ["d", "e"],
        ["f", "g"],
        [str(i) for i in range(12)],
    ]
    labels = [[1, 0, 1], [1, 1], [0, 0], [i % 3 == 0 for i in range(12)]]
    data = build_evaluator_examples(problems, samples, labels, seed=1)
    s = data.stats
    assert (s.problems, s.problems_with_pairs) == (4, 2)
    assert (s.skipped_no_right, s.skipped_no_wrong) == (1, 1)
    assert s.examples == 19 and s.right_examples == 8
    # p0: 2 right x 1 wrong = 2 pairs; p3: 4 x 8 = 32, capped at 10.
    assert s.pairs == len(data.pairs) == 12
    assert "2 with pairs" in s.summary()
    p3 = [p for p in data.pairs if p.problem == "p3"]
    assert len(set((p.right, p.wrong) for p in p3)) == 10
    for p in p3:
        assert int(p.right) % 3 == 0 and int(p.wrong) % 3 != 0
    # Balanced: every right sample is used 2 or 3 times.
    counts = [sum(p.right == r for p in p3) for r in ("0", "3", "6", "9")]
    assert sorted(counts) == [2, 2, 3, 3]


def test_deterministic_per_seed_and_cap():
    samples = [[str(i) for i in range(8)]]
    labels = [[i < 4 for i in range(8)]]
    a = build_evaluator_examples(["p"], samples, labels, seed=3)
    b = build_evaluator_examples(["p"], samples, labels, seed=3)
    assert a.pairs == b.pairs
    c = build_evaluator_examples(
        ["p"], samples, labels, max_pairs_per_problem=100
    )
    all_pairs = set(itertools.product("0123", "4567"))
    assert set((p.right, p.wrong) for p in c.pairs) == all_pairs


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        build_evaluator_examples(["p"], [], [])
    with pytest.raises(ValueError, match="one label per sample"):
        build_evaluator_examples(["p"], [["a"]], [[1, 0]])
