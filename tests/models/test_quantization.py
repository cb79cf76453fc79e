"""The int8 output layer keeps the model's distribution; NLL is exact."""

import numpy as np
import pytest
from hf_models import deterministic_causal_lm
from keras import ops

from keras_mathft.models import compile_inference_function
from keras_mathft.models import mean_token_nll
from keras_mathft.models import quantize_output_layer


def _peaked_lm(family, scale=0.3):
    # Larger embeddings make the next-token distribution peaked, so the
    # NLL is well below log(vocabulary), like a trained model's (2 to 4
    # nats on these tiny models; 2.8 for Gemma 3 270M on MATH).
    lm = deterministic_causal_lm(family, seed=1)
    embedding = lm.backbone.token_embedding
    rng = np.random.default_rng(2)
    for variable in embedding.weights:
        value = rng.normal(0.0, scale, variable.shape)
        variable.assign(value.astype("float32"))
    return lm


def _forward(lm):
    """`(tokens, mask) -> float64 numpy logits`, compiled once."""
    forward = compile_inference_function(
        lm, lambda t, m: lm({"token_ids": t, "padding_mask": m})
    )
    return lambda t, m: ops.convert_to_numpy(forward(t, m)).astype("float64")


def _sampled_texts(lm, rows=4, length=24, seed=3):
    """Token rows drawn from `lm` itself at temperature 1."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((rows, length), "int32")
    tokens[:, 0] = rng.integers(4, 100, rows)
    ones = np.ones_like(tokens)
    forward = _forward(lm)
    for t in range(1, length):
        logits = forward(tokens, ones)[:, t - 1]
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        tokens[:, t] = [rng.choice(len(p), p=p) for p in probs]
    return tokens


def _numpy_nll(lm, tokens, mask):
    logits = _forward(lm)(tokens, mask)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    total, count = 0.0, 0
    for b in range(len(tokens)):
        for t in range(1, tokens.shape[1]):
            if mask[b, t] and mask[b, t - 1]:
                total -= log_probs[b, t - 1, tokens[b, t]]
                count += 1
    return total / count, count


def test_mean_token_nll_matches_numpy_and_skips_padding():
    lm = _peaked_lm("gemma3")
    tokens = _sampled_texts(lm)
    mask = np.ones_like(tokens)
    mask[1, 15:] = 0
    mask[3, 5:] = 0
    nll, count = mean_token_nll(lm, tokens, mask)
    expected, expected_count = _numpy_nll(lm, tokens, mask)
    assert count == expected_count == 23 + 14 + 23 + 4
    np.testing.assert_allclose(nll, expected, rtol=1e-5)


@pytest.mark.parametrize("family, scale", [("gemma3", 0.3), ("llama3", 0.5)])
def test_int8_output_layer_keeps_nll_within_one_percent(family, scale):
    lm = _peaked_lm(family, scale)
    tokens = _sampled_texts(lm)
    mask = np.ones_like(tokens)
    before, _ = mean_token_nll(lm, tokens, mask)
    vocabulary = lm.backbone.vocabulary_size
    assert before < 0.8 * np.log(vocabulary)  # peaked, not uniform
    quantize_output_layer(lm)
    after, _ = mean_token_nll(lm, tokens, mask)
    assert lm.backbone.token_embedding.quantization_mode == "int8"
    assert after != before  # the int8 layer is the one that ran
    assert abs(after - before) <= 0.01 * before


def test_quantize_output_layer_refuses_bad_requests():
    lm = deterministic_causal_lm("gemma3")
    with pytest.raises(ValueError, match="must be one of"):
        quantize_output_layer(lm, mode="int4")
    quantize_output_layer(lm)
    with pytest.raises(ValueError, match="already quantized"):
        quantize_output_layer(lm)
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        mean_token_nll(lm, np.ones((2, 3), "int32"), np.ones((2, 4)))
