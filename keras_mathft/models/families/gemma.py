"""Gemma (1 and 2): SentencePiece, Gemma decoder blocks, HF export."""

from keras_mathft.models.families.family import GEMMA_BLOCK
from keras_mathft.models.families.family import GQA_ARGUMENTS
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import HFWeights
from keras_mathft.models.families.family import keras_hub_layout

FAMILY = Family(
    name="gemma",
    backbone="GemmaBackbone",
    causal_lm="GemmaCausalLM",
    preprocessor="GemmaCausalLMPreprocessor",
    tokenizer="GemmaTokenizer",
    sentencepiece=True,
    argument_names={**GQA_ARGUMENTS, "head_dim": "head_dim"},
    turn_end_tokens=("<end_of_turn>",),
    hf_weights=HFWeights("decoder_block", GEMMA_BLOCK, "final_normalization"),
    hf_export=HFExport("gemma", "GemmaForCausalLM"),
    layout_map=keras_hub_layout("GemmaBackbone"),
)
