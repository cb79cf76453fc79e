"""Property tests of the N-sample decoder on a tiny GPT-2."""

from unittest import mock

import numpy as np
import pytest
from keras import ops

from keras_mathft.data import MathProblem
from keras_mathft.data import PromptTemplate
from keras_mathft.models import MathSolver
from keras_mathft.sampling import SampleStore
from keras_mathft.sampling import SamplingConfig
from keras_mathft.sampling import SolutionSampler
from keras_mathft.sampling import greedy_solutions
from keras_mathft.sampling import sample_solutions
from keras_mathft.sampling import sample_to_store
from keras_mathft.sampling.random_stream import row_keys
from keras_mathft.sampling.sampler import get_sampler

from .conftest import END

PROBLEMS = [
    MathProblem("What is 1+1?", "", "2", "Algebra", 1, "p0"),
    MathProblem("What is 2+3?", "", "5", "Algebra", 2, "p1"),
    MathProblem("Find x if x+1=3.", "", "2", "Algebra", 3, "p2"),
]
NEW = 6  # bucket 8: every call below shares one total length
# About a fifth of the byte vocabulary: rows stop after 1 to NEW tokens.
STOPS = tuple(range(60, 110))


def texts(results):
    return [[s.text for s in group] for group in results]


def tokens(results):
    return [[(s.text, s.num_tokens, s.finished) for s in g] for g in results]


@pytest.fixture(scope="module")
def solver(gpt2_lm):
    # Keeps one sampler per setting across the tests of this module, so
    # each compiles once.
    return MathSolver(gpt2_lm)


def draw(model, seed=0, n=4, new=NEW, **kwargs):
    kwargs.setdefault("stop_token_ids", None)
    config = SamplingConfig(
        num_samples=n, max_new_tokens=new, seed=seed, **kwargs
    )
    sampler = get_sampler(model, config)
    return sampler.sample(PROBLEMS, config, verbose=False).samples


def test_same_seed_reproduces_and_other_seed_differs(solver):
    a = draw(solver, seed=1)
    b = draw(solver, seed=1)
    c = draw(solver, seed=2)
    assert texts(a) == texts(b)
    assert texts(a) != texts(c)
    assert [s.sample_index for s in a[0]] == [0, 1, 2, 3]
    assert [s.problem_id for s in a[1]] == ["p1"] * 4


def test_samples_within_a_problem_are_independent(solver):
    out = draw(solver, seed=3, n=8)
    for group in texts(out):
        assert len(set(group)) == len(group)
    keys = row_keys(0, [7] * 64, np.arange(64))
    assert len(set(keys.tolist())) == 64


@pytest.mark.parametrize(
    "settings, others",
    [
        (
            dict(temperature=0.9, top_p=0.95),
            [
                dict(schedule="continuous"),
                dict(
                    schedule="continuous", max_rows_per_chunk=3, block_steps=2
                ),
                dict(schedule="continuous", share_prefix=False),
                dict(schedule="static", max_rows_per_chunk=2),
            ],
        ),
        (dict(temperature=0.7, top_p=1.0), [dict(schedule="continuous")]),
        (
            dict(temperature=1.0, top_k=5, top_p=0.9),
            [dict(schedule="continuous")],
        ),
    ],
)
def test_samples_do_not_depend_on_schedule_or_chunking(
    solver, settings, others
):
    # Stop tokens on: rows end at different steps, so the continuous
    # schedule refills slots mid-run while the static one idles them.
    kwargs = dict(seed=5, n=5, new=12, stop_token_ids=STOPS, **settings)
    reference = tokens(draw(solver, schedule="static", **kwargs))
    lengths = {s[1] for g in reference for s in g}
    assert len(lengths) > 3  # the rows really stop at varied lengths
    for other in others:
        assert tokens(draw(solver, **kwargs, **other)) == reference, other


@pytest.mark.parametrize("schedule", ["continuous", "static"])
def test_greedy_matches_keras_hub_generate(solver, gpt2_lm, schedule):
    template = PromptTemplate()
    ours = greedy_solutions(
        solver,
        PROBLEMS,
        SamplingConfig(
            max_new_tokens=NEW, stop_token_ids=None, schedule=schedule
        ),
        verbose=False,
    )
    gpt2_lm.compile(sampler="greedy")
    for problem, sample in zip(PROBLEMS, ours):
        prompt = template.generation_prompt(problem.problem)
        ids = gpt2_lm.preprocessor.generate_preprocess([prompt])
        length = int(
            np.asarray(ops.convert_to_numpy(ids["padding_mask"])).sum()
        )
        full = gpt2_lm.generate(
            [prompt], max_length=length + NEW, stop_token_ids=None
        )[0]
        assert full == prompt + sample.text


