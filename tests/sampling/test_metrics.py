"""pass@k against brute force; evaluate and the report on synthetic data."""

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_mathft.data.records import MathProblem
from keras_mathft.grading import AnswerCluster
from keras_mathft.sampling import RERANKERS
from keras_mathft.sampling import Sample
from keras_mathft.sampling import against_voting
from keras_mathft.sampling import evaluate
from keras_mathft.sampling import evaluator_auc
from keras_mathft.sampling import expected_calibration_error
from keras_mathft.sampling import markdown_table
from keras_mathft.sampling import pass_at_k
from keras_mathft.sampling import within_problem_auc
from keras_mathft.sampling import write_report

pytestmark = pytest.mark.backend_independent


def exact_clusters(answers):
    groups = {}
    for i, a in enumerate(answers):
        if a is not None:
            groups.setdefault(a, []).append(i)
    out = [AnswerCluster(a, tuple(m)) for a, m in groups.items()]
    return sorted(out, key=lambda c: (-len(c.members), c.members[0]))


def equal(a, b):
    return a == b


def brute_pass_at_k(n, c, k):
    correct = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(correct[i] for i in s) for s in subsets) / len(subsets)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 9).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))
    )
)
def test_pass_at_k_matches_brute_force(nck):
    n, c, k = nck
    assert math.isclose(pass_at_k(n, c, k), brute_pass_at_k(n, c, k))


def test_pass_at_k_rejects_bad_counts():
    with pytest.raises(ValueError, match="Received"):
        pass_at_k(4, 5, 1)


def make_data(num_problems=6, n=8, seed=0):
    rng = np.random.default_rng(seed)
    problems, samples = [], []
    for i in range(num_problems):
        problems.append(
            MathProblem(
                f"p{i}", "", "1", ["A", "B"][i % 2], 1 + i % 3, f"id{i}"
            )
        )
        answers = rng.choice(
            ["1", "2", "3", None], size=n, p=[0.4, 0.3, 0.2, 0.1]
        )
        samples.append(
            [
                Sample(
                    f"id{i}",
                    j,
                    "t",
                    a,
                    3,
                    score=float(a == "1") * 0.5 + 0.5 * rng.random(),
                )
                for j, a in enumerate(answers)
            ]
        )
    greedy = [
        Sample(f"id{i}", 0, "t", "1" if i % 2 else "2", 3)
        for i in range(num_problems)
    ]
    return problems, samples, greedy


def test_evaluate_matches_hand_computation():
    problems = [MathProblem("q", "", "4", "A", 1, "a")]
    answers = ["4", "5", "6", "4", "5", None, "4", "6"]
    scores = [0.1, 0.9, 0.2, 0.1, 0.8, 0.95, 0.1, 0.3]
    samples = [
        [
            Sample("a", j, "", a, 1, score=s)
            for j, (a, s) in enumerate(zip(answers, scores))
        ]
    ]
    out = evaluate(
        problems,
        samples,
        top_k=2,
        top_n=3,
        n_values=(1, 8),
        trials=4,
        equivalent=equal,
        cluster_fn=exact_clusters,
    )
    o = out["overall"]
    assert o["maj1@8"] == 1.0 and o["maj2@8"] == 1.0
    assert o["pass@k"]["1"] == pytest.approx(3 / 8)
    assert o["methods"]["rr_top_k"] == {"accuracy": 0.0, "evaluator_calls": 5.0}
    assert o["methods"]["rr_all"]["evaluator_calls"] == 8.0
    assert o["methods"]["maj1"]["accuracy"] == 1.0
    assert out["curves"]["maj1"]["n"] == [1, 8]
    assert out["curves"]["maj1"]["mean"][1] == 1.0


def test_curves_and_breakdowns_and_report(tmp_path):
    problems, samples, greedy = make_data()
    out = evaluate(
        problems,
        samples,
        greedy=greedy,
        n_values=(1, 2, 4, 8),
        trials=8,
        equivalent=equal,
        cluster_fn=exact_clusters,
    )
    assert out["overall"]["pass@1"] == pytest.approx(0.5)
    assert set(out["by_level"]) == {"1", "2", "3"}
    assert set(out["by_subject"]) == {"A", "B"}
    for name, curve in out["curves"].items():
        assert curve["n"] == [1, 2, 4, 8]
        assert all(0 <= m <= 1 for m in curve["mean"])
        assert curve["std"][-1] == 0.0  # n = N has one subset
    # Full-N point of a curve equals the overall figure.
    assert out["curves"]["rr_top_k"]["mean"][-1] == pytest.approx(
        out["overall"]["methods"]["rr_top_k"]["accuracy"]
    )
    # pass@n is non-decreasing in n.
    p = out["curves"]["pass@n"]["mean"]
    assert p == sorted(p)
    paths = write_report(out, tmp_path)
    assert json.loads(paths["json"].read_text()) == out
    md = paths["markdown"].read_text()
    assert "RR.Top-8" in md and "Pass@1 (greedy)" in md
    assert "Evaluator on the test samples" not in md
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    # A recipe's report adds the evaluator's quality; undefined is n/a.
    out["recipe"] = {
        "evaluator_auc": 0.75,
        "evaluator_within_problem_auc": 0.5,
        "evaluator_ece": None,
    }
    md = write_report(out, tmp_path)["markdown"].read_text()
    assert (
        "Evaluator on the test samples: AUC 0.750, within-problem AUC "
        "0.500, ECE n/a." in md
    )


