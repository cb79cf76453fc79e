"""Where each keras-hub weight lives in a Hugging Face checkpoint.

`hf_weight_map(backbone)` lists every backbone variable with its HF tensor
name and layout, from the backbone's family record (`families.Family.
hf_weights`; the layouts are described in `families.family`).
`load_hf_weights` fills a backbone from HF-named arrays (the GGUF import)
and `hf_state_dict` does the reverse (the HF export), so a layout fact is
written once.
"""

import json
import pathlib

import keras
import numpy as np

from keras_mathft.models.families import FAMILIES
from keras_mathft.models.families import family_of


def hf_weight_map(backbone):
    """Every backbone variable with its HF tensor name and layout.

    Optional norms a backbone was built without (Gemma 3's post norms,
    Q/K norms) are left out.

    Args:
        backbone: a keras-hub backbone of a family with `hf_weights`.

    Returns:
        A list of `(variable, hf_name, layout)` tuples.

    Raises:
        ValueError: for a backbone whose family has no HF weight layout.
    """
    weights = family_of(backbone).hf_weights
    if weights is None:
        raise ValueError(
            "No Hugging Face weight layout for this backbone's family. "
            f"Received: {type(backbone).__name__}"
        )
    variables = {v.path: v for v in backbone.weights}
    embedding = backbone.get_layer("token_embedding")
    entries = [
        (embedding.embeddings, "model.embed_tokens.weight", "copy"),
        (
            variables[f"{weights.final_norm}/scale"],
            "model.norm.weight",
            "copy",
        ),
    ]
    if not getattr(embedding, "tie_weights", True):
        entries.append(
            (embedding.reverse_embeddings, "lm_head.weight", "linear")
        )
    for i in range(backbone.num_layers):
        for layer, attr, hf_module, layout in weights.block:
            path = f"{weights.block_prefix}_{i}/{layer}/{attr}"
            variable = variables.get(path)
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
        ValueError: when an array's shape is not the exact HF shape its
            variable implies (a transposed or reshaped tensor is refused
            before any reshape), or when it holds NaN or infinity.
    """
    for variable, hf_name, layout in hf_weight_map(backbone):
        array = np.asarray(get_tensor(hf_name))
        shape = tuple(variable.shape)
        expected = hf_shape(shape, layout)
        if array.shape != expected:
            raise ValueError(
                f"The tensor {hf_name!r} must have shape {list(expected)} "
                f"to fill the keras variable {variable.path!r} of shape "
                f"{list(shape)}. Check that the checkpoint's config "
                "matches its tensors (a transposed or reshaped tensor "
                f"cannot load). Received: shape={list(array.shape)}"
            )
        if not np.isfinite(array).all():
            bad = int(array.size - np.isfinite(array).sum())
            raise ValueError(
                f"The tensor {hf_name!r} holds {bad} NaN or infinite "
                "values: the checkpoint is corrupt. Received: "
                f"{bad} of {array.size} values not finite"
            )
        variable.assign(_from_hf(array, layout, shape))


def hf_shape(shape, layout):
    """The HF checkpoint shape of a keras variable of `shape`.

    Args:
        shape: tuple, the keras variable's shape.
        layout: one of `families.family.HF_LAYOUTS`.

    Returns:
        tuple.
    """
    if layout == "linear":
        return shape[::-1]
    if layout == "heads_in":
        hidden, heads, head_dim = shape
        return (heads * head_dim, hidden)
    if layout == "gemma_heads_in":
        heads, hidden, head_dim = shape
        return (heads * head_dim, hidden)
    if layout == "heads_out":
        heads, head_dim, hidden = shape
        return (hidden, heads * head_dim)
    if layout == "heads_bias":
        return (shape[0] * shape[1],)
    return shape  # copy


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
    # `array` has the exact `hf_shape(shape, layout)`.
    if layout == "linear":
        return array.T
    if layout == "gemma_heads_in":
        heads, hidden, head_dim = shape
        return array.reshape(heads, head_dim, hidden).transpose(0, 2, 1)
    if layout in ("heads_in", "heads_out"):
        return array.T.reshape(shape)
    return array.reshape(shape)  # copy, heads_bias


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


def check_loaded_checkpoint(backbone, folder):
    """Checks a backbone loaded from a Hugging Face folder against it.

    keras-hub's HF loaders read the tensors the config asks for and
    ignore the rest, and take any values: a `num_hidden_layers` edited
    down drops layers without a word, flipped bytes give NaN logits. This
    refuses checkpoint tensors no variable uses (where the family's weight
    layout is known) and weights that are not finite (one reduction per
    variable).

    Args:
        backbone: the loaded keras-hub backbone.
        folder: str or path, the HF checkpoint folder.

    Raises:
        ValueError: naming the unused tensors or the non-finite variable.
    """
    from safetensors import safe_open

    names = set()
    for path in sorted(pathlib.Path(folder).glob("*.safetensors")):
        with safe_open(str(path), "np") as f:
            names |= set(f.keys())
    if names and family_of(backbone).hf_weights is not None:
        used = {name for _, name, _ in hf_weight_map(backbone)}
        unused = sorted(names - used - {"lm_head.weight"})
        if unused:
            raise ValueError(
                f"The checkpoint in {str(folder)!r} holds tensors its "
                "config.json does not use, so the config does not match "
                f"the weights (was num_hidden_layers edited?). Received: "
                f"{len(unused)} unused tensors, e.g. {unused[:4]}"
            )
    for variable in backbone.weights:
        finite = keras.ops.all(keras.ops.isfinite(variable.value))
        if not bool(keras.ops.convert_to_numpy(finite)):
            raise ValueError(
                f"The weights loaded from {str(folder)!r} hold NaN or "
                f"infinite values in {variable.path!r}: the checkpoint is "
                f"corrupt. Received: {variable.path}"
            )


def hf_load_arguments(folder):
    """Backbone arguments keras-hub's HF loader misses for a checkpoint.

    Args:
        folder: str or path, a Hugging Face checkpoint folder.

    Returns:
        dict, from the family record whose `model_type` the folder's
        `config.json` names (empty when none applies).
    """
    config = json.loads((pathlib.Path(folder) / "config.json").read_text())
    for family in FAMILIES.values():
        export = family.hf_export
        if export is not None and export.model_type == config.get("model_type"):
            if family.hf_load_arguments is not None:
                return family.hf_load_arguments(config)
    return {}
