"""Where each keras-hub weight lives in a Hugging Face checkpoint.

`hf_weight_map(backbone)` lists every backbone variable with its HF tensor
name and layout, from the backbone's family record (`families.Family.
hf_weights`; the layouts are described in `families.family`).
`load_hf_weights` fills a backbone from HF-named arrays (the GGUF import)
and `hf_state_dict` does the reverse (the HF export), so a layout fact is
written once.

A local HF folder is checked before keras-hub's loader sees it
(`check_hf_folder`, run by `hf_load_arguments`) and after
(`check_loaded_checkpoint`).
"""

import math
import pathlib
import re

import keras
import numpy as np

from keras_mathft import atomic_files
from keras_mathft.models.families import FAMILIES
from keras_mathft.models.families import family_of

# Sizes of an HF decoder `config.json`: positive integers where present
# (`num_key_value_heads` and `head_dim` may be null).
_HF_SIZES = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
)
# Norm epsilons lie in (0, 1) (real ones: 1e-5, 1e-6); RoPE bases are > 0.
_HF_EPSILONS = ("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon")
_HF_POSITIVE = ("rope_theta",)
_HF_LAYER = re.compile(r"model\.layers\.(\d+)\.(.+)")


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
    block = weights.block
    if callable(block):
        block = block(backbone)
    for i in range(backbone.num_layers):
        for layer, attr, hf_module, layout in block:
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
    # A LoRA layer's `kernel` property merges its adapters into `_kernel`,
    # Keras' private base variable, the one `hf_weight_map` names. Keras
    # has no public walk over nested layers, hence `_flatten_layers`.
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


def check_hf_folder(folder):
    """Checks an HF folder's `config.json` against its tensors, unloaded.

    keras-hub's HF loaders build the backbone from `config.json`, then
    copy the tensors in, trusting both: an edited or damaged config fails
    there with raw errors (`ZeroDivisionError`, `TypeError`,
    `AttributeError`, safetensors' own error), builds as many layers as a
    huge `num_hidden_layers` asks, loads a NaN or huge `rms_norm_eps`
    silently, or (JAX) can abort the process while it reports a tensor
    that does not fit. This refuses, before any of that and reading only
    the safetensors headers:

    - a `config.json` that is not a JSON object with a `model_type`, or
      that holds NaN or infinity anywhere;
    - sizes (`vocab_size`, `hidden_size`, `num_hidden_layers`,
      `intermediate_size`, `num_attention_heads`, `num_key_value_heads`,
      `head_dim`) that are not positive integers, a norm epsilon outside
      (0, 1), a `rope_theta` that is not positive;
    - a safetensors file whose header cannot be read or does not match
      its length (truncated, flipped header bytes);
    - in HF's decoder naming (`model.embed_tokens`, `lm_head`,
      `model.layers.<i>.self_attn.{q,k,v,o}_proj`, `.mlp.*_proj`, norms,
      Q/K norms, Q/K/V biases), a tensor whose shape is not the one the
      sizes give, or layers other than `0 .. num_hidden_layers - 1`.
      Tensors named otherwise (GPT-2's) are left to
      `check_loaded_checkpoint`.

    Args:
        folder: str or path, a Hugging Face checkpoint folder.

    Returns:
        dict, the parsed `config.json`.

    Raises:
        ValueError: naming the file, the field or the tensor.

    Example:

    >>> config = check_hf_folder("runs/gemma3_hf")  # doctest: +SKIP
    """
    folder = pathlib.Path(folder)
    path = folder / "config.json"
    config, problem = atomic_files.try_read_json_object(path)
    if config is None or not isinstance(config.get("model_type"), str):
        problem = problem or "it names no `model_type`"
        raise ValueError(
            f"{str(path)!r} must be a Hugging Face config: a JSON object "
            f"with a `model_type` ({problem}). Restore the file. Received: "
            f"{atomic_files.excerpt_file(path)}"
        )
    _check_hf_numbers(config, path)
    _check_hf_shapes(config, _safetensors_shapes(folder), folder)
    return config


