"""The record that holds everything the project knows about one family.

A `Family` names the family's keras-hub classes and says how its weights
sit in a Hugging Face checkpoint, how llama.cpp stores it in a GGUF file,
which tokens end a turn, what its Hugging Face export must fix up and how
its weights shard over a device mesh. The builder, the GGUF importer, the
HF exporter and the sampler read it; they hold no per-family branch.

HF weight layouts (HF linear weights are `(out, in)`):

- `linear`: keras `(in, out)` kernels, transposed.
- `heads_in`: keras `(hidden, heads, head_dim)` Q/K/V kernels (Llama,
  Mistral, Qwen) from HF `(heads * head_dim, hidden)`.
- `gemma_heads_in`: keras `(heads, hidden, head_dim)` (Gemma).
- `heads_out`: keras `(heads, head_dim, hidden)` output kernels from HF
  `(hidden, heads * head_dim)`.
- `heads_bias`: keras `(heads, head_dim)` biases from HF `(heads *
  head_dim,)`.
- `copy`: same array (embeddings, norms; keras-hub's Gemma norms use
  `1 + w` like HF's, so no offset here).
"""

import dataclasses
import re
from typing import Callable
from typing import Mapping
from typing import Optional

HF_LAYOUTS = (
    "linear",
    "heads_in",
    "gemma_heads_in",
    "heads_out",
    "heads_bias",
    "copy",
)


@dataclasses.dataclass(frozen=True)
class HFWeights:
    """Where a backbone's weights live in a Hugging Face checkpoint.

    Attributes:
        block_prefix: the keras layer name of block `i` is
            `f"{block_prefix}_{i}"`.
        block: tuple of `(keras layer path, variable, HF module, layout)`
            per weight of a block; entries whose variable the backbone
            lacks (optional norms) are skipped. Or `backbone -> tuple`,
            for a family whose HF names depend on the backbone's options.
        final_norm: the keras layer name of the final norm.
    """

    block_prefix: str
    block: tuple
    final_norm: str


@dataclasses.dataclass(frozen=True)
class GGUFFormat:
    """How llama.cpp's `convert_hf_to_gguf.py` stores a family.

    Attributes:
        architecture: the `general.architecture` value.
        tokenizer_models: `tokenizer.ggml.model` values this family reads
            (`"llama"` is SentencePiece, `"gpt2"` byte-level BPE); a GGUF
            architecture shared by two families (`llama`: Llama 3 and
            Mistral) is told apart by it.
        config: `(metadata, tensors) -> dict`, the keras-hub backbone's
            arguments from the file's metadata. It refuses every setting
            the backbone cannot express.
        block_tensors: GGUF block tensor name (`attn_q`) -> HF module name
            (`self_attn.q_proj`).
        required: the block tensors every block must have.
        biased: the block tensors that carry a `.bias` too.
        to_hf: optional `(config, hf_name, array) -> array`, undoing what
            llama.cpp's converter did to a tensor (norm offsets, Q/K
            permutations).
        side_tensors: tensors read by `config`, not loaded as weights.
    """

    architecture: str
    tokenizer_models: tuple
    config: Callable
    block_tensors: Mapping[str, str]
    required: frozenset
    biased: frozenset = frozenset()
    to_hf: Optional[Callable] = None
    side_tensors: frozenset = frozenset()


