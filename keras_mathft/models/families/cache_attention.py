"""Grouped-query attention whose products read the KV cache as it lies.

keras-hub's Gemma and Gemma 3 attention layers compute the query-key
product as `einsum("btkgh,bskh->bkgts", q, k)`. For that product XLA's CPU
compiler wants the key cache head-dimension-major, so at every decode step
it transposes every layer's whole key cache: a quarter of Gemma 3 270M's
64-row step (`benchmarks/README.md`). Written as two matmuls with the
cache as the operand whose rows are positions (`keys @ queries`, then
`probabilities @ values`), both products read the cache in place and only
the small query and score tensors are transposed.

The math is the layer's own: the same scale, sliding window, soft cap and
masked softmax; only the order of the sums inside each dot product may
differ, so scores agree to float rounding.

`compute_attention` replaces the layer's `_compute_attention` (the method
keras-hub's Gemma layers call with the projected `q`, `k`, `v`) while the
sampler traces its programs (`models.families.inference_attention`).
"""

import numpy as np
from keras import ops


def compute_attention(
    layer,
    q,
    k,
    v,
    attention_mask,
    training=False,
    cache_update_index=0,
):
    """One keras-hub Gemma attention layer's attention, cache in place.

    Args:
        layer: a keras-hub `CachedGemmaAttention` or
            `CachedGemma3Attention`.
        q: `[batch, queries, heads, head_dim]`, projected and rotated.
        k, v: `[batch, positions, kv_heads, head_dim]` (the cache).
        attention_mask: `[batch, queries, positions]` or None.
        training: bool. Only inference is supported (no dropout).
        cache_update_index: the first query's position (sliding window).

    Returns:
        `[batch, queries, heads, head_dim]`.
    """
    # keras-hub's fused kernel (GPU, TPU) and dropout stay keras-hub's.
    if training or layer._use_fused_attention_op():
        return type(layer)._compute_attention(
            layer, q, k, v, attention_mask, training, cache_update_index
        )
    if layer.use_sliding_window_attention and attention_mask is not None:
        attention_mask = layer._mask_sliding_window(
            attention_mask, cache_update_index=cache_update_index
        )
    batch, queries, heads, head_dim = ops.shape(q)
    kv_heads = layer.num_key_value_heads
    group = heads // kv_heads
    positions = ops.shape(k)[1]
    q = q * ops.cast(_query_scale(layer), q.dtype)
    # [batch, kv_heads, head_dim, group * queries]: a KV head's queries.
    q = ops.reshape(q, (batch, queries, kv_heads, group, head_dim))
    q = ops.reshape(
        ops.transpose(q, (0, 2, 4, 3, 1)),
        (batch, kv_heads, head_dim, group * queries),
    )
    # [batch, kv_heads, positions, head_dim]: free for one KV head.
    keys = ops.transpose(k, (0, 2, 1, 3))
    values = ops.transpose(v, (0, 2, 1, 3))
    scores = ops.transpose(ops.matmul(keys, q), (0, 1, 3, 2))
    scores = ops.reshape(scores, (batch, kv_heads, group, queries, positions))
    if layer.logit_soft_cap is not None:
        cap = layer.logit_soft_cap
        scores = ops.tanh(scores / cap) * cap
    if attention_mask is not None:
        attention_mask = attention_mask[:, None, None, :, :]
    probs = layer.softmax(scores, mask=attention_mask)
    probs = ops.cast(probs, scores.dtype)
    probs = ops.reshape(probs, (batch, kv_heads, group * queries, positions))
    out = ops.reshape(
        ops.matmul(probs, values),
        (batch, kv_heads, group, queries, head_dim),
    )
    out = ops.transpose(out, (0, 3, 1, 2, 4))
    return ops.reshape(out, (batch, queries, heads, head_dim))


def _query_scale(layer):
    if layer.query_head_dim_normalize:
        return 1 / np.sqrt(layer.head_dim)
    return 1 / np.sqrt(layer.hidden_dim // layer.num_query_heads)
