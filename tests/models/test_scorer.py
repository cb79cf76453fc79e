"""Prefix-shared evaluator scoring, and compiled functions owned and dropped."""

from unittest import mock

import keras
import numpy as np
import pytest
from conftest import tiny_solver

from keras_mathft.data import PromptTemplate
from keras_mathft.models import MathSolver
from keras_mathft.sampling import SamplingConfig
from keras_mathft.sampling import SolutionSampler
from keras_mathft.sampling.sampler import get_sampler

# Flat lists in no particular order: three problems, candidates of varied
# length (one empty), one problem with a single candidate.
PROBLEMS = [
    "what is 1 + 1 ?",
    "2 + 3 ?",
    "what is 1 + 1 ?",
    "the sum of 3 and 4 ?",
    "2 + 3 ?",
    "what is 1 + 1 ?",
    "what is 1 + 1 ?",
]
SOLUTIONS = [
    "it is 2 .",
    "5",
    "3 . boxed answer",
    "it is 7 . the answer is 7 .",
    "",
    "2",
    "1 + 1 = 2 . the answer is 2 .",
]
MULTI_TOKEN = PromptTemplate(
    correct_label=" it is correct", incorrect_label=" incorrect"
)


def both_paths(solver, **kwargs):
    kwargs = dict(batch_size=4, sequence_length=96, **kwargs)
    full = solver.score_solutions(
        PROBLEMS, SOLUTIONS, share_prefix=False, **kwargs
    )
    shared = solver.score_solutions(PROBLEMS, SOLUTIONS, **kwargs)
    return full, shared


@pytest.mark.parametrize(
    "family, template",
    [
        ("gemma", None),
        ("gemma", MULTI_TOKEN),
        ("gemma3", None),
        ("gpt2", MULTI_TOKEN),
        ("qwen3", None),
    ],
)
def test_prefix_shared_scores_equal_full_prompt_scores(family, template):
    solver = tiny_solver(family, sequence_length=96)
    if template is not None:
        solver = MathSolver(solver.causal_lm, template)
        assert len(solver.label_token_ids[0]) > 1
    full, shared = both_paths(solver)
    assert shared.dtype == np.float32 and len(set(shared.tolist())) > 3
    np.testing.assert_allclose(shared, full, rtol=1e-5, atol=1e-7)


def test_truncated_prompts_and_batch_sizes_keep_the_scores():
    solver = tiny_solver("gemma", sequence_length=96)
    full, _ = both_paths(solver)
    for batch_size in (3,):
        got = solver.score_solutions(
            PROBLEMS, SOLUTIONS, batch_size=batch_size, sequence_length=96
        )
        np.testing.assert_allclose(got, full, rtol=1e-5, atol=1e-7)
    # Prompts longer than the sequence keep their start and their end.
    long = [p * 6 for p in PROBLEMS]
    kwargs = dict(batch_size=4, sequence_length=40)
    np.testing.assert_allclose(
        solver.score_solutions(long, SOLUTIONS, **kwargs),
        solver.score_solutions(long, SOLUTIONS, share_prefix=False, **kwargs),
        rtol=1e-5,
        atol=1e-7,
    )


def test_scorer_does_not_retrace_for_other_candidates():
    solver = tiny_solver("gemma", sequence_length=96)
    kwargs = dict(batch_size=4, sequence_length=96)
    solver.score_solutions(PROBLEMS, SOLUTIONS, **kwargs)
    lm = solver.causal_lm
    with mock.patch.object(
        lm, "call_with_cache", wraps=lm.call_with_cache
    ) as spy:
        # Same problems, other candidates, another order.
        solver.score_solutions(PROBLEMS[::-1], SOLUTIONS, **kwargs)
        solver.score_solutions(
            PROBLEMS, SOLUTIONS[3:] + SOLUTIONS[:3], **kwargs
        )
    assert spy.call_count == 0


def test_full_prompt_path_compiles_once_per_bucket():
    solver = tiny_solver("gemma")
    problems = ["1 + 1 ?"] * 5 + ["what is 1 + 1 ? " * 12] * 2
    solutions = ["2", "3", "4", "5", "6", "2", "3"]
    kwargs = dict(batch_size=2, sequence_length=128, share_prefix=False)
    with mock.patch.object(
        solver, "label_log_probs", wraps=solver.label_log_probs
    ) as spy:
        scores = solver.score_solutions(problems, solutions, **kwargs)
        # Two buckets (64 and 128), four batches in the first.
        assert spy.call_count == 2
        again = solver.score_solutions(
            problems[::-1], solutions[::-1], **kwargs
        )
        assert spy.call_count == 2
    assert scores.dtype == np.float32 and scores.shape == (7,)
    np.testing.assert_allclose(again[::-1], scores, rtol=1e-5)


def _randomize_lora(solver):
    rng = np.random.default_rng(0)
    for v in solver.trainable_variables:
        assert "lora" in v.path
        v.assign(rng.normal(0, 0.5, v.shape).astype(v.dtype))


@pytest.mark.slow
def test_functions_traced_before_enable_lora_never_run_after_it():
    # A function traced before enable_lora has the pre-LoRA graph: on
    # TensorFlow it keeps ignoring the adapters (the outputs below would
    # not change). Owners drop theirs when the variables change.
    solver = tiny_solver("gemma", sequence_length=96)
    # A sampler of the bare causal LM: nothing but the variables' change
    # tells it that LoRA was enabled.
    config = SamplingConfig(
        num_samples=1, temperature=0, max_new_tokens=8, stop_token_ids=None
    )
    sampler = SolutionSampler(solver.causal_lm, config)
    out = sampler.sample(PROBLEMS[:2], verbose=False).samples
    before = [g[0].text for g in out]
    scores = solver.score_solutions(PROBLEMS, SOLUTIONS, sequence_length=96)
    solver.enable_lora(2)
    _randomize_lora(solver)
    out = sampler.sample(PROBLEMS[:2], verbose=False).samples
    after = [g[0].text for g in out]
    assert after != before
    again = solver.score_solutions(PROBLEMS, SOLUTIONS, sequence_length=96)
    assert np.abs(again - scores).min() > 1e-4


def test_compile_and_enable_lora_drop_the_inference_helpers():
    solver = tiny_solver("gemma")
    scorer = solver.scorer
    config = SamplingConfig(stop_token_ids=None)
    sampler = get_sampler(solver, config)
    assert solver.scorer is scorer
    assert get_sampler(solver, config) is sampler
    solver.compile(keras.optimizers.Adam(1e-3))
    assert solver.scorer is not scorer
    assert get_sampler(solver, config) is not sampler
    scorer = solver.scorer
    solver.enable_lora(2)
    assert solver.scorer is not scorer