@dataclasses.dataclass(frozen=True)
class HFExport:
    """What the Hugging Face export of a family writes or fixes.

    Where keras-hub has an exporter for the backbone it is used and
    `fix_config` mends its `config.json`; otherwise `config` gives the
    whole `config.json` and the exporter writes the weights (through
    `hf_weights`) and the tokenizer files itself.

    Attributes:
        model_type: HF `model_type`.
        architecture: HF `architectures[0]`, e.g. `"LlamaForCausalLM"`.
        fix_config: optional `(config dict, backbone) -> None`, filling
            fields keras-hub's exporter leaves out or gets wrong.
        config: optional `(backbone) -> dict`, the whole `config.json` of
            a family keras-hub cannot export.
        tokenizer_class: with `config`, the `tokenizer_config.json` class.
    """

    model_type: str
    architecture: str
    fix_config: Optional[Callable] = None
    config: Optional[Callable] = None
    tokenizer_class: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Family:
    """One keras-hub decoder family: its classes, formats and tokens.

    Attributes:
        name: the family's name, e.g. `"gemma3"`.
        backbone, causal_lm, preprocessor, tokenizer: keras-hub class
            names under `keras_hub.models`.
        sentencepiece: whether the tokenizer is SentencePiece (else
            byte-level BPE).
        argument_names: the builder's uniform argument names
            (`num_heads`, `num_key_value_heads`, `head_dim`) mapped to the
            backbone's.
        build_arguments: optional `(sequence_length) -> dict`, backbone
            arguments the builder always passes (e.g. GPT-2's maximum
            position).
        tokenizer_arguments: keyword arguments the builder gives the
            tokenizer class with a SentencePiece proto.
        special_tokens: tokens the keras-hub tokenizer class needs in a
            BPE vocabulary.
        turn_end_tokens: tokens that end a chat turn in this family's
            checkpoints; the sampler stops on them and the HF export lists
            them as extra EOS ids, wherever the vocabulary holds them.
        hf_weights: `HFWeights`, or None where no HF import exists.
        hf_load_arguments: optional `(config.json dict) -> dict`, backbone
            arguments keras-hub's HF loader leaves out for this family
            (`MathSolver.from_preset` passes them).
        hf_export: `HFExport`, or None where no HF export exists.
        gguf: `GGUFFormat`, or None where no GGUF import exists.
        layout_map: optional `(device_mesh) -> LayoutMap`, how the
            family's weights shard over a mesh with the axes `batch` and
            `model`: regular expressions over variable paths, as
            keras-hub's `Backbone.get_layout_map` gives them (keras-hub's
            own where it has one: `keras_hub_layout`; else
            `layout_rules`). `models.layout_map` fits them to a model
            (a mesh axis that does not divide a dimension replicates it).
        attention: optional `(layer, q, k, v, attention_mask, training,
            cache_update_index) -> output`, computed in place of the
            attention layers' `_compute_attention` in the sampler's
            compiled programs (`inference_attention`): the same math, laid
            out for the compiler (`cache_attention`).
    """

    name: str
    backbone: str
    causal_lm: str
    preprocessor: str
    tokenizer: str
    sentencepiece: bool
    argument_names: Mapping[str, str]
    build_arguments: Optional[Callable] = None
    tokenizer_arguments: Mapping = dataclasses.field(default_factory=dict)
    special_tokens: tuple = ()
    turn_end_tokens: tuple = ()
    hf_weights: Optional[HFWeights] = None
    hf_load_arguments: Optional[Callable] = None
    hf_export: Optional[HFExport] = None
    gguf: Optional[GGUFFormat] = None
    layout_map: Optional[Callable] = None
    attention: Optional[Callable] = None


# Uniform builder argument names for backbones with grouped-query heads.
GQA_ARGUMENTS = {
    "num_heads": "num_query_heads",
    "num_key_value_heads": "num_key_value_heads",
}
# GGUF block tensor -> HF module name, shared by every architecture.
GGUF_BLOCK_TENSORS = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "ffn_norm": "post_attention_layernorm",
}
# The tensors of a dense pre-norm block (attention, gated MLP, two norms).
GGUF_DENSE_BLOCK = frozenset(
    {
        "attn_norm",
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "ffn_gate",
        "ffn_up",
        "ffn_down",
        "ffn_norm",
    }
)
# keras-hub's Llama-style decoder block (Llama 3, Mistral, Qwen, Qwen 3).
DECODER_BLOCK = (
    ("self_attention_layernorm", "scale", "input_layernorm", "copy"),
    ("self_attention/query", "kernel", "self_attn.q_proj", "heads_in"),
    ("self_attention/key", "kernel", "self_attn.k_proj", "heads_in"),
    ("self_attention/value", "kernel", "self_attn.v_proj", "heads_in"),
    (
        "self_attention/attention_output",
        "kernel",
        "self_attn.o_proj",
        "heads_out",
    ),
    ("feedforward_layernorm", "scale", "post_attention_layernorm", "copy"),
    ("feedforward_gate_dense", "kernel", "mlp.gate_proj", "linear"),
    ("feedforward_intermediate_dense", "kernel", "mlp.up_proj", "linear"),
    ("feedforward_output_dense", "kernel", "mlp.down_proj", "linear"),
)
DECODER_WEIGHTS = HFWeights(
    "transformer_layer", DECODER_BLOCK, "sequence_output_layernorm"
)
# keras-hub's Gemma decoder block (Gemma, Gemma 3).
GEMMA_BLOCK = (
    ("pre_attention_norm", "scale", "input_layernorm", "copy"),
    ("attention/query", "kernel", "self_attn.q_proj", "gemma_heads_in"),
    ("attention/key", "kernel", "self_attn.k_proj", "gemma_heads_in"),
    ("attention/value", "kernel", "self_attn.v_proj", "gemma_heads_in"),
    ("attention/attention_output", "kernel", "self_attn.o_proj", "heads_out"),
    ("pre_ffw_norm", "scale", "pre_feedforward_layernorm", "copy"),
    ("ffw_gating", "kernel", "mlp.gate_proj", "linear"),
    ("ffw_gating_2", "kernel", "mlp.up_proj", "linear"),
    ("ffw_linear", "kernel", "mlp.down_proj", "linear"),
)
# Gemma 2 and 3 normalize after attention and after the feed-forward too.
GEMMA_POST_NORMS = (
    ("post_attention_norm", "scale", "post_attention_layernorm", "copy"),
    ("post_ffw_norm", "scale", "post_feedforward_layernorm", "copy"),
)


