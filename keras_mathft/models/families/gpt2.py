"""GPT-2: learned positions, byte-level BPE, exported by keras-hub."""

from keras_mathft.models.families.family import BATCH_AXIS
from keras_mathft.models.families.family import DECODER_LAYOUT
from keras_mathft.models.families.family import MODEL_AXIS
from keras_mathft.models.families.family import Family
from keras_mathft.models.families.family import HFExport
from keras_mathft.models.families.family import layout_rules

# Llama-style kernels, plus GPT-2's biases and learned positions.
_LAYOUT = {
    **DECODER_LAYOUT,
    r"transformer_layer_\d+/self_attention/(query|key|value)/bias": (
        MODEL_AXIS,
        None,
    ),
    r"transformer_layer_\d+/feedforward_intermediate_dense/bias": (MODEL_AXIS,),
    "position_embedding/embeddings": (None, BATCH_AXIS),
}


def _build_arguments(sequence_length):
    # GPT-2's position table is as long as the longest sequence.
    return {"max_sequence_length": sequence_length}


FAMILY = Family(
    name="gpt2",
    backbone="GPT2Backbone",
    causal_lm="GPT2CausalLM",
    preprocessor="GPT2CausalLMPreprocessor",
    tokenizer="GPT2Tokenizer",
    sentencepiece=False,
    argument_names={"num_heads": "num_heads"},
    build_arguments=_build_arguments,
    special_tokens=("<|endoftext|>",),
    hf_export=HFExport("gpt2", "GPT2LMHeadModel"),
    layout_map=layout_rules(_LAYOUT),
)