def test_top_k_one_is_greedy(solver):
    greedy = draw(solver, n=1, temperature=0)
    assert texts(draw(solver, n=1, top_k=1)) == texts(greedy)


def test_max_new_tokens_is_respected(solver):
    out = draw(solver, seed=0, n=2)
    for group in out:
        for s in group:
            assert s.num_tokens == NEW and not s.finished


@pytest.mark.parametrize("schedule", ["continuous", "static"])
def test_rows_stop_at_end_token(gpt2_lm, monkeypatch, schedule):
    original = gpt2_lm.call_with_cache
    vocab = gpt2_lm.backbone.vocabulary_size

    def forced(token_ids, cache, index):
        logits, hidden, cache = original(token_ids, cache, index)
        end = ops.one_hot(ops.full(ops.shape(logits)[:2], END), vocab)
        return end * 1e9, hidden, cache

    monkeypatch.setattr(gpt2_lm, "call_with_cache", forced)
    config = SamplingConfig(
        schedule=schedule, num_samples=2, max_new_tokens=NEW
    )
    out = SolutionSampler(gpt2_lm, config).sample(PROBLEMS, verbose=False)
    out = out.samples
    for group in out:
        for s in group:
            assert s.text == "" and s.num_tokens == 1 and s.finished


def test_stop_strings_cut_rows_the_same_on_every_schedule(solver):
    kwargs = dict(seed=4, n=4, new=12)
    free = draw(solver, **kwargs)
    # A character that some rows write after their first few tokens.
    stop = free[0][0].text[4]
    cut = {}
    for schedule, extra in (
        ("static", {}),
        ("continuous", dict(block_steps=2, max_rows_per_chunk=3)),
    ):
        cut[schedule] = draw(
            solver, schedule=schedule, stop_strings=[stop], **kwargs, **extra
        )
    assert tokens(cut["continuous"]) == tokens(cut["static"])
    stopped = 0
    for free_group, cut_group in zip(free, cut["static"]):
        for a, b in zip(free_group, cut_group):
            if stop in a.text:
                stopped += 1
                assert b.text == a.text[: a.text.index(stop)]
                assert b.finished and b.num_tokens < a.num_tokens
            else:
                assert (b.text, b.num_tokens) == (a.text, a.num_tokens)
    assert stopped >= 1


@pytest.mark.parametrize("bad", ["\n", [""], [3]])
def test_stop_strings_must_be_a_list_of_strings(gpt2_lm, bad):
    with pytest.raises(ValueError, match="stop_strings"):
        SamplingConfig(stop_strings=bad)


def test_continuous_keeps_slots_busy_and_prefills_each_prompt_once(solver):
    stats = {}
    for schedule in ("continuous", "static"):
        config = SamplingConfig(
            schedule=schedule,
            stop_token_ids=STOPS,
            max_rows_per_chunk=8,
            num_samples=8,
            max_new_tokens=12,
        )
        sampler = get_sampler(solver, config)
        out, stats[schedule] = sampler.sample(PROBLEMS, config, False)
        stats[schedule] = stats[schedule].as_dict()
        used = sum(s.num_tokens for g in out for s in g)
        assert stats[schedule]["tokens"] == used
        assert stats[schedule]["slot_utilization"] == pytest.approx(
            used / stats[schedule]["slot_steps"]
        )
    assert stats["continuous"]["prefills"] == len(PROBLEMS)
    assert stats["continuous"]["schedule"] == "continuous"
    assert (
        stats["continuous"]["slot_utilization"]
        > stats["static"]["slot_utilization"]
    )


def test_no_retrace_when_the_mix_of_rows_changes(gpt2_lm):
    config = SamplingConfig(
        stop_token_ids=STOPS, num_samples=4, max_new_tokens=NEW
    )
    sampler = SolutionSampler(gpt2_lm, config)
    sampler.sample(PROBLEMS * 2, verbose=False)
    # A trace runs the Python model call; a compiled call does not.
    with mock.patch.object(
        gpt2_lm, "call_with_cache", wraps=gpt2_lm.call_with_cache
    ) as spy:
        other = config.replace(seed=1, temperature=0.5, top_p=0.9)
        sampler.sample(PROBLEMS, other, verbose=False)
        sampler.sample(PROBLEMS[::-1] * 2, config.replace(seed=2), False)
        sampler.sample(PROBLEMS[1:], config.replace(seed=3), False)
    assert spy.call_count == 0
    # block, prefill, its write into a slot, copy and the gather of a
    # draining pool's rows
    assert len(sampler.programs.functions) == 5