def _check_hf_numbers(config, path):
    def bad(key, value, wanted):
        return ValueError(
            f"`{key}` in {str(path)!r} must be {wanted}; the config is "
            f"corrupt or edited. Received: {key}={value!r}"
        )

    def walk(value, key):
        if isinstance(value, float) and not math.isfinite(value):
            raise bad(key, value, "finite")
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")

    walk(config, "")
    for key in _HF_SIZES:
        value = config.get(key)
        if key in ("num_key_value_heads", "head_dim") and value is None:
            continue
        if key in config and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise bad(key, value, "a positive integer")
    for keys, low, high in ((_HF_EPSILONS, 0, 1), (_HF_POSITIVE, 0, None)):
        for key in keys:
            value = config.get(key)
            if value is None:
                continue
            number = isinstance(value, (int, float)) and not isinstance(
                value, bool
            )
            if not number or value <= low or (high and value >= high):
                wanted = f"a number > {low}" + (
                    f" and < {high}" if high else ""
                )
                raise bad(key, value, wanted)


def _safetensors_shapes(folder):
    """Tensor name -> shape, from every safetensors header in `folder`."""
    from safetensors import safe_open

    shapes = {}
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), "np") as f:
                for name in f.keys():
                    shapes[name] = tuple(f.get_slice(name).get_shape())
        except Exception as error:  # safetensors raises its own type.
            raise ValueError(
                f"The weights file {str(path)!r} cannot be read ({error}): "
                "it is truncated or corrupt. Restore it. Received: "
                f"{path.stat().st_size} bytes"
            ) from error
    return shapes


def _check_hf_shapes(config, shapes, folder):
    try:
        vocab, hidden, layers, inter, heads = (
            config[k]
            for k in (
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "intermediate_size",
                "num_attention_heads",
            )
        )
    except KeyError:
        return  # Not a Llama-style decoder config (GPT-2's names).
    kv = config.get("num_key_value_heads") or heads
    size = config.get("head_dim") or hidden // heads
    q, k = heads * size, kv * size
    top = {
        "model.embed_tokens.weight": (vocab, hidden),
        "lm_head.weight": (vocab, hidden),
        "model.norm.weight": (hidden,),
    }
    block = {
        "input_layernorm.weight": (hidden,),
        "post_attention_layernorm.weight": (hidden,),
        "pre_feedforward_layernorm.weight": (hidden,),
        "post_feedforward_layernorm.weight": (hidden,),
        "self_attn.q_proj.weight": (q, hidden),
        "self_attn.k_proj.weight": (k, hidden),
        "self_attn.v_proj.weight": (k, hidden),
        "self_attn.o_proj.weight": (hidden, q),
        "self_attn.q_proj.bias": (q,),
        "self_attn.k_proj.bias": (k,),
        "self_attn.v_proj.bias": (k,),
        "self_attn.q_norm.weight": (size,),
        "self_attn.k_norm.weight": (size,),
        "mlp.gate_proj.weight": (inter, hidden),
        "mlp.up_proj.weight": (inter, hidden),
        "mlp.down_proj.weight": (hidden, inter),
    }
    present = set()
    for name, shape in shapes.items():
        match = _HF_LAYER.fullmatch(name)
        if match:
            present.add(int(match.group(1)))
            expected = block.get(match.group(2))
        else:
            expected = top.get(name)
        if expected is not None and shape != expected:
            raise ValueError(
                f"The tensor {name!r} in {str(folder)!r} must have shape "
                f"{list(expected)} for the sizes its config.json gives; the "
                "config does not match the weights (edited or corrupt). "
                f"Received: shape={list(shape)}"
            )
    complete = len(present) == layers and max(present, default=-1) < layers
    if present and not complete:
        raise ValueError(
            f"config.json in {str(folder)!r} gives num_hidden_layers="
            f"{layers}, but the weights hold layers {min(present)} to "
            f"{max(present)} ({len(present)} layers); the config does not "
            f"match the weights. Received: num_hidden_layers={layers}"
        )


def hf_load_arguments(folder):
    """Backbone arguments keras-hub's HF loader misses for a checkpoint.

    The folder is checked first (`check_hf_folder`): these arguments come
    from its `config.json`, and keras-hub's loader, which runs next, trusts
    that file.

    Args:
        folder: str or path, a Hugging Face checkpoint folder.

    Returns:
        dict, from the family record whose `model_type` the folder's
        `config.json` names (empty when none applies).

    Raises:
        ValueError: for a folder that fails `check_hf_folder`.
    """
    config = check_hf_folder(folder)
    for family in FAMILIES.values():
        export = family.hf_export
        if export is not None and export.model_type == config.get("model_type"):
            if family.hf_load_arguments is not None:
                return family.hf_load_arguments(config)
    return {}
