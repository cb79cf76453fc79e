"""Mistral, and every `llama` GGUF file with a SentencePiece tokenizer
(Mistral, Llama 2): Llama decoder blocks, full attention from GGUF."""

from keras_mathft.models.families import gguf_config
from keras_mathft.models.families.family import DECODER_LAYOUT
from keras_mathft.models.families.family import DECODER_WEIGHTS
from keras_mathft.models.families.family import GGUF_BLOCK_TENSORS
from keras_mathft.models.families.family import GGUF_DENSE_BLOCK
from keras_mathft.models.families.family import GQA_ARGUMENTS
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import GGUFFormat
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import layout_rules


def _gguf_config(meta, tensors):
    config = gguf_config.dense_config(meta, tensors)
    gguf_config.refuse_rope_scaling(meta, "Mistral")
    # llama.cpp's llama architecture attends to every position.
    config.update(
        head_dim=gguf_config.head_dim(meta, config),
        rope_max_wavelength=gguf_config.rope_base(meta),
        sliding_window=None,
    )
    return config


FAMILY = Family(
    name="mistral",
    backbone="MistralBackbone",
    causal_lm="MistralCausalLM",
    preprocessor="MistralCausalLMPreprocessor",
    tokenizer="MistralTokenizer",
    sentencepiece=True,
    argument_names={**GQA_ARGUMENTS, "head_dim": "head_dim"},
    hf_weights=DECODER_WEIGHTS,
    hf_export=HFExport("mistral", "MistralForCausalLM"),
    gguf=GGUFFormat(
        architecture="llama",
        tokenizer_models=("llama",),
        config=_gguf_config,
        block_tensors=GGUF_BLOCK_TENSORS,
        required=GGUF_DENSE_BLOCK,
        to_hf=gguf_config.unpermute_llama_qk,
    ),
    layout_map=layout_rules(DECODER_LAYOUT),
)
