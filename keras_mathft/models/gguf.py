"""Import llama.cpp GGUF checkpoints as keras-hub causal LMs.

`load_gguf(path)` returns a keras-hub `CausalLM` with its preprocessor and
tokenizer. The first call converts the file once into a keras-hub preset
directory in a cache folder, keyed by the file's sha256; later calls load
that preset, after checking it (`gguf_cache`). `convert_gguf(path)` does
the conversion alone and returns the preset directory, which
`keras_hub.models.CausalLM.from_preset` and `MathSolver.from_preset` load.

The conversion inverts what llama.cpp's `convert_hf_to_gguf.py` did, from
the family record of the file's architecture (`families`): the record's
config builder turns the metadata into the backbone's arguments, every
tensor's shape is checked against the shape that config implies before
it is dequantized (`gguf.quants.dequantize`, the ggml project's reader)
into its Hugging Face name and layout, the record undoes llama.cpp's
transforms (norm offsets, Q/K permutations), and `hf_weights` fills the
backbone. The tokenizer comes from the file (`gguf_tokenizer`). keras-
hub's own HF converters are not used: the Mistral one rounds every weight
to float16 and the Llama 3 one drops the RMS epsilon.

Example:

>>> lm = load_gguf("gemma-3-270m-q4_k_m.gguf")  # doctest: +SKIP
>>> lm.generate("1 + 1 =", max_length=16)  # doctest: +SKIP
"""

import os
import pathlib

import keras_hub
import numpy as np

from keras_mathft import atomic_files
from keras_mathft.models import gguf_cache
from keras_mathft.models.families import gguf_families
from keras_mathft.models.families.gguf_config import GGUFMetadata
from keras_mathft.models.families.gguf_config import gguf_shape
from keras_mathft.models.gguf_tokenizer import build_gguf_tokenizer
from keras_mathft.models.hf_weights import hf_shape
from keras_mathft.models.hf_weights import hf_weight_map
from keras_mathft.models.hf_weights import load_hf_weights

CACHE_ENV = gguf_cache.CACHE_ENV
GGUF_ARCHITECTURES = ("gemma3", "llama", "qwen2", "qwen3")
# Bump when the conversion changes, so stale cached presets are rebuilt.
CONVERSION_VERSION = 2
_TOP_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def load_gguf(path, dtype=None, cache_dir=None, **kwargs):
    """Loads a GGUF checkpoint as a keras-hub `CausalLM`.

    Converts the file on first use (see `convert_gguf`) and then loads the
    cached keras-hub preset, so the returned model is the same on the
    first and every later call.

    Args:
        path: str or `pathlib.Path`, a `.gguf` file whose
            `general.architecture` is one of `GGUF_ARCHITECTURES`.
        dtype: optional dtype or dtype policy for the weights, e.g.
            `"float32"`, `"bfloat16"` or `"mixed_bfloat16"`. The cache
            holds float32 (the dequantized values exactly), so any dtype
            loads from the same conversion.
        cache_dir: optional folder that holds converted presets; defaults
            to `$KERAS_MATHFT_GGUF_CACHE`, else
            `~/.cache/keras_mathft/gguf`.
        **kwargs: passed to `keras_hub.models.CausalLM.from_preset`. Without
            TensorFlow, keras-hub's preprocessors cannot be built: pass
            `preprocessor=None` and load the tokenizer with
            `keras_hub.tokenizers.Tokenizer.from_preset(convert_gguf(path))`.

    Returns:
        A `keras_hub.models.CausalLM` (e.g. `Gemma3CausalLM`) with its
        preprocessor and tokenizer.

    Raises:
        FileNotFoundError: when `path` is not a file.
        ValueError: for a file that is not a readable GGUF, an unsupported
            architecture, tokenizer or tensor, a tensor of the wrong shape,
            metadata out of range, or an unusable cache folder.

    Example:

    >>> lm = load_gguf("model.gguf", dtype="bfloat16")  # doctest: +SKIP
    """
    preset = convert_gguf(path, cache_dir=cache_dir)
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        return keras_hub.models.CausalLM.from_preset(preset, **kwargs)
    except (OSError, KeyError) as error:
        raise ValueError(
            f"The cached conversion {preset} of {str(path)!r} cannot be "
            f"loaded ({error}). Delete that folder to convert the file "
            f"again. Received: path={str(path)!r}"
        ) from error