def test_a_larger_pool_reuses_the_compiled_prefills(gpt2_lm):
    config = SamplingConfig(
        stop_token_ids=STOPS, num_samples=1, max_new_tokens=NEW
    )
    sampler = SolutionSampler(gpt2_lm, config)
    sampler.sample(PROBLEMS, verbose=False)
    rows = sampler.schedule_runner.pool_shape[0]
    with mock.patch.object(
        gpt2_lm, "call_with_cache", wraps=gpt2_lm.call_with_cache
    ) as spy:
        sampler.sample(PROBLEMS, config.replace(num_samples=8), False)
    assert sampler.schedule_runner.pool_shape[0] > rows
    # Only the decode block, one token per row, was traced again.
    traced = [c.args[0].shape[1] for c in spy.call_args_list]
    assert traced and set(traced) == {1}


def test_a_draining_pool_halves(solver):
    # 16 rows, nothing to refill: once 8 have stopped, the other 8 decode
    # in a pool of 8, so the slot-steps fall below 16 x the longest row.
    # (That the samples stay the same is the schedule test above: its
    # 15-row continuous calls halve too.)
    config = SamplingConfig(
        stop_token_ids=STOPS, num_samples=8, max_new_tokens=12, seed=2
    )
    sampler = get_sampler(solver, config)
    out, stats = sampler.sample(PROBLEMS[:2], config, verbose=False)
    lengths = [s.num_tokens for g in out for s in g]
    assert len(set(lengths)) > 3
    assert stats.slot_steps < 16 * max(lengths)
    assert stats.slot_utilization == pytest.approx(
        sum(lengths) / stats.slot_steps
    )


def test_store_resume_gives_the_same_store_across_schedules(tmp_path, solver):
    problems = [
        MathProblem(f"What is {i}+{i}?", "", str(2 * i), unique_id=f"q{i}")
        for i in range(3)
    ]
    config = SamplingConfig(
        num_samples=3, max_new_tokens=8, stop_token_ids=STOPS
    )
    kwargs = dict(problems_per_shard=1, verbose=False)
    static = config.replace(schedule="static")
    full = sample_to_store(
        solver, problems, tmp_path / "full", static, **kwargs
    )
    cut = SampleStore(tmp_path / "cut")
    sample_to_store(solver, problems[:2], cut, config, **kwargs)
    sample_to_store(solver, problems, cut, config, **kwargs)
    assert cut.by_problem() == full.by_problem()


def test_math_solver_like_wrapper_uses_its_template(gpt2_lm):
    template = PromptTemplate(generation="Q: {problem}\nA:")

    class Solver:
        causal_lm = gpt2_lm
        prompt_template = template

    config = SamplingConfig(
        num_samples=1, temperature=0, max_new_tokens=NEW, stop_token_ids=None
    )
    a = sample_solutions(Solver(), PROBLEMS[:1], config, verbose=False)
    b = SolutionSampler(gpt2_lm, config, prompt_template=template).sample(
        PROBLEMS[:1], verbose=False
    )
    b = b.samples
    assert texts(a) == texts(b)


def test_memory_budget_limits_rows(gpt2_lm):
    sampler = SolutionSampler(gpt2_lm, SamplingConfig(memory_budget_bytes=1))
    assert sampler.sizing.chunk_shape(64, 32) == (1, 1)
    per_row = sampler.cache_bytes_per_row(32)
    # 2 layers, k and v, 32 positions, 16 features, float32.
    assert per_row == 2 * 2 * 32 * 16 * 4
    config = SamplingConfig(memory_budget_bytes=per_row * 20)
    sampler = SolutionSampler(gpt2_lm, config)
    assert sampler.sizing.chunk_shape(8, 32) == (2, 8)
    assert sampler.sizing.row_budget(32) == 20
    # The limits of a call's config apply to that call.
    config = config.replace(memory_budget_bytes=per_row * 10)
    sampler.sample([], config.replace(max_rows_per_chunk=4), verbose=False)
    assert sampler.sizing.row_budget(32) == 4
    sampler.sample([], config, verbose=False)
    assert sampler.sizing.row_budget(32) == 10
    assert sampler.config.memory_budget_bytes == per_row * 20


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_samples=0),
        dict(num_samples=2, temperature=0),
        dict(top_p=0),
        dict(top_k=0),
        dict(max_new_tokens=0),
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match="Received"):
        SamplingConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [dict(schedule="dynamic"), dict(block_steps=0)]
)
def test_bad_sampler_settings_raise(kwargs):
    with pytest.raises(ValueError, match="Received"):
        SamplingConfig(**kwargs)