# === Layouts over a (batch, model) device mesh ===
#
# Like keras-hub's `get_layout_map`: `model` splits heads and the
# feed-forward dimension (tensor parallelism), `batch` the hidden one
# (weights gathered a layer at a time, as in FSDP).
MODEL_AXIS = "model"
BATCH_AXIS = "batch"
_M, _B = MODEL_AXIS, BATCH_AXIS
# Untied output embeddings, which keras-hub's maps leave replicated.
UNTIED_EMBEDDING_LAYOUT = {"token_embedding/reverse_embeddings": (_B, _M)}
EMBEDDING_LAYOUT = {
    "token_embedding/embeddings": (_M, _B),
    **UNTIED_EMBEDDING_LAYOUT,
}
# keras-hub's Llama-style decoder block (Llama 3, Mistral, Qwen, Qwen 3,
# GPT-2): `(hidden, heads, head_dim)` Q/K/V kernels.
_LAYER = r"transformer_layer_\d+/"
DECODER_LAYOUT = {
    **EMBEDDING_LAYOUT,
    _LAYER + r"self_attention/(query|key|value)/kernel": (_B, _M, None),
    _LAYER + r"self_attention/attention_output/kernel": (_M, None, _B),
    _LAYER + r"feedforward_(intermediate|gate)_dense/kernel": (_B, _M),
    _LAYER + r"feedforward_output_dense/kernel": (_M, _B),
}
# keras-hub's Gemma decoder block (Gemma 3): `(heads, hidden, head_dim)`
# Q/K/V kernels; the rules of `GemmaBackbone.get_layout_map`.
_BLOCK = r"decoder_block_\d+/"
GEMMA_LAYOUT = {
    "token_embedding/embeddings": (_M, _B),
    _BLOCK + r"attention/(query|key|value)/kernel": (_M, _B, None),
    _BLOCK + r"attention/attention_output/kernel": (_M, None, _B),
    _BLOCK + r"ffw_gating(_2)?/kernel": (_B, _M),
    _BLOCK + r"ffw_linear/kernel": (_M, _B),
}


def layout_rules(rules):
    """A `Family.layout_map` from `{path regex: axes}`.

    Args:
        rules: dict from a regular expression over variable paths to a
            tuple of `"batch"`, `"model"` or None per dimension. Paths no
            rule matches are replicated.

    Returns:
        `(device_mesh) -> keras.distribution.LayoutMap`.
    """
    for pattern in rules:
        re.compile(pattern)

    def layout_map(device_mesh):
        import keras

        layouts = keras.distribution.LayoutMap(device_mesh)
        for pattern, axes in rules.items():
            layouts[pattern] = axes
        return layouts

    return layout_map


def keras_hub_layout(backbone, extra=None):
    """A `Family.layout_map` from keras-hub's `get_layout_map`.

    Args:
        backbone: the keras-hub backbone class name, e.g.
            `"GemmaBackbone"`.
        extra: optional `{path regex: axes}` for weights keras-hub's map
            leaves out (untied output embeddings).

    Returns:
        `(device_mesh) -> keras.distribution.LayoutMap`.
    """

    def layout_map(device_mesh):
        import keras_hub

        cls = getattr(keras_hub.models, backbone)
        layouts = cls.get_layout_map(
            device_mesh,
            model_parallel_dim_name=MODEL_AXIS,
            data_parallel_dim_name=BATCH_AXIS,
        )
        for pattern, axes in (extra or {}).items():
            layouts[pattern] = axes
        return layouts

    return layout_map
