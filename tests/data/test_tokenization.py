import numpy as np
import pytest

from keras_mathft.data import tokenize_pairs
from keras_mathft.data import tokenize_prompts

pytestmark = pytest.mark.backend_independent


def test_mask_matches_hand_example(tokenizer):
    # a=1, b=2, c=3, d=4; start = end = pad = 0.
    out = tokenize_pairs(tokenizer, ["ab", "a"], ["cd", "b"], 7)
    # Row 0 packs [0, a, b, c, d, 0] (6 tokens) into 8 slots; x is the
    # first 7, y the last 7.
    np.testing.assert_array_equal(
        out.token_ids, [[0, 1, 2, 3, 4, 0, 0], [0, 1, 2, 0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(
        out.y, [[1, 2, 3, 4, 0, 0, 0], [1, 2, 0, 0, 0, 0, 0]]
    )
    # Row 0: y = a b | c d end pad pad -> weights on c, d and end.
    # Row 1: y = a | b end pad ... -> weights on b and end.
    np.testing.assert_array_equal(
        out.sample_weight,
        [[0, 0, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        out.padding_mask,
        [[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0]],
    )
    assert out.token_ids.dtype == np.int32 and out.y.dtype == np.int32
    assert out.sample_weight.dtype == np.float32
    assert out.padding_mask.dtype == bool
    np.testing.assert_array_equal(out.lengths, [6, 4])
    np.testing.assert_array_equal(out.y[:, :-1], out.token_ids[:, 1:])
    assert out.stats.num_truncated == 0 and out.stats.num_dropped == 0


def test_without_start_token(tokenizer):
    out = tokenize_pairs(tokenizer, ["ab"], ["c"], 4, add_start_token=False)
    np.testing.assert_array_equal(out.token_ids, [[1, 2, 3, 0]])
    np.testing.assert_array_equal(out.sample_weight, [[0, 1, 1, 0]])


def test_exact_fit_keeps_end_token_in_y(tokenizer):
    # [0, a, b, c, 0] is 5 tokens = sequence_length + 1: fits exactly.
    out = tokenize_pairs(tokenizer, ["ab"], ["c"], 4)
    np.testing.assert_array_equal(out.token_ids, [[0, 1, 2, 3]])
    np.testing.assert_array_equal(out.y, [[1, 2, 3, 0]])
    np.testing.assert_array_equal(out.sample_weight, [[0, 0, 1, 1]])
    assert out.stats.num_truncated == 0


def test_response_truncation_is_counted(tokenizer):
    # [0, a, b, c, d, e, 0] is 7 tokens; 5 fit, so the end token and "e"
    # are cut and the weights stop at the last kept response token.
    out = tokenize_pairs(tokenizer, ["ab", "a"], ["cde", "b"], 4)
    np.testing.assert_array_equal(out.token_ids[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(out.y[0], [1, 2, 3, 4])
    np.testing.assert_array_equal(out.sample_weight[0], [0, 0, 1, 1])
    assert out.stats.num_truncated == 1
    assert out.stats.num_tokens_cut == 2
    assert out.stats.num_dropped == 0
    assert out.stats.longest == 7


def test_prompt_that_leaves_no_room_is_dropped(tokenizer):
    out = tokenize_pairs(tokenizer, ["abcd", "a"], ["e", "b"], 4)
    assert out.stats.num_dropped == 1
    assert out.stats.dropped_indices == [0]
    np.testing.assert_array_equal(out.indices, [1])
    assert len(out) == 1


def test_drop_policy(tokenizer):
    out = tokenize_pairs(
        tokenizer, ["ab", "a"], ["cde", "b"], 4, truncation="drop"
    )
    assert out.stats.num_dropped == 1 and out.stats.num_truncated == 0
    np.testing.assert_array_equal(out.indices, [1])


def test_truncation_logs_a_warning(tokenizer):
    from absl import logging as absl_logging

    messages = []
    original = absl_logging.warning
    absl_logging.warning = lambda msg, *args: messages.append(msg % args)
    try:
        tokenize_pairs(tokenizer, ["ab"], ["cdefg"], 4)
    finally:
        absl_logging.warning = original
    assert len(messages) == 1 and "1 of 1 examples truncated" in messages[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"prompts": ["a"], "responses": []}, "same length"),
        ({"truncation": "left"}, "truncation"),
        ({"sequence_length": 1}, "sequence_length"),
        ({"responses": [3]}, "strings"),
    ],
)
def test_bad_arguments(tokenizer, kwargs, match):
    args = {
        "prompts": ["a"],
        "responses": ["b"],
        "sequence_length": 4,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        tokenize_pairs(tokenizer, **args)


def test_tokenize_prompts_left_and_right(tokenizer):
    x, stats = tokenize_prompts(tokenizer, ["abc", "a"])
    np.testing.assert_array_equal(x["token_ids"], [[0, 1, 2, 3], [0, 0, 0, 1]])
    np.testing.assert_array_equal(
        x["padding_mask"], [[1, 1, 1, 1], [0, 0, 1, 1]]
    )
    x, _ = tokenize_prompts(tokenizer, ["abc", "a"], padding_side="right")
    np.testing.assert_array_equal(x["token_ids"], [[0, 1, 2, 3], [0, 1, 0, 0]])
    np.testing.assert_array_equal(
        x["padding_mask"], [[1, 1, 1, 1], [1, 1, 0, 0]]
    )
    assert stats.num_truncated == 0


def test_tokenize_prompts_keeps_the_start_token_and_the_tail(tokenizer):
    # [start, a, b, c, d, e] in 3 slots: start, then the last two tokens.
    x, stats = tokenize_prompts(tokenizer, ["abcde"], sequence_length=3)
    np.testing.assert_array_equal(x["token_ids"], [[0, 4, 5]])
    assert stats.num_truncated == 1 and stats.num_tokens_cut == 3
    x, _ = tokenize_prompts(
        tokenizer, ["abcde"], 3, padding_side="right", truncation="keep_start"
    )
    np.testing.assert_array_equal(x["token_ids"], [[0, 1, 2]])
    x, _ = tokenize_prompts(tokenizer, ["abcde"], 3, add_start_token=False)
    np.testing.assert_array_equal(x["token_ids"], [[3, 4, 5]])
    with pytest.raises(ValueError, match="`truncation` must be one of"):
        tokenize_prompts(tokenizer, ["a"], truncation="middle")


class _CharTokenizer:
    """Any callable works: one id per character, no start or pad token."""

    start_token_id = None
    pad_token_id = None
    end_token_id = 99

    def __call__(self, texts):
        return [[ord(c) - 96 for c in text] for text in texts]


def test_mask_invariants_on_random_pairs():
    rng = np.random.default_rng(0)
    prompts = ["a" * n for n in rng.integers(1, 12, size=200)]
    responses = ["b" * n for n in rng.integers(1, 12, size=200)]
    out = tokenize_pairs(_CharTokenizer(), prompts, responses, 16)
    assert out.stats.num_kept + out.stats.num_dropped == 200
    np.testing.assert_array_equal(out.y[:, :-1], out.token_ids[:, 1:])
    for b, i in enumerate(out.indices):
        p, r = len(prompts[i]), len(responses[i])
        cut = max(0, p + r + 1 - 17)
        assert out.sample_weight[b].sum() == r + 1 - cut
        # Weighted targets are exactly the response ids (2) and the end id.
        targets = out.y[b][out.sample_weight[b] == 1]
        assert set(targets.tolist()) <= {2, 99}
        assert out.sample_weight[b, : p - 1].sum() == 0
    truncated = sum(
        len(prompts[i]) + len(responses[i]) + 1 > 17 for i in out.indices
    )
    assert out.stats.num_truncated == truncated
