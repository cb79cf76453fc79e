"""Gemma (1 and 2): SentencePiece, Gemma decoder blocks, HF export."""

from keras_mathft.models.families import cache_attention
from keras_mathft.models.families.family import GEMMA_BLOCK
from keras_mathft.models.families.family import GEMMA_POST_NORMS
from keras_mathft.models.families.family import GQA_ARGUMENTS
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import HFWeights
from keras_mathft.models.families.family import keras_hub_layout


def _hf_block(backbone):
    """Gemma 2's block has the post norms; Gemma 1's has none, and names
    its pre-feed-forward norm `post_attention_layernorm`, as keras-hub's
    converter and exporter do."""
    if backbone.use_post_attention_norm:
        return GEMMA_BLOCK + GEMMA_POST_NORMS
    return tuple(
        (layer, attr, "post_attention_layernorm", layout)
        if layer == "pre_ffw_norm"
        else (layer, attr, module, layout)
        for layer, attr, module, layout in GEMMA_BLOCK
    )


FAMILY = Family(
    name="gemma",
    backbone="GemmaBackbone",
    causal_lm="GemmaCausalLM",
    preprocessor="GemmaCausalLMPreprocessor",
    tokenizer="GemmaTokenizer",
    sentencepiece=True,
    argument_names={**GQA_ARGUMENTS, "head_dim": "head_dim"},
    turn_end_tokens=("<end_of_turn>",),
    hf_weights=HFWeights("decoder_block", _hf_block, "final_normalization"),
    hf_export=HFExport("gemma", "GemmaForCausalLM"),
    layout_map=keras_hub_layout("GemmaBackbone"),
    attention=cache_attention.compute_attention,
)
