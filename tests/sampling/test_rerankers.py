"""Re-rankers on hand-built clusters with known answers."""

import numpy as np
import pytest

from keras_mathft.grading import AnswerCluster
from keras_mathft.sampling import RERANKERS
from keras_mathft.sampling import evaluator_score_fn
from keras_mathft.sampling import maj1
from keras_mathft.sampling import maj1_top_n
from keras_mathft.sampling import rr_all
from keras_mathft.sampling import rr_top_k
from keras_mathft.sampling import weighted_rr
from keras_mathft.sampling import weighted_rr_top_k

pytestmark = pytest.mark.backend_independent

# 8 solutions: "4" x3 (0, 3, 6), "5" x2 (1, 4), "6" x2 (2, 7), one None (5).
ANSWERS = ["4", "5", "6", "4", "5", None, "4", "6"]
CLUSTERS = [
    AnswerCluster("4", (0, 3, 6)),
    AnswerCluster("5", (1, 4)),
    AnswerCluster("6", (2, 7)),
]
SCORES = np.array([0.1, 0.9, 0.2, 0.1, 0.8, 0.95, 0.1, 0.3])


def test_maj1_picks_largest_cluster_without_evaluator():
    sel = maj1(ANSWERS, CLUSTERS)
    assert (sel.answer, sel.index, sel.evaluator_calls) == ("4", 0, 0)
    assert maj1([None, None], []).answer is None


def test_rr_all_scores_everything():
    sel = rr_all(ANSWERS, CLUSTERS, SCORES)
    # The None-answer solution has the best score: best-of-N takes it.
    assert (sel.answer, sel.index, sel.evaluator_calls) == (None, 5, 8)


def test_rr_top_k_scores_only_top_clusters():
    sel = rr_top_k(ANSWERS, CLUSTERS, SCORES, k=2)
    assert (sel.answer, sel.index, sel.evaluator_calls) == ("5", 1, 5)
    sel = rr_top_k(ANSWERS, CLUSTERS, SCORES, k=1)
    assert (sel.answer, sel.index, sel.evaluator_calls) == ("4", 0, 3)


def test_weighted_variants_sum_member_scores():
    # Sums: "4" 0.3, "5" 1.7, "6" 0.5.
    sel = weighted_rr(ANSWERS, CLUSTERS, SCORES)
    assert (sel.answer, sel.evaluator_calls) == ("5", 7)
    sel = weighted_rr_top_k(ANSWERS, CLUSTERS, SCORES, k=1)
    assert (sel.answer, sel.evaluator_calls) == ("4", 3)
    scores = np.array([0.5, 0.9, 0.9, 0.5, 0.9, 0.0, 0.8, 0.1])
    # "4" 1.8 vs "5" 1.8: the tie keeps the larger cluster.
    assert weighted_rr(ANSWERS, CLUSTERS, scores).answer == "4"


def test_maj1_top_n_votes_among_best_scored():
    # Top 3 by score: 5 (None), 1 ("5"), 4 ("5").
    sel = maj1_top_n(ANSWERS, CLUSTERS, SCORES, n=3)
    assert (sel.answer, sel.index, sel.evaluator_calls) == ("5", 1, 8)


def test_score_callable_is_called_only_on_needed_solutions():
    seen = []

    def score_fn(indices):
        seen.append(list(indices))
        return SCORES[indices]

    sel = rr_top_k(ANSWERS, CLUSTERS, score_fn, k=2)
    assert sel.answer == "5" and seen == [[0, 1, 3, 4, 6]]
    assert sel.evaluator_calls == 5


def test_ties_pick_the_smallest_index():
    scores = np.ones(8)
    assert rr_all(ANSWERS, CLUSTERS, scores).index == 0
    assert rr_top_k(ANSWERS, CLUSTERS[1:], scores).index == 1


def test_methods_needing_scores_raise_without_them():
    for name, fn in RERANKERS.items():
        if name == "maj1":
            continue
        with pytest.raises(ValueError, match="scores"):
            fn(ANSWERS, CLUSTERS, None)
    with pytest.raises(ValueError, match="one score per solution"):
        rr_all(ANSWERS, CLUSTERS, SCORES[:3])


def test_evaluator_score_fn_scores_only_requested_solutions():
    class Evaluator:
        calls = []

        def score_solutions(self, problems, solutions):
            self.calls.append(list(solutions))
            return np.asarray([float(len(s)) for s in solutions], "float32")

    texts = ["a", "bbbb", "cc", "a", "bbb", "", "a", "cc"]
    evaluator = Evaluator()
    fn = evaluator_score_fn(evaluator, "q", texts)
    sel = rr_top_k(ANSWERS, CLUSTERS, fn, k=2)
    assert evaluator.calls == [["a", "bbbb", "a", "bbb", "a"]]
    assert (sel.answer, sel.index, sel.evaluator_calls) == ("5", 1, 5)


def test_the_registry_is_what_evaluate_and_the_report_show():
    from keras_mathft.sampling import Reranker
    from keras_mathft.sampling import markdown_table
    from keras_mathft.sampling.metrics import evaluate

    class Problem:
        problem, answer, level, subject = "p", "4", 1, "s"

    class S:
        def __init__(self, answer):
            self.answer, self.score = answer, 0.5

    result = evaluate(
        [Problem()],
        [[S(a) for a in ANSWERS]],
        scores=[SCORES],
        top_k=2,
        n_values=(8,),
        equivalent=lambda a, b: a == b,
        cluster_fn=lambda answers: CLUSTERS,
    )
    assert list(result["overall"]["methods"]) == list(RERANKERS)
    table = markdown_table(result)
    for reranker in RERANKERS.values():
        assert isinstance(reranker, Reranker)
        assert f"| {reranker.display_name(2)} |" in table
    # Registry calls equal the functions' own, budget included.
    for name, fn, kwargs in [
        ("rr_top_k", rr_top_k, {"k": 2}),
        ("weighted_rr_top_k", weighted_rr_top_k, {"k": 2}),
        ("maj1_top_n", maj1_top_n, {"n": 3}),
    ]:
        got = RERANKERS[name](ANSWERS, CLUSTERS, SCORES, top_k=2, top_n=3)
        assert got == fn(ANSWERS, CLUSTERS, SCORES, **kwargs)