def test_evaluate_without_scores_reports_majority_only():
    problems, samples, _ = make_data(num_problems=2)
    samples = [
        [Sample(s.problem_id, s.sample_index, s.text, s.answer, 1) for s in g]
        for g in samples
    ]
    out = evaluate(
        problems,
        samples,
        n_values=(8,),
        trials=1,
        equivalent=equal,
        cluster_fn=exact_clusters,
    )
    assert list(out["overall"]["methods"]) == ["maj1"]


def test_bootstrap_intervals_hold_the_mean_and_shrink_to_a_point():
    problems, samples, greedy = make_data(num_problems=6)
    kwargs = dict(
        greedy=greedy,
        n_values=(1, 8),
        trials=2,
        equivalent=equal,
        cluster_fn=exact_clusters,
    )
    out = evaluate(problems, samples, bootstrap=400, **kwargs)
    o = out["overall"]
    assert "intervals" not in evaluate(problems, samples, **kwargs)["overall"]
    for name, value in [
        ("pass@1", o["pass@1"]),
        ("maj1@8", o["maj1@8"]),
        ("pass@8", o["pass@k"]["8"]),
        ("rr_top_k", o["methods"]["rr_top_k"]["accuracy"]),
    ]:
        low, high = o["intervals"][name]
        assert 0.0 <= low <= value <= high <= 1.0, name
    # Greedy is right on half the problems: resampling 6 of them spreads.
    assert o["intervals"]["pass@1"][1] - o["intervals"]["pass@1"][0] > 0.2
    # Every problem the same: every resampling gives the same mean.
    same = evaluate(problems[:1] * 5, samples[:1] * 5, bootstrap=50, **kwargs)
    low, high = same["overall"]["intervals"]["maj1@8"]
    assert low == high == same["overall"]["maj1@8"]


def _voting_against_rr_all(kinds):
    """Problems whose answer is "2": kind "A" (2, 2, 3) has voting right
    and the top score on the wrong 3; kind "B" (3, 3, 2) the reverse."""
    answers = {"A": "223", "B": "332"}
    problems = [
        MathProblem(f"p{i}", "", "2", "A", 1, f"id{i}")
        for i in range(len(kinds))
    ]
    samples = [
        [Sample(f"id{i}", j, "", a, 1) for j, a in enumerate(answers[kind])]
        for i, kind in enumerate(kinds)
    ]
    return problems, samples, [[0.1, 0.1, 0.9]] * len(kinds)


def test_against_voting_is_a_paired_difference_with_its_verdict():
    kwargs = dict(
        n_values=(3,),
        trials=1,
        top_k=2,
        top_n=2,
        equivalent=equal,
        cluster_fn=exact_clusters,
        bootstrap=400,
    )
    problems, samples, scores = _voting_against_rr_all("AAAAAABBBB")
    o = evaluate(problems, samples, scores=scores, **kwargs)["overall"]
    # Re-rankers that read no score are not compared.
    assert set(o["against_voting"]) == {
        name for name in o["methods"] if RERANKERS[name].needs_scores
    }
    versus = o["against_voting"]["rr_all"]
    # RR.All is right on the 4 B problems, voting on the 6 A ones.
    assert versus["difference"] == pytest.approx(0.4 - 0.6)
    low, high = versus["interval"]
    assert -1.0 < low < -0.2 < high < 1.0 and low < 0 < high
    line = next(x for x in against_voting({"overall": o, **_sizes()}))
    assert line.startswith("RR.All - Maj1@3: -20.0 points")
    assert line.endswith(
        "their intervals overlap: this run cannot tell them apart."
    )

    # Voting right everywhere, RR.All nowhere: every resampling agrees.
    problems, samples, scores = _voting_against_rr_all("AAAAA")
    result = evaluate(problems, samples, scores=scores, **kwargs)
    versus = result["overall"]["against_voting"]["rr_all"]
    assert versus == {"difference": -1.0, "interval": [-1.0, -1.0]}
    assert against_voting(result)[0] == (
        "RR.All - Maj1@3: -100.0 points, paired 95% interval "
        "[-100.0, -100.0]; their intervals do not overlap: below voting "
        "in this run."
    )
    # The table shows every row's interval.
    table = markdown_table(result)
    assert "| 95% interval |" in table
    assert "| RR.All | 0.0 | [0.0, 0.0] |" in table
    # Without scores there is nothing to compare; without bootstrap, no
    # interval column.
    plain = evaluate(problems, samples, **kwargs)
    assert "against_voting" not in plain["overall"]
    assert against_voting(plain) == []
    kwargs["bootstrap"] = 0
    table = markdown_table(evaluate(problems, samples, **kwargs))
    assert "interval" not in table