def test_too_long_prompt_raises(gpt2_lm):
    config = SamplingConfig(num_samples=1, max_prompt_length=8)
    with pytest.raises(ValueError, match="max_prompt_length"):
        SolutionSampler(gpt2_lm, config).sample(PROBLEMS, verbose=False)


def test_prompts_may_exceed_the_preprocessor_length_not_the_model(gpt2_lm):
    # The preprocessor holds 48 tokens and the model 96; this prompt has
    # about 70.
    problem = "What is " + "1+" * 27 + "1?"
    config = SamplingConfig(
        num_samples=1, temperature=0.0, max_new_tokens=4, stop_token_ids=None
    )
    sampler = SolutionSampler(gpt2_lm, config)
    [[sample]] = sampler.sample([problem], verbose=False).samples
    assert sample.num_tokens == 4
    with pytest.raises(ValueError, match="max_prompt_length=60"):
        # The prompt limit is a size of the call.
        limited = config.replace(max_prompt_length=60)
        list(sampler.iter_problems([problem], limited, verbose=False))
    with pytest.raises(ValueError, match="max_prompt_length"):
        sampler.sample([problem * 3], verbose=False)


def test_a_call_with_other_sizes_reuses_the_compiled_programs(gpt2_lm):
    config = SamplingConfig(
        num_samples=4, max_new_tokens=NEW, stop_token_ids=STOPS, seed=2
    )
    sampler = SolutionSampler(gpt2_lm, config)
    first = sampler.sample(PROBLEMS, verbose=False)
    rows, total = sampler.schedule_runner.pool_shape
    assert rows == 16  # 12 rows, rounded up to a power of two
    compiled = len(sampler.programs.functions)
    # A lower memory budget (and other block steps) on the same sampler:
    # fewer slots, the same compiled functions and samples.
    budget = sampler.cache_bytes_per_row(total) * 5
    smaller = config.replace(memory_budget_bytes=budget, block_steps=2)
    second = sampler.sample(PROBLEMS, smaller, verbose=False)
    assert sampler.schedule_runner.pool_shape == (5, total)
    assert len(sampler.programs.functions) == compiled
    assert tokens(second.samples) == tokens(first.samples)
    assert second.stats.slot_steps != first.stats.slot_steps
    assert sampler.config is config


def test_a_call_with_another_program_key_is_refused(gpt2_lm):
    config = SamplingConfig(stop_token_ids=STOPS)
    sampler = SolutionSampler(gpt2_lm, config)
    for other in (
        config.replace(schedule="static"),
        config.replace(stop_strings=["\n"]),
        config.replace(stop_token_ids=None),
        config.replace(share_prefix=False),
    ):
        with pytest.raises(ValueError, match="get_sampler"):
            sampler.iter_problems(PROBLEMS, other)
    with pytest.raises(ValueError, match="SamplingConfig"):
        SolutionSampler(gpt2_lm, PromptTemplate())


def test_stats_come_with_the_samples_and_on_the_stream(solver):
    config = SamplingConfig(
        num_samples=2, max_new_tokens=NEW, stop_token_ids=None
    )
    sampler = get_sampler(solver, config)
    samples, stats = sampler.sample(PROBLEMS, config, verbose=False)
    assert stats.problems == len(PROBLEMS)
    assert stats.tokens == sum(s.num_tokens for g in samples for s in g)
    assert stats.schedule == "continuous" and stats.data_parallel == 1
    stream = sampler.iter_problems(PROBLEMS[:2], config, verbose=False)
    assert stream.stats is None
    done = dict(stream)
    assert sorted(done) == [0, 1] and done[1] == samples[1]
    assert stream.stats.problems == 2
    assert stream.stats.tokens == sum(s.num_tokens for s in done[0] + done[1])
    assert list(stream) == [] and stream.stats.problems == 2
    empty = sampler.sample([], config, verbose=False)
    assert empty.samples == [] and empty.stats.problems == 0


def test_get_sampler_is_keyed_by_the_program_key(solver):
    config = SamplingConfig(stop_token_ids=None)
    sampler = get_sampler(solver, config)
    # Other draws and sizes: the same sampler.
    same = config.replace(num_samples=3, seed=9, max_rows_per_chunk=2)
    assert get_sampler(solver, same) is sampler
    assert get_sampler(solver, SamplingConfig(stop_token_ids=None)) is sampler
    other = get_sampler(solver, config.replace(schedule="static"))
    assert other is not sampler and other.config.schedule == "static"
    template = PromptTemplate(generation="Q: {problem}\nA:")
    templated = get_sampler(solver, config, template)
    assert templated is not sampler and templated.prompt_template == template
