"""Monte-Carlo step labels against a brute-force rollout count."""

import keras
import pytest

from keras_mathft import data
from keras_mathft import models
from keras_mathft import sampling
from keras_mathft.data import MathProblem
from keras_mathft.sampling.rollouts import RAW_TEMPLATE
from keras_mathft.sampling.rollouts import rollout_id
from keras_mathft.sampling.rollouts import step_label_agreement

K = 3
TOKENS = 6


@pytest.fixture(scope="module")
def solver():
    keras.utils.set_random_seed(0)
    lm = models.build_causal_lm(
        "gemma",
        data.embedded_tokenizer_proto(),
        num_layers=1,
        hidden_dim=16,
        sequence_length=128,
    )
    return models.MathSolver(lm)


def _parity(problem, text):
    """A predicate on the rollout text that a random model meets about
    half the time, so the counts are not all 0 or all k."""
    return sum(map(ord, text)) % 2 == 0


@pytest.fixture(scope="module")
def labelled(solver):
    problems = data.make_synthetic_problems(2, seed=3, levels=[2])
    solutions = [problems[0].solution, problems[1].solution, "1 = 1\n2 = 2"]
    owners = [problems[0], problems[1], problems[0]]
    labels, cost = sampling.monte_carlo_step_labels(
        solver,
        owners,
        solutions,
        num_rollouts=K,
        max_new_tokens=TOKENS,
        seed=5,
        is_right=_parity,
    )
    return owners, solutions, labels, cost


def _brute_force(solver, problem, index, solution):
    """Each prefix's rollouts drawn alone, one sample at a time."""
    lines = solution.split("\n")
    prompt = solver.prompt_template.generation_prompt(problem.problem)
    counts, tokens = [], 0
    for s in range(len(lines) - 1):
        prefix = "\n".join(lines[: s + 1]) + "\n"
        alone = MathProblem(
            prompt + prefix,
            "",
            problem.answer,
            unique_id=rollout_id(problem.unique_id, index, s),
        )
        config = sampling.SamplingConfig(
            num_samples=K,
            max_new_tokens=TOKENS,
            seed=5,
            schedule="static",
            share_prefix=False,
        )
        (group,) = sampling.sample_solutions(
            solver, [alone], config, False, prompt_template=RAW_TEMPLATE
        )
        counts.append(sum(_parity(problem, prefix + x.text) for x in group))
        tokens += sum(x.num_tokens for x in group)
    counts.append(K if _parity(problem, solution) else 0)
    return counts, tokens


def test_counts_equal_a_brute_force_rollout_count(solver, labelled):
    owners, solutions, labels, cost = labelled
    total_tokens, seen = 0, set()
    for i, (problem, solution, result) in enumerate(
        zip(owners, solutions, labels)
    ):
        counts, tokens = _brute_force(solver, problem, i, solution)
        assert list(result.right) == counts
        total_tokens += tokens
        seen.update(counts[:-1])
    assert cost.tokens == total_tokens
    # The predicate splits the rollouts: the counts are not all alike.
    assert len(seen) > 1


def test_labels_and_cost_follow_the_counts(labelled):
    _, solutions, labels, cost = labelled
    steps = [len(s.split("\n")) for s in solutions]
    assert cost.solutions == 3 and cost.steps == sum(steps)
    assert cost.rollouts == K * sum(n - 1 for n in steps)
    assert cost.seconds > 0
    for result in labels:
        assert result.num_rollouts == K
        assert result.labels == data.label_steps([r >= 1 for r in result.right])
        assert result.values == tuple(r / K for r in result.right)


def test_min_right_raises_the_bar(solver, labelled):
    owners, solutions, loose, _ = labelled
    strict, _ = sampling.monte_carlo_step_labels(
        solver,
        owners,
        solutions,
        num_rollouts=K,
        min_right=K,
        max_new_tokens=TOKENS,
        seed=5,
        is_right=_parity,
    )
    for a, b in zip(loose, strict):
        assert a.right == b.right
        assert b.labels == data.label_steps([r >= K for r in b.right])


def test_default_grading_reads_the_gold_answer(solver):
    # The last step is the solution's own outcome, with no rollout; a
    # one-step solution costs nothing.
    problem = data.make_synthetic_problems(1, seed=0)[0]
    wrong = "\\boxed{5}"
    labels, cost = sampling.monte_carlo_step_labels(
        solver,
        [problem, problem, problem],
        ["\\boxed{" + problem.answer + "}", wrong, ""],
        num_rollouts=4,
    )
    assert [x.right for x in labels] == [(4,), (0,), ()]
    assert [x.labels for x in labels] == [(1,), (0,), ()]
    assert cost.rollouts == 0 and cost.tokens == 0


def test_bad_arguments_raise(solver):
    problem = data.make_synthetic_problems(1, seed=0)[0]
    with pytest.raises(ValueError, match="min_right"):
        sampling.monte_carlo_step_labels(
            solver, [problem], ["a\nb"], num_rollouts=2, min_right=3
        )
    with pytest.raises(ValueError, match="same length"):
        sampling.monte_carlo_step_labels(solver, [problem], [])


@pytest.mark.backend_independent
def test_step_label_agreement():
    exact = [(1, 1, 0), (1, 0, None), (0, None)]
    rolled = [(1, 0, None), (1, 1, 0), (1, 1)]
    out = step_label_agreement(exact, rolled)
    assert out["steps"] == 5
    assert out["agreement"] == pytest.approx(2 / 5)
    assert out["right_as_wrong"] == pytest.approx(1 / 3)
    assert out["wrong_as_right"] == pytest.approx(1.0)
    assert step_label_agreement([()], [()])["agreement"] is None
