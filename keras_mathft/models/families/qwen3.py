"""Qwen 3: Llama decoder blocks with Q/K norms; GGUF `qwen3` files. keras-
hub 0.32 has no Qwen 3 exporter, so the export writes its config here."""

from keras_mathft.models.families import gguf_config
from keras_mathft.models.families.family import DECODER_BLOCK
from keras_mathft.models.families.family import DECODER_LAYOUT
from keras_mathft.models.families.family import GGUF_BLOCK_TENSORS
from keras_mathft.models.families.family import GGUF_DENSE_BLOCK
from keras_mathft.models.families.family import GQA_ARGUMENTS
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import GGUFFormat
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import HFWeights
from keras_mathft.models.families.family import layout_rules

_NORMS = (
    (
        "self_attention/query_dense_layernorm",
        "scale",
        "self_attn.q_norm",
        "copy",
    ),
    ("self_attention/key_dense_layernorm", "scale", "self_attn.k_norm", "copy"),
)
# Qwen 3's published context length.
_MAX_POSITIONS = 40960


def _gguf_config(meta, tensors):
    config = gguf_config.dense_config(meta, tensors)
    gguf_config.refuse_rope_scaling(meta, "Qwen3")
    config.update(
        head_dim=gguf_config.head_dim(meta, config),
        rope_max_wavelength=gguf_config.rope_base(meta),
        tie_word_embeddings=gguf_config.tied_output(tensors),
        sliding_window_size=None,
    )
    return config


def _hf_config(backbone):
    return {
        "model_type": "qwen3",
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_query_heads,
        "num_key_value_heads": backbone.num_key_value_heads,
        "head_dim": backbone.head_dim,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": "silu",
        "rms_norm_eps": backbone.layer_norm_epsilon,
        "rope_theta": backbone.rope_max_wavelength,
        "attention_bias": False,
        "tie_word_embeddings": backbone.tie_word_embeddings,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_position_embeddings": _MAX_POSITIONS,
        "use_cache": True,
    }


FAMILY = Family(
    name="qwen3",
    backbone="Qwen3Backbone",
    causal_lm="Qwen3CausalLM",
    preprocessor="Qwen3CausalLMPreprocessor",
    tokenizer="Qwen3Tokenizer",
    sentencepiece=False,
    argument_names={**GQA_ARGUMENTS, "head_dim": "head_dim"},
    special_tokens=("<|im_end|>", "<|endoftext|>"),
    turn_end_tokens=("<|im_end|>", "<|endoftext|>"),
    hf_weights=HFWeights(
        "transformer_layer",
        DECODER_BLOCK + _NORMS,
        "sequence_output_layernorm",
    ),
    hf_export=HFExport(
        "qwen3",
        "Qwen3ForCausalLM",
        config=_hf_config,
        tokenizer_class="Qwen2Tokenizer",
    ),
    gguf=GGUFFormat(
        architecture="qwen3",
        tokenizer_models=("gpt2",),
        config=_gguf_config,
        block_tensors=GGUF_BLOCK_TENSORS,
        required=GGUF_DENSE_BLOCK | {"attn_q_norm", "attn_k_norm"},
    ),
    layout_map=layout_rules(DECODER_LAYOUT),
)
