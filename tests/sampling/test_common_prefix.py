"""A prompt prefix common to every problem, prefilled once per call."""

import json
import os
import pathlib
import subprocess
import sys
from unittest import mock

import keras
import pytest

from keras_mathft.data import PromptTemplate
from keras_mathft.sampling import SamplingConfig
from keras_mathft.sampling import SolutionSampler
from keras_mathft.sampling.common_prefix import shared_length

# Byte-level tokens (no " t" or " a" merge): the start token and 39 bytes.
PREFIX = "Problem set 7, work shown, boxed end.\n\n"
TEMPLATE = PromptTemplate(generation=PREFIX + "{problem}")
# 40 (the prompt equal to the prefix), 44, 58 and 54 tokens: buckets 48,
# 48, 64, 64. The split: the 39 common tokens the shortest prompt leaves
# before its last, rounded down to 32.
PROBLEMS = ["", "1+1?", "Find x if 2x+3=11.", "What is 12*12?"]
STOPS = tuple(range(60, 110))  # rows stop after 1 to 10 tokens


def test_shared_length():
    head = list(range(1, 50))
    assert shared_length([head + [7], head + [8, 9]]) == 48
    # A prompt equal to the common prefix keeps its last token.
    assert shared_length([head, head + [8]]) == 48
    assert shared_length([head[:48], head + [8]]) == 32
    # Under 32 tokens, one prompt or a first token apart: no split.
    assert shared_length([head[:32], head]) == 0
    assert shared_length([head]) == 0
    assert shared_length([[0] + head, head]) == 0


def sample(sampler, share, budget):
    config = sampler.config.replace(
        share_common_prefix=share,
        memory_budget_bytes=budget,
        num_samples=3,
        max_new_tokens=10,
        seed=4,
    )
    out, stats = sampler.sample(PROBLEMS, config, verbose=False)
    return [[(s.text, s.num_tokens) for s in g] for g in out], stats.as_dict()


@pytest.mark.parametrize("schedule", ["continuous", "static"])
def test_shared_prefix_gives_the_unshared_samples(gpt2_lm, schedule):
    config = SamplingConfig(
        schedule=schedule, stop_token_ids=STOPS, max_rows_per_chunk=4
    )
    sampler = SolutionSampler(gpt2_lm, config, prompt_template=TEMPLATE)
    lengths = [
        len(p) for p in sampler._tokenize([PREFIX + p for p in PROBLEMS])
    ]
    assert lengths == [40, 44, 58, 54]
    # The prefix's cache (32 positions) counts against the memory budget:
    # the continuous pool gets 3 rows of 64 + 12 positions, not 4.
    row = sampler.cache_bytes_per_row(sampler.sizing.total_length(64, 58, 10))
    budget = 4 * row + sampler.cache_bytes_per_row(32) - 1
    with mock.patch.object(
        sampler.programs,
        "prefill_prompt",
        wraps=sampler.programs.prefill_prompt,
    ) as one_stage:
        shared, stats = sample(sampler, True, budget)
        compiled = len(sampler.programs.functions)
        unshared_samples, unshared = sample(sampler, False, budget)
        assert unshared_samples == shared
    # Both settings ran the same compiled functions, all in two stages.
    assert len(sampler.programs.functions) == compiled
    assert one_stage.call_count == 0
    assert len({n for g in shared for _, n in g}) > 3  # rows end apart
    # Four prompt prefills; the prefix (32 tokens) once.
    assert stats["prefills"] == 4
    assert stats["prefix_length"] == 32
    assert stats["prefix_prefills"] == 1
    assert stats["prefix_tokens_prefilled"] == 32
    assert stats["prefix_tokens_saved"] == (4 - 1) * 32
    assert unshared["prefix_prefills"] == 4
    assert unshared["prefix_tokens_prefilled"] == 4 * 32
    assert unshared["prefix_tokens_saved"] == 0
    if schedule == "continuous":
        assert sampler.schedule_runner.pool_shape == (3, 64 + 12)


def test_without_a_common_prefix_nothing_changes(gpt2_lm):
    # The default template's prompts share a few tokens only.
    config = SamplingConfig(
        stop_token_ids=STOPS, num_samples=2, max_new_tokens=6
    )
    sampler = SolutionSampler(gpt2_lm, config)
    programs = sampler.programs
    with (
        mock.patch.object(
            programs, "prefix_fill", wraps=programs.prefix_fill
        ) as first_stage,
        mock.patch.object(
            programs, "prefill_prompt", wraps=programs.prefill_prompt
        ) as one_stage,
    ):
        stats = sampler.sample(PROBLEMS, verbose=0).stats.as_dict()
    assert first_stage.call_count == 0
    assert one_stage.call_count == len(PROBLEMS)
    assert stats["prefills"] == len(PROBLEMS)
    assert stats["prefix_length"] == 0
    assert stats["prefix_prefills"] == 0
    assert stats["prefix_tokens_saved"] == 0
    assert stats["prefix_tokens_prefilled"] == 0


def test_memory_budget_counts_the_prefix_caches(gpt2_lm):
    per_row = SolutionSampler(gpt2_lm).cache_bytes_per_row(64)
    config = SamplingConfig(memory_budget_bytes=per_row * 10)
    sampler = SolutionSampler(gpt2_lm, config)
    assert sampler.sizing.row_budget(64) == 10
    assert sampler.sizing.row_budget(64, held_bytes=per_row * 2) == 8
    assert sampler.sizing.chunk_shape(4, 64, held_bytes=per_row * 2) == (2, 4)


@pytest.mark.slow
@pytest.mark.skipif(
    keras.config.backend() != "jax",
    reason="model parallelism is JAX's (the child runs JAX on any backend)",
)
def test_shared_prefix_on_a_mesh_gives_the_samples_of_one_device():
    child = pathlib.Path(__file__).with_name("prefix_mesh_child.py")
    env = dict(os.environ, PYTHONPATH=str(child.parents[2]))
    proc = subprocess.run(
        [sys.executable, str(child)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["devices"] == 4
    single = result["single"]
    assert single["prefix_length"] >= 32 and single["prefix_prefills"] == 1
    for name in ("mesh_shared", "mesh_unshared"):
        run = result[name]
        assert run["texts"] == single["texts"], name
        assert run["data_parallel"] == 2
        assert run["prefix_length"] == single["prefix_length"]
        assert run["prefix_cache"] == [[None, None, None, "model"]]
    assert result["mesh_shared"]["prefix_prefills"] == 1
    assert result["mesh_unshared"]["prefix_prefills"] == 3
