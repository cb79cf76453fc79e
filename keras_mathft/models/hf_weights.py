"""Where each keras-hub weight lives in a Hugging Face checkpoint.

`hf_weight_map(backbone)` lists, for the decoder families we test, every
backbone variable with its HF tensor name and layout. `load_hf_weights`
fills a backbone from HF-named arrays (the GGUF import) and
`hf_state_dict` does the reverse (the HF export). Keeping both directions
in one table means a layout fact is written once.

Layouts (HF linear weights are `(out, in)`):

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

import keras
import numpy as np

_DECODER_BLOCK = (
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
_QWEN_BIASES = (
    ("self_attention/query", "bias", "self_attn.q_proj", "heads_bias"),
    ("self_attention/key", "bias", "self_attn.k_proj", "heads_bias"),
    ("self_attention/value", "bias", "self_attn.v_proj", "heads_bias"),
)
_QWEN3_NORMS = (
    (
        "self_attention/query_dense_layernorm",
        "scale",
        "self_attn.q_norm",
        "copy",
    ),
    ("self_attention/key_dense_layernorm", "scale", "self_attn.k_norm", "copy"),
)
_GEMMA_BLOCK = (
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
_GEMMA3_EXTRA = (
    ("attention/query_norm", "scale", "self_attn.q_norm", "copy"),
    ("attention/key_norm", "scale", "self_attn.k_norm", "copy"),
    ("post_attention_norm", "scale", "post_attention_layernorm", "copy"),
    ("post_ffw_norm", "scale", "post_feedforward_layernorm", "copy"),
)
# keras-hub backbone class -> (block layer prefix, block entries, final norm).
_LAYOUTS = {
    "GemmaBackbone": ("decoder_block", _GEMMA_BLOCK, "final_normalization"),
    "Gemma3Backbone": (
        "decoder_block",
        _GEMMA_BLOCK + _GEMMA3_EXTRA,
        "final_normalization",
    ),
    "Llama3Backbone": (
        "transformer_layer",
        _DECODER_BLOCK,
        "sequence_output_layernorm",
    ),
    "MistralBackbone": (
        "transformer_layer",
        _DECODER_BLOCK,
        "sequence_output_layernorm",
    ),
    "QwenBackbone": (
        "transformer_layer",
        _DECODER_BLOCK + _QWEN_BIASES,
        "sequence_output_layernorm",
    ),
    "Qwen3Backbone": (
        "transformer_layer",
        _DECODER_BLOCK + _QWEN3_NORMS,
        "sequence_output_layernorm",
    ),
}
HF_WEIGHT_BACKBONES = tuple(sorted(_LAYOUTS))


def hf_weight_map(backbone):
    """Every backbone variable with its HF tensor name and layout.

    Optional norms a backbone was built without (Gemma 3's post norms,
    Q/K norms) are left out.

    Args:
        backbone: a keras-hub backbone whose class is in
            `HF_WEIGHT_BACKBONES`.

    Returns:
        A list of `(variable, hf_name, layout)` tuples.

    Raises:
        ValueError: for another backbone class.
    """
    name = type(backbone).__name__
    if name not in _LAYOUTS:
        raise ValueError(
            f"No Hugging Face weight layout for {name}. Supported: "
            f"{list(HF_WEIGHT_BACKBONES)}. Received: {name}"
        )
    prefix, block, final_norm = _LAYOUTS[name]
    variables = {v.path: v for v in backbone.weights}
    embedding = backbone.get_layer("token_embedding")
    entries = [
        (embedding.embeddings, "model.embed_tokens.weight", "copy"),
        (variables[f"{final_norm}/scale"], "model.norm.weight", "copy"),
    ]
    if not getattr(embedding, "tie_weights", True):
        entries.append(
            (embedding.reverse_embeddings, "lm_head.weight", "linear")
        )
    for i in range(backbone.num_layers):
        for layer, attr, hf_module, layout in block:
            variable = variables.get(f"{prefix}_{i}/{layer}/{attr}")
            if variable is None:
                continue
            kind = "bias" if attr == "bias" else "weight"
            hf_name = f"model.layers.{i}.{hf_module}.{kind}"
            entries.append((variable, hf_name, layout))
    return entries


def load_hf_weights(backbone, get_tensor):
    """Assigns every backbone variable from HF-named arrays.

    Args:
        backbone: a keras-hub backbone (see `hf_weight_map`).
        get_tensor: callable, HF tensor name -> numpy array in HF layout.

    Raises:
        ValueError: when an array's shape does not fit its variable.
    """
    for variable, hf_name, layout in hf_weight_map(backbone):
        array = np.asarray(get_tensor(hf_name))
        value = _from_hf(array, layout, tuple(variable.shape))
        if value is None:
            raise ValueError(
                f"The tensor {hf_name!r} of shape {list(array.shape)} does "
                f"not fit the keras variable {variable.path!r} of shape "
                f"{list(variable.shape)}. Check that the checkpoint's "
                f"config matches its tensors. Received: shape="
                f"{list(array.shape)}"
            )
        variable.assign(value)


def hf_state_dict(backbone, dtype="float32"):
    """The backbone's weights as an HF-named dict of numpy arrays.

    Args:
        backbone: a keras-hub backbone (see `hf_weight_map`).
        dtype: numpy dtype of the arrays.

    Returns:
        dict, HF tensor name -> contiguous numpy array in HF layout, LoRA
        adapters merged.
    """
    # A LoRA layer's `kernel` property merges its adapters into `_kernel`.
    merged = {
        id(layer._kernel): layer
        for layer in backbone._flatten_layers()
        if getattr(layer, "lora_enabled", False)
    }
    state = {}
    for variable, hf_name, layout in hf_weight_map(backbone):
        value = variable
        if id(variable) in merged:
            value = merged[id(variable)].kernel
        array = np.asarray(keras.ops.convert_to_numpy(value), dtype=dtype)
        state[hf_name] = np.ascontiguousarray(_to_hf(array, layout))
    return state


def _from_hf(array, layout, shape):
    try:
        if layout == "copy":
            value = array
        elif layout == "linear":
            value = array.T
        elif layout == "gemma_heads_in":
            heads, hidden, head_dim = shape
            value = array.reshape(heads, head_dim, hidden).transpose(0, 2, 1)
        elif layout in ("heads_in", "heads_out"):
            value = array.T.reshape(shape)
        else:  # heads_bias
            value = array.reshape(shape)
    except ValueError:
        return None
    return value if tuple(value.shape) == shape else None


def _to_hf(array, layout):
    if layout == "copy":
        return array
    if layout == "linear":
        return array.T
    if layout == "heads_in":
        return array.reshape(array.shape[0], -1).T
    if layout == "gemma_heads_in":
        return array.transpose(0, 2, 1).reshape(-1, array.shape[1])
    if layout == "heads_out":
        return array.reshape(-1, array.shape[-1]).T
    return array.reshape(-1)  # heads_bias
