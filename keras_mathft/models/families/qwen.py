"""Qwen 2 and 2.5: Llama decoder blocks with Q/K/V biases; GGUF `qwen2`
files, HF `qwen2` export."""

from keras_mathft.models.families import gguf_config
from keras_mathft.models.families.family import DECODER_BLOCK
from keras_mathft.models.families.family import GGUF_BLOCK_TENSORS
from keras_mathft.models.families.family import GGUF_DENSE_BLOCK
from keras_mathft.models.families.family import GQA_ARGUMENTS
from keras_mathft.models.families.family import UNTIED_EMBEDDING_LAYOUT
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import GGUFFormat
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import HFWeights
from keras_mathft.models.families.family import keras_hub_layout

_BIASES = (
    ("self_attention/query", "bias", "self_attn.q_proj", "heads_bias"),
    ("self_attention/key", "bias", "self_attn.k_proj", "heads_bias"),
    ("self_attention/value", "bias", "self_attn.v_proj", "heads_bias"),
)


def _gguf_config(meta, tensors):
    config = gguf_config.dense_config(meta, tensors)
    gguf_config.refuse_rope_scaling(meta, "Qwen")
    gguf_config.check_head_dim(
        "Qwen", gguf_config.head_dim(meta, config), config
    )
    config.update(
        rope_max_wavelength=gguf_config.rope_base(meta),
        tie_word_embeddings=gguf_config.tied_output(tensors),
        use_sliding_window_attention=False,
    )
    return config


def _fix_config(config, backbone):
    # keras-hub's own HF loader needs these.
    config["use_sliding_window"] = backbone.use_sliding_window_attention
    config["sliding_window"] = backbone.sliding_window_size


FAMILY = Family(
    name="qwen",
    backbone="QwenBackbone",
    causal_lm="QwenCausalLM",
    preprocessor="QwenCausalLMPreprocessor",
    tokenizer="QwenTokenizer",
    sentencepiece=False,
    argument_names=dict(GQA_ARGUMENTS),
    special_tokens=("<|endoftext|>",),
    turn_end_tokens=("<|im_end|>",),
    hf_weights=HFWeights(
        "transformer_layer",
        DECODER_BLOCK + _BIASES,
        "sequence_output_layernorm",
    ),
    hf_export=HFExport("qwen2", "Qwen2ForCausalLM", fix_config=_fix_config),
    gguf=GGUFFormat(
        architecture="qwen2",
        tokenizer_models=("gpt2",),
        config=_gguf_config,
        block_tensors=GGUF_BLOCK_TENSORS,
        required=GGUF_DENSE_BLOCK,
        biased=frozenset({"attn_q", "attn_k", "attn_v"}),
    ),
    layout_map=keras_hub_layout("QwenBackbone", extra=UNTIED_EMBEDDING_LAYOUT),
)
