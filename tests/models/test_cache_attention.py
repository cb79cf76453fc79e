"""The sampler's attention (`families.cache_attention`) against keras-hub's
own, through the model's cached call."""

import numpy as np
import pytest
from conftest import tiny_solver
from keras import ops

from keras_mathft.models import families
from keras_mathft.models.cache_layout import CacheLayout

# Grouped queries (2 per KV head), a sliding window shorter than the
# prompt, a logit soft cap.
SETTINGS = dict(
    num_heads=4,
    num_key_value_heads=2,
    head_dim=8,
    use_sliding_window_attention=True,
    sliding_window_size=3,
    attention_logit_soft_cap=5.0,
)


def cached_calls(lm, tokens):
    """Logits of a prefill of `tokens[:, :-2]`, then one step at a time."""
    tokens = tokens.astype("int32")
    cache = CacheLayout(lm).zeros(tokens.shape[0], tokens.shape[1])
    prefill = tokens.shape[1] - 2
    logits, _, cache = lm.call_with_cache(tokens[:, :prefill], cache, 0)
    out = [logits]
    for position in range(prefill, tokens.shape[1]):
        step = tokens[:, position : position + 1]
        logits, _, cache = lm.call_with_cache(step, cache, position)
        out.append(logits)
    return np.concatenate([ops.convert_to_numpy(x) for x in out], axis=1)


@pytest.mark.parametrize(
    "family", sorted(n for n, f in families.FAMILIES.items() if f.attention)
)
@pytest.mark.parametrize("head_dim_scale", [True, False])
def test_cache_attention_equals_keras_hubs(family, head_dim_scale):
    lm = tiny_solver(family, **SETTINGS).causal_lm
    for block in lm.backbone.transformer_layers:
        block.attention.query_head_dim_normalize = head_dim_scale
    # Larger weights: scores past the soft cap, peaked attention.
    for variable in lm.backbone.weights:
        variable.assign(variable * 4.0)
    vocabulary = lm.backbone.vocabulary_size
    tokens = np.random.default_rng(0).integers(3, vocabulary, (2, 9))
    expected = cached_calls(lm, tokens)
    with families.inference_attention(lm):
        got = cached_calls(lm, tokens)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    layer = lm.backbone.transformer_layers[0].attention
    assert "_compute_attention" not in vars(layer)


def test_the_attention_is_restored_when_tracing_fails():
    lm = tiny_solver("gemma3").causal_lm
    layer = lm.backbone.transformer_layers[0].attention
    with pytest.raises(KeyError):
        with families.inference_attention(lm):
            assert "_compute_attention" in vars(layer)
            raise KeyError("the traced function failed")
    assert "_compute_attention" not in vars(layer)
