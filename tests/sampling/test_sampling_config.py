"""`SamplingConfig`: checks, hashing, the draws a store records."""

import dataclasses
import json

import pytest

from keras_mathft.sampling import Sample
from keras_mathft.sampling import SamplerOutput
from keras_mathft.sampling import SampleStore
from keras_mathft.sampling import SamplingConfig
from keras_mathft.sampling import SamplingStats
from keras_mathft.sampling import sample_to_store
from keras_mathft.sampling.sampling_config import resolve_config

pytestmark = pytest.mark.backend_independent

# The settings `sample_to_store` wrote to `meta.json` before
# `SamplingConfig` (its keyword defaults), in that order.
OLD_META = dict(
    num_samples=64,
    temperature=0.9,
    top_p=0.95,
    top_k=None,
    max_new_tokens=256,
    seed=0,
)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_samples=0), "`num_samples` must be at least 1"),
        (dict(num_samples=2, temperature=0), "Greedy decoding"),
        (dict(temperature=-1), "`temperature` must be >= 0"),
        (dict(top_p=0), r"`top_p` must be in \(0, 1\]"),
        (dict(top_k=0), "`top_k` must be None or >= 1"),
        (dict(max_new_tokens=0), "`max_new_tokens` must be at least 1"),
        (dict(schedule="dynamic"), "`schedule` must be one of"),
        (dict(max_rows_per_chunk=0), "`max_rows_per_chunk` must be at"),
        (dict(block_steps=0), "`block_steps` must be at least 1"),
        (dict(top_p_prefilter=0), "`top_p_prefilter` must be at least 1"),
        (dict(stop_strings="\n"), "`stop_strings` must be a list"),
        (dict(stop_strings=[""]), "`stop_strings` must be a list"),
        (dict(stop_token_ids="none"), "`stop_token_ids` must be"),
    ],
)
def test_bad_settings_raise_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        SamplingConfig(**kwargs)
    assert "Received" in str(info.value)


def test_frozen_keyword_only_and_hashable():
    config = SamplingConfig(stop_strings=["a", "b"], stop_token_ids=[1, 2])
    assert config.stop_strings == ("a", "b")
    assert config.stop_token_ids == (1, 2)
    again = SamplingConfig(stop_strings=("a", "b"), stop_token_ids=(1, 2))
    assert config == again and hash(config) == hash(again)
    assert len({config, again, SamplingConfig()}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1
    with pytest.raises(TypeError):
        SamplingConfig(64)
    # `replace` checks the new values too.
    with pytest.raises(ValueError, match="num_samples"):
        config.replace(num_samples=0)


def test_draws_are_the_settings_a_store_recorded():
    assert SamplingConfig().draws() == OLD_META
    assert list(SamplingConfig().draws()) == list(OLD_META)
    config = SamplingConfig(num_samples=3, top_k=5, seed=7, block_steps=2)
    assert config.draws() == dict(OLD_META, num_samples=3, top_k=5, seed=7)


def test_program_key_holds_what_builds_a_sampler():
    config = SamplingConfig()
    sizes = config.replace(
        num_samples=2,
        temperature=0.5,
        top_p=0.9,
        top_k=3,
        max_new_tokens=9,
        seed=4,
        max_rows_per_chunk=3,
        memory_budget_bytes=10,
        block_steps=2,
        max_prompt_length=7,
        share_common_prefix=False,
    )
    assert sizes.program_key() == config.program_key()
    for change in (
        dict(stop_token_ids=None),
        dict(stop_strings=["x"]),
        dict(schedule="static"),
        dict(share_prefix=False),
        dict(top_p_prefilter=16),
        dict(jit_compile=False),
    ):
        assert config.replace(**change).program_key() != config.program_key()
    hash(config.program_key())


def test_greedy_and_resolve_config():
    config = SamplingConfig(num_samples=8, max_new_tokens=12, seed=3)
    greedy = config.greedy()
    assert (greedy.num_samples, greedy.temperature) == (1, 0.0)
    assert greedy.replace(num_samples=8, temperature=0.9) == config
    assert resolve_config(None) == SamplingConfig()
    assert resolve_config(config) is config
    with pytest.raises(ValueError, match="SamplingConfig"):
        resolve_config({"num_samples": 2})


def test_stats_and_output():
    stats = SamplingStats.of(
        "continuous", 1, 2.0, 30, 3, 40, 3, prefix_length=32, prefix_prefills=1
    )
    assert stats.slot_utilization == 0.75
    assert stats.prefix_tokens_prefilled == 32
    assert stats.prefix_tokens_saved == 2 * 32
    assert SamplingStats.of("static", 1, 0.0, 0, 0, 0, 0).as_dict() == dict(
        schedule="static",
        data_parallel=1,
        seconds=0.0,
        tokens=0,
        problems=0,
        slot_steps=0,
        slot_utilization=0.0,
        prefills=0,
        prefix_length=0,
        prefix_prefills=0,
        prefix_tokens_prefilled=0,
        prefix_tokens_saved=0,
    )
    samples, got = SamplerOutput([[]], stats)
    assert samples == [[]] and got is stats


def _fake(num_samples):
    def sample(problems):
        return [
            [Sample(p, j, p, None, 1) for j in range(num_samples)]
            for p in problems
        ]

    return sample


def test_a_store_with_the_old_settings_resumes(tmp_path):
    # A store as the code before `SamplingConfig` left it: its settings
    # written from the keyword arguments, one of two problems done.
    old = dict(OLD_META, num_samples=2, temperature=0.7, seed=5)
    with SampleStore(tmp_path) as store:
        store.check_meta(old)
        store.write_shard([Sample("0", j, "kept", None, 1) for j in range(2)])
    text = (tmp_path / "meta.json").read_text()
    assert text == json.dumps(old, indent=1)
    config = SamplingConfig(num_samples=2, temperature=0.7, seed=5)
    store = sample_to_store(
        None, ["a", "b"], tmp_path, config, sample_fn=_fake(2)
    )
    assert [s.text for s in store.by_problem()["0"]] == ["kept", "kept"]
    assert [s.text for s in store.by_problem()["1"]] == ["b", "b"]
    assert (tmp_path / "meta.json").read_text() == text
    store.close()
    # A new store records the same file for the same settings.
    sample_to_store(
        None, ["a"], tmp_path / "new", config, sample_fn=_fake(2)
    ).close()
    assert (tmp_path / "new" / "meta.json").read_text() == text
    with pytest.raises(ValueError, match="other settings"):
        sample_to_store(
            None, ["a"], tmp_path, config.replace(seed=6), sample_fn=_fake(2)
        )