def _sizes():
    return {"num_samples": 3, "top_k": 2}


def test_within_problem_auc_pools_pairs_of_the_same_problem():
    correct = [[True, False, False], [True, True], [False, True, False]]
    scores = [[0.9, 0.2, 0.9], [0.1, 0.2], [0.3, 0.1, 0.05]]
    # Problem 0: 0.9 beats 0.2, ties 0.9 -> 1.5 of 2 pairs; problem 1 has
    # no wrong sample; problem 2: 0.1 loses to 0.3, beats 0.05 -> 1 of 2.
    assert within_problem_auc(correct, scores) == pytest.approx(2.5 / 4)
    # Across problems (4 right x 4 wrong): 0.9 wins 3.5, 0.2 wins 1.5 and
    # each 0.1 beats only 0.05, so the global AUC differs.
    assert evaluator_auc(correct, scores) == pytest.approx(7 / 16)


def test_within_problem_auc_ignores_which_problems_are_easy():
    # An evaluator that scores problems, not solutions: above chance
    # globally (each right 0.9 wins 2.5 of 3 pairs, the right 0.1 wins 1),
    # chance within each problem.
    correct = [[True, True, False], [False, False, True]]
    scores = [[0.9, 0.9, 0.9], [0.1, 0.1, 0.1]]
    assert within_problem_auc(correct, scores) == 0.5
    assert evaluator_auc(correct, scores) == pytest.approx(6 / 9)


def test_aucs_are_none_without_both_kinds():
    assert within_problem_auc([], []) is None
    assert (
        within_problem_auc([[True, True], [False]], [[0.1, 0.2], [0.3]]) is None
    )
    assert evaluator_auc([[True, True]], [[0.1, 0.2]]) is None
    with pytest.raises(ValueError, match="one list per problem"):
        within_problem_auc([[True]], [[0.5], [0.5]])
    with pytest.raises(ValueError, match="one value per sample"):
        within_problem_auc([[True, False]], [[0.5]])


def test_expected_calibration_error_by_hand():
    correct = [[True, False], [True, True]]
    probabilities = [[0.9, 0.3], [0.65, 0.75]]
    # Bin [0, .5): {0.3 wrong}, gap 0.3; bin [.5, 1]: three right with mean
    # 0.7667, gap 0.2333; weighted (1 * 0.3 + 3 * 0.2333) / 4.
    assert expected_calibration_error(
        correct, probabilities, num_bins=2
    ) == pytest.approx(0.25)
    # One bin: |3/4 - mean probability 0.65|.
    assert expected_calibration_error(
        correct, probabilities, num_bins=1
    ) == pytest.approx(0.1)
    # Probability exactly 1 lands in the last bin; calibrated -> 0.
    assert expected_calibration_error([[True, False]], [[1.0, 0.0]]) == 0.0
    assert expected_calibration_error([], []) is None


def test_expected_calibration_error_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        expected_calibration_error([[True, False]], [[1.5, 0.2]])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        expected_calibration_error([[True]], [[float("nan")]])
    with pytest.raises(ValueError, match="at least 1"):
        expected_calibration_error([[True]], [[0.5]], num_bins=0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.booleans(), st.sampled_from([0.1, 0.5, 0.9])),
            max_size=5,
        ),
        max_size=4,
    )
)
def test_aucs_match_brute_force_over_pairs(groups):
    correct = [[c for c, _ in g] for g in groups]
    scores = [[s for _, s in g] for g in groups]

    def brute(pairs):
        if not pairs:
            return None
        return sum(1.0 if r > w else 0.5 if r == w else 0.0 for r, w in pairs)

    def pairs_of(items):
        right = [s for c, s in items if c]
        return [(r, w) for r in right for w in (s for c, s in items if not c)]

    flat = [x for g in groups for x in g]
    within = [p for g in groups for p in pairs_of(g)]
    expect = brute(pairs_of(flat))
    got = evaluator_auc(correct, scores)
    assert (got is None) == (expect is None)
    if got is not None:
        assert got == pytest.approx(expect / len(pairs_of(flat)))
    got = within_problem_auc(correct, scores)
    assert (got is None) == (not within)
    if got is not None:
        assert got == pytest.approx(brute(within) / len(within))
