"""Gemma 3 (text): four norms per block, Q/K norms, local and global
attention; GGUF `gemma3` files, HF `gemma3_text` export.

llama.cpp stores Gemma's RMSNorm weights as `w + 1` (Gemma's norm
multiplies by `1 + w`), so the import subtracts 1. No Q/K permutation; the
output head is tied to `token_embd`.
"""

from keras_mathft.models.families import cache_attention
from keras_mathft.models.families import gguf_config
from keras_mathft.models.families.family import GEMMA_BLOCK
from keras_mathft.models.families.family import GEMMA_LAYOUT
from keras_mathft.models.families.family import GEMMA_POST_NORMS
from keras_mathft.models.families.family import GGUF_BLOCK_TENSORS
from keras_mathft.models.families.family import GGUF_DENSE_BLOCK
from keras_mathft.models.families.family import GQA_ARGUMENTS
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import GGUFFormat
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import HFWeights
from keras_mathft.models.families.family import layout_rules

_QK_NORMS = (
    ("attention/query_norm", "scale", "self_attn.q_norm", "copy"),
    ("attention/key_norm", "scale", "self_attn.k_norm", "copy"),
)
# `ffn_norm` is the pre-FFW norm here; the post norms are Gemma 3's own.
_GGUF_BLOCK = {
    **GGUF_BLOCK_TENSORS,
    "ffn_norm": "pre_feedforward_layernorm",
    "post_attention_norm": "post_attention_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
}
# keras-hub's Gemma3Backbone fixes the global RoPE base and the
# 5-local-1-global layer pattern, as llama.cpp does.
_GLOBAL_ROPE_BASE = 1_000_000.0
_LAYER_PATTERN = 6


def _gguf_config(meta, tensors):
    config = gguf_config.dense_config(meta, tensors)
    head_dim = meta.integer("attention.key_length")
    if gguf_config.rope_base(meta) != _GLOBAL_ROPE_BASE:
        raise ValueError(
            "keras-hub's Gemma3Backbone fixes the global RoPE base at "
            "1,000,000. Supported: gemma3 files with rope.freq_base = 1e6. "
            f"Received: rope.freq_base={gguf_config.rope_base(meta)}"
        )
    pattern = meta.arch("attention.sliding_window_pattern")
    if pattern not in (None, _LAYER_PATTERN):
        raise ValueError(
            "keras-hub's Gemma3Backbone uses 5 local layers then 1 global "
            "one. Supported: attention.sliding_window_pattern = 6. "
            f"Received: {pattern!r}"
        )
    global_factor = 1.0
    kind = meta.arch("rope.scaling.type")
    if kind == "linear":
        global_factor = meta.number("rope.scaling.factor")
    elif kind not in (None, "none"):
        raise ValueError(
            "Gemma 3 files may only use linear RoPE scaling. Received: "
            f"rope.scaling.type={kind!r}"
        )
    window = meta.integer("attention.sliding_window", default=0, minimum=0)
    soft_caps = {
        name: meta.number(name) if meta.arch(name) is not None else None
        for name in ("attn_logit_softcapping", "final_logit_softcapping")
    }
    config.update(
        {
            "image_size": None,
            "vision_encoder": None,
            "head_dim": head_dim,
            # llama.cpp scales queries by 1/sqrt(hidden / heads) for the
            # 62-layer (27B) model and by 1/sqrt(head_dim) otherwise.
            "query_head_dim_normalize": config["num_layers"] != 62,
            "use_query_key_norm": True,
            "use_post_attention_norm": (
                "blk.0.post_attention_norm.weight" in tensors
            ),
            "use_post_ffw_norm": "blk.0.post_ffw_norm.weight" in tensors,
            "attention_logit_soft_cap": soft_caps["attn_logit_softcapping"],
            "final_logit_soft_cap": soft_caps["final_logit_softcapping"],
            "use_sliding_window_attention": bool(window),
            "sliding_window_size": window or 4096,
            "global_rope_scaling_factor": global_factor,
        }
    )
    return config


def _to_hf(config, hf_name, array):
    if hf_name.endswith("norm.weight"):
        return array - 1.0
    return array


FAMILY = Family(
    name="gemma3",
    backbone="Gemma3Backbone",
    causal_lm="Gemma3CausalLM",
    preprocessor="Gemma3CausalLMPreprocessor",
    tokenizer="Gemma3Tokenizer",
    sentencepiece=True,
    argument_names={**GQA_ARGUMENTS, "head_dim": "head_dim"},
    build_arguments=lambda sequence_length: {
        "image_size": None,
        "vision_encoder": None,
    },
    tokenizer_arguments={"has_vision_tokens": False},
    turn_end_tokens=("<end_of_turn>",),
    hf_weights=HFWeights(
        "decoder_block",
        GEMMA_BLOCK + _QK_NORMS + GEMMA_POST_NORMS,
        "final_normalization",
    ),
    hf_export=HFExport("gemma3_text", "Gemma3ForCausalLM"),
    gguf=GGUFFormat(
        architecture="gemma3",
        tokenizer_models=("llama",),
        config=_gguf_config,
        block_tensors=_GGUF_BLOCK,
        required=GGUF_DENSE_BLOCK | {"attn_q_norm", "attn_k_norm"},
        to_hf=_to_hf,
    ),
    layout_map=layout_rules(GEMMA_LAYOUT),
    attention=cache_attention.compute_attention,
)