def convert_gguf(path, cache_dir=None):
    """Converts a GGUF file once into a cached keras-hub preset directory.

    The preset lives in `<cache_dir>/<sha256 of the file>/` and holds
    float32 weights, the tokenizer and `gguf_source.json` (the file's
    hash, name, architecture, the converter version and the checksums of
    the preset's files). A later call on the same bytes checks the entry
    and returns it; an entry written by an older converter version, or
    found damaged (with a warning), is rebuilt. Conversions of one file
    in several processes are serialized with a lock file; a conversion
    killed midway leaves a staging folder that the next call removes.

    Args:
        path: str or `pathlib.Path`, the `.gguf` file.
        cache_dir: optional folder for converted presets (see `load_gguf`).

    Returns:
        str, the preset directory.

    Raises:
        FileNotFoundError: when `path` is not a file.
        ValueError: as in `load_gguf`.

    Example:

    >>> preset = convert_gguf("model.gguf")  # doctest: +SKIP
    >>> keras_hub.models.CausalLM.from_preset(preset)  # doctest: +SKIP
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            "`path` must be an existing GGUF file. Received: "
            f"path={str(path)!r}"
        )
    digest = gguf_cache.file_sha256(path)
    root = gguf_cache.gguf_cache_dir(cache_dir)
    target = root / digest
    if _usable(target):
        gguf_cache.remove_stale(root)
        return str(target)
    gguf_cache.prepare_cache_root(root)
    with gguf_cache.locked(root, digest):
        if _usable(target):
            return str(target)
        with gguf_cache.staging(root) as staged:
            family, causal_lm, tokenizer = _convert(
                _open_reader(path), path.name
            )
            causal_lm.save_to_preset(str(staged))
            has_preprocessor = causal_lm.preprocessor is not None
            if not has_preprocessor:
                tokenizer.save_to_preset(str(staged))
            del causal_lm
            info = {
                "sha256": digest,
                "source": path.name,
                "architecture": family.gguf.architecture,
                "family": family.name,
                "conversion_version": CONVERSION_VERSION,
                "has_preprocessor": has_preprocessor,
            }
            gguf_cache.commit(staged, target, info)
    return str(target)


def gguf_cache_dir(cache_dir=None):
    """The folder that holds converted GGUF presets (see `gguf_cache`)."""
    return gguf_cache.gguf_cache_dir(cache_dir)


def is_gguf_path(preset):
    """Whether `preset` names a GGUF file (by its `.gguf` suffix)."""
    return isinstance(preset, (str, os.PathLike)) and str(
        preset
    ).lower().endswith(".gguf")


def _usable(target):
    """Whether a cache entry can be used as it is (damage is discarded)."""
    info, _ = atomic_files.try_read_json_object(target / gguf_cache.SOURCE_FILE)
    if info is None:
        return False
    if info.get("conversion_version") != CONVERSION_VERSION:
        return False
    # A preset converted without TensorFlow has no preprocessor; rebuild
    # it where one can be built.
    if info.get("has_preprocessor") is False and _has_tensorflow():
        return False
    problem = gguf_cache.damage(target, info)
    if problem is not None:
        gguf_cache.discard(target, problem)
        return False
    return True


def _has_tensorflow():
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def _open_reader(path):
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as error:  # The reader raises many types on bad bytes.
        raise ValueError(
            f"Cannot read {str(path)!r} as a GGUF file ({error}). Pass an "
            "uncorrupted llama.cpp GGUF file (version 2 or 3). "
            f"Received: path={str(path)!r}"
        ) from error
    _check_layout(reader, path)
    return reader


def _check_layout(reader, path):
    """Tensor data laid out as llama.cpp writes and requires it.

    `gguf.GGUFReader` reads each tensor where its offset points. llama.cpp
    refuses a file unless every offset is the previous tensor's end padded
    to `general.alignment`; it (and the `gguf` writer) also pads the last
    tensor, so the data ends with the file. A damaged offset, or a damaged
    `general.alignment` that moves the start of the data, would otherwise
    load other bytes as weights without a word.
    """
    alignment = int(reader.alignment)
    expected = 0
    for tensor in reader.tensors:
        offset = int(tensor.data_offset) - int(reader.data_offset)
        if offset != expected:
            raise ValueError(
                f"The tensor {tensor.name!r} of {str(path)!r} starts at data "
                f"offset {offset}, where llama.cpp's layout puts it at "
                f"{expected}: its offset or `general.alignment` is corrupt. "
                f"Pass an uncorrupted GGUF file. Received: offset={offset}"
            )
        end = expected + int(tensor.n_bytes)
        expected += -(-int(tensor.n_bytes) // alignment) * alignment
    size = int(reader.data.size) - int(reader.data_offset)
    if reader.tensors and not end <= size <= expected:
        raise ValueError(
            f"The tensor data of {str(path)!r} takes {expected} bytes (with "
            f"{alignment}-byte padding), but {size} bytes follow the header: "
            "its `general.alignment` or a tensor size is corrupt, or bytes "
            f"were appended. Pass an uncorrupted GGUF file. Received: "
            f"{size - expected} bytes past the last tensor"
        )


def _convert(reader, source):
    """The family, float32 keras-hub causal LM and tokenizer of a file."""
    meta = GGUFMetadata(reader, source=repr(source))
    family = _family(meta)
    tensors = {t.name: t for t in reader.tensors}
    config = family.gguf.config(meta, tensors)
    _check_blocks(meta, family, config, tensors)
    _check_sizes(config, tensors)
    tokenizer = build_gguf_tokenizer(meta, family, config["vocabulary_size"])
    backbone = getattr(keras_hub.models, family.backbone)(
        **config, dtype="float32"
    )
    weights = _hf_weights(meta, family, config, tensors, backbone)
    load_hf_weights(backbone, weights.__getitem__)
    del weights
    try:
        preprocessor = getattr(keras_hub.models, family.preprocessor)(
            tokenizer=tokenizer
        )
    except ImportError:
        # keras-hub's preprocessors need TensorFlow; without it (the GPU
        # machine) the preset keeps the tokenizer alone.
        preprocessor = None
    causal_lm = getattr(keras_hub.models, family.causal_lm)(
        backbone=backbone, preprocessor=preprocessor
    )
    return family, causal_lm, tokenizer


def _family(meta):
    candidates = gguf_families(meta.architecture)
    if not candidates:
        raise ValueError(
            "Unsupported GGUF architecture. Supported `general."
            f"architecture` values: {list(GGUF_ARCHITECTURES)} (Gemma 3, "
            "the Llama family incl. Llama 3, SmolLM2 and Mistral, Qwen 2, "
            f"Qwen 3). Received: {meta.architecture!r}"
        )
    model = meta.get("tokenizer.ggml.model")
    for family in candidates:
        if model in family.gguf.tokenizer_models:
            return family
    supported = sorted({m for f in candidates for m in f.gguf.tokenizer_models})
    raise ValueError(
        f"Unsupported tokenizer for a {meta.architecture!r} GGUF file. "
        f"Supported `tokenizer.ggml.model` values: {supported} ('llama' "
        f"is SentencePiece, 'gpt2' byte-level BPE). Received: {model!r}"
    )


def _check_blocks(meta, family, config, tensors):
    """Every block has its tensors, and there are no more blocks."""
    layers = config["num_layers"]
    present = {
        int(name.split(".")[1])
        for name in tensors
        if name.startswith("blk.") and name.split(".")[1].isdigit()
    }
    expected = {"token_embd.weight", "output_norm.weight"}
    for i in range(min(layers, len(present) + 1)):
        expected |= {f"blk.{i}.{t}.weight" for t in family.gguf.required}
        expected |= {f"blk.{i}.{t}.bias" for t in family.gguf.biased}
    missing = sorted(expected - set(tensors))
    if missing or present != set(range(layers)):
        raise ValueError(
            f"This {meta.architecture!r} GGUF file must hold "
            f"`block_count` = {layers} blocks with the tensors its "
            "architecture needs. Pass a complete, uncorrupted model file. "
            f"Received: blocks {sorted(present)[:4]}... ({len(present)}), "
            f"missing {missing[:6]}"
        )


def _check_sizes(config, tensors):
    """The first block's tensors fit the config, before anything is built.

    Every size the backbone allocates (hidden, heads x head size, key and
    value heads x head size, feed-forward) shows in the shape of the
    embedding, `attn_q`, `attn_k` or `ffn_up`, so a huge size in the
    metadata is refused here instead of allocating it. `_hf_weights`
    checks every tensor later.
    """
    hidden = config["hidden_dim"]
    head = config.get("head_dim") or hidden // config["num_query_heads"]
    expected = {
        "blk.0.attn_q.weight": (config["num_query_heads"] * head, hidden),
        "blk.0.attn_k.weight": (config["num_key_value_heads"] * head, hidden),
        "blk.0.ffn_up.weight": (config["intermediate_dim"], hidden),
    }
    for name, shape in expected.items():
        tensor = tensors.get(name)
        if tensor is not None and gguf_shape(tensor) != shape:
            raise ValueError(
                f"The tensor {name!r} must have shape {list(shape)} (HF "
                "order) for the config the file's metadata gives; the "
                "metadata does not match the tensors. Received: "
                f"shape={list(gguf_shape(tensor))}"
            )


def _hf_weights(meta, family, config, tensors, backbone):
    """Every tensor, checked, dequantized, in its HF name and layout."""
    expected = {
        name: hf_shape(tuple(variable.shape), layout)
        for variable, name, layout in hf_weight_map(backbone)
    }
    tied = "lm_head.weight" not in expected
    if tied:  # A tied head: `output`, if any, must be the embedding.
        expected["lm_head.weight"] = expected["model.embed_tokens.weight"]
    weights = {}
    for name, tensor in tensors.items():
        if name in family.gguf.side_tensors:
            continue
        hf_name = _hf_name(name, family.gguf)
        if hf_name is None or hf_name not in expected:
            raise ValueError(
                f"Unsupported tensor {name!r} in a {meta.architecture!r} "
                "GGUF file. Supported: token_embd, output_norm, output and "
                f"per block {sorted(family.gguf.block_tensors)} "
                "(`.weight`, and `.bias` for "
                f"{sorted(family.gguf.biased)}). Received: tensor {name!r} "
                f"of type {tensor.tensor_type.name}"
            )
        shape = gguf_shape(tensor)
        if shape != expected[hf_name]:
            raise ValueError(
                f"The tensor {name!r} must have shape "
                f"{list(expected[hf_name])} (HF order) for the config the "
                "file's metadata gives; a transposed or reshaped tensor "
                f"cannot load. Received: shape={list(shape)}"
            )
        array = _dequantize(name, tensor).reshape(shape)
        if family.gguf.to_hf is not None:
            array = family.gguf.to_hf(config, hf_name, array)
        weights[hf_name] = array
    embedding = weights["model.embed_tokens.weight"]
    head = weights.setdefault("lm_head.weight", embedding)
    if tied and not np.array_equal(head, embedding):
        raise ValueError(
            f"This {meta.architecture!r} GGUF file has an output head "
            "(`output.weight`) other than its token embedding, which "
            f"keras-hub's {family.backbone} cannot hold: it ties the two. "
            "Pass a file without `output.weight`, or with the embedding "
            "there. Received: an untied `output.weight`"
        )
    return weights


def _hf_name(name, gguf_format):
    if name in _TOP_TENSORS:
        return _TOP_TENSORS[name]
    parts = name.split(".")
    if len(parts) != 4 or parts[0] != "blk" or not parts[1].isdigit():
        return None
    index, module, kind = int(parts[1]), parts[2], parts[3]
    if module not in gguf_format.block_tensors:
        return None
    if kind == "bias" and module not in gguf_format.biased:
        return None
    if kind not in ("weight", "bias"):
        return None
    hf_module = gguf_format.block_tensors[module]
    return f"model.layers.{index}.{hf_module}.{kind}"


def _dequantize(name, tensor):
    import gguf

    try:
        array = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    except NotImplementedError as error:
        raise ValueError(
            f"Tensor {name!r} uses a quantization type that the `gguf` "
            "package cannot dequantize. Upgrade `gguf`, or re-quantize "
            "the file with a type such as Q4_K_M or Q8_0. Received: "
            f"{tensor.tensor_type.name}"
        ) from error
    except (ValueError, IndexError) as error:
        raise ValueError(
            f"Tensor {name!r} cannot be dequantized ({error}): its data "
            "is truncated or corrupt. Pass an uncorrupted GGUF file. "
            f"Received: {tensor.tensor_type.name} data of "
            f"{np.asarray(tensor.data).nbytes} bytes"
        ) from error
    return np.asarray(array, dtype="float32")
