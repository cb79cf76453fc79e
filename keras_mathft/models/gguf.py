"""Import llama.cpp GGUF checkpoints as keras-hub causal LMs.

`load_gguf(path)` returns a keras-hub `CausalLM` with its preprocessor and
tokenizer. The first call converts the file once into a keras-hub preset
directory in a cache folder, keyed by the file's sha256; later calls load
that preset and skip dequantization. `convert_gguf(path)` does the
conversion alone and returns the preset directory, which
`keras_hub.models.CausalLM.from_preset` and `MathSolver.from_preset` load.

The conversion inverts what llama.cpp's `convert_hf_to_gguf.py` did: it
dequantizes every tensor into its Hugging Face name and layout, builds the
keras-hub backbone from the file's metadata, fills it through
`keras_mathft.models.hf_weights` and rebuilds the tokenizer. (keras-hub's
own HF converters are not used: the Mistral one rounds every weight to
float16 and the Llama 3 one drops the RMS epsilon.)

- Every tensor is dequantized with `gguf.quants.dequantize` (the ggml
  project's reader). The arrays come out in HF `(out, in)` layout; the GGUF
  `shape` field lists the dimensions in reverse.
- Gemma 3: llama.cpp stores RMSNorm weights as `w + 1` (Gemma's norm
  multiplies by `1 + w`), so `w = w_gguf - 1`. No Q/K permutation. The
  output head is tied to `token_embd`.
- Llama: llama.cpp permutes the rows of Q and K (rotary halves interleaved
  per head); the import undoes it. Llama 3.1+ RoPE scaling, stored as
  `rope_freqs.weight`, becomes keras-hub's Llama 3 RoPE arguments. Files
  with a SentencePiece tokenizer (Mistral, Llama 2) become keras-hub
  Mistral models, files with a GPT-2 style BPE tokenizer (Llama 3,
  SmolLM2) Llama 3 models.
- Qwen 2 and Qwen 3: no permutation; Qwen 2 has Q/K/V biases, Qwen 3 Q/K
  norms.
- SentencePiece tokenizers are rebuilt as a proto from `tokenizer.ggml.*`:
  `<unk>` gets the UNKNOWN piece type (llama.cpp marks it CONTROL), and
  user-defined tokens made only of spaces get back their `▁` spelling
  (llama.cpp stores them as literal spaces).

Example:

>>> lm = load_gguf("gemma-3-270m-q4_k_m.gguf")  # doctest: +SKIP
>>> lm.generate("1 + 1 =", max_length=16)  # doctest: +SKIP
"""

import contextlib
import hashlib
import importlib.util
import os
import pathlib
import shutil
import tempfile

import keras_hub
import numpy as np

from keras_mathft import _files
from keras_mathft.models.families import FAMILIES
from keras_mathft.models.hf_weights import load_hf_weights

CACHE_ENV = "KERAS_MATHFT_GGUF_CACHE"
GGUF_ARCHITECTURES = ("gemma3", "llama", "qwen2", "qwen3")
# Bump when the conversion changes, so stale cached presets are rebuilt.
CONVERSION_VERSION = 1
SOURCE_FILE = "gguf_source.json"

_SPM_UNKNOWN, _SPM_CONTROL, _SPM_USER_DEFINED, _SPM_BYTE = 2, 3, 4, 6
# GGUF block tensor -> HF module name, shared by every architecture.
_BLOCK_TENSORS = {
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
# Gemma 3 has four norms per block; `ffn_norm` is the pre-FFW one there.
_GEMMA3_BLOCK_TENSORS = {
    **_BLOCK_TENSORS,
    "ffn_norm": "pre_feedforward_layernorm",
    "post_attention_norm": "post_attention_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
}
_TOP_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_DENSE_BLOCK = (
    "attn_norm",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
    "ffn_norm",
)


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
            architecture, tokenizer or tensor, or inconsistent metadata.

    Example:

    >>> lm = load_gguf("model.gguf", dtype="bfloat16")  # doctest: +SKIP
    """
    preset = convert_gguf(path, cache_dir=cache_dir)
    if dtype is not None:
        kwargs["dtype"] = dtype
    return keras_hub.models.CausalLM.from_preset(preset, **kwargs)


def convert_gguf(path, cache_dir=None):
    """Converts a GGUF file once into a cached keras-hub preset directory.

    The preset lives in `<cache_dir>/<sha256 of the file>/` and holds
    float32 weights, the tokenizer and `gguf_source.json` (the file's
    hash, name, architecture and the converter version). A later call on
    the same bytes returns the folder at once; a preset written by an
    older converter version is rebuilt. Conversions of the same file in
    several processes are serialized with a lock file.

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
    digest = _sha256(path)
    root = gguf_cache_dir(cache_dir)
    target = root / digest
    if _is_current(target):
        return str(target)
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f".{digest}.lock"):
        if _is_current(target):
            return str(target)
        with tempfile.TemporaryDirectory(dir=root, prefix=".tmp-") as tmp:
            architecture, causal_lm, tokenizer = _convert(_open_reader(path))
            staged = pathlib.Path(tmp) / "preset"
            causal_lm.save_to_preset(str(staged))
            has_preprocessor = causal_lm.preprocessor is not None
            if not has_preprocessor:
                tokenizer.save_to_preset(str(staged))
            del causal_lm
            _files.write_json_atomic(
                staged / SOURCE_FILE,
                {
                    "sha256": digest,
                    "source": path.name,
                    "architecture": architecture,
                    "conversion_version": CONVERSION_VERSION,
                    "has_preprocessor": has_preprocessor,
                },
            )
            if target.exists():
                shutil.rmtree(target)
            os.replace(staged, target)
    return str(target)


def gguf_cache_dir(cache_dir=None):
    """The folder that holds converted GGUF presets.

    Args:
        cache_dir: optional override.

    Returns:
        `pathlib.Path`: `cache_dir`, else `$KERAS_MATHFT_GGUF_CACHE`, else
        `~/.cache/keras_mathft/gguf`.
    """
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or os.path.join(
            os.path.expanduser("~"), ".cache", "keras_mathft", "gguf"
        )
    return pathlib.Path(cache_dir)


def is_gguf_path(preset):
    """Whether `preset` names a GGUF file (by its `.gguf` suffix)."""
    return isinstance(preset, (str, os.PathLike)) and str(
        preset
    ).lower().endswith(".gguf")


# === Cache ===


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_current(target):
    source = target / SOURCE_FILE
    if not source.is_file() or not (target / "config.json").is_file():
        return False
    try:
        info = _files.read_json(source)
    except (OSError, ValueError):
        return False
    # A preset converted without TensorFlow has no preprocessor; rebuild
    # it where one can be built.
    lacks_preprocessor = info.get("has_preprocessor") is False
    return info.get("conversion_version") == CONVERSION_VERSION and not (
        lacks_preprocessor and importlib.util.find_spec("tensorflow")
    )


@contextlib.contextmanager
def _file_lock(path):
    try:
        import fcntl
    except ImportError:  # Not POSIX: no cross-process lock.
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# === Reading GGUF ===


def _open_reader(path):
    import gguf

    try:
        return gguf.GGUFReader(str(path))
    except Exception as error:  # The reader raises many types on bad bytes.
        raise ValueError(
            f"Cannot read {str(path)!r} as a GGUF file ({error}). Pass an "
            "uncorrupted llama.cpp GGUF file (version 2 or 3). "
            f"Received: path={str(path)!r}"
        ) from error


class _Metadata:
    """Typed access to a GGUF file's key-value fields."""

    def __init__(self, reader):
        self._fields = reader.fields
        self.architecture = self.get("general.architecture")
        if self.architecture is None:
            raise ValueError(
                "The GGUF file has no `general.architecture` field, so it "
                "is not a model checkpoint. Received: fields="
                f"{sorted(self._fields)[:8]}"
            )

    def get(self, key, default=None):
        field = self._fields.get(key)
        if field is None:
            return default
        value = field.contents()
        return value

    def arch(self, key, default=None):
        return self.get(f"{self.architecture}.{key}", default)

    def require(self, key):
        value = self.arch(key)
        if value is None:
            raise ValueError(
                f"This {self.architecture!r} GGUF file lacks the "
                f"`{self.architecture}.{key}` field that the conversion "
                "needs; re-create the file with a current llama.cpp "
                f"`convert_hf_to_gguf.py`. Received: {key}=None"
            )
        return value


def _convert(reader):
    """Builds the float32 keras-hub causal LM a GGUF file describes."""
    meta = _Metadata(reader)
    builder = _CONFIG_BUILDERS.get(meta.architecture)
    if builder is None:
        raise ValueError(
            "Unsupported GGUF architecture. Supported `general."
            f"architecture` values: {list(GGUF_ARCHITECTURES)} (Gemma 3, "
            "the Llama family incl. Llama 3, SmolLM2 and Mistral, Qwen 2, "
            f"Qwen 3). Received: {meta.architecture!r}"
        )
    tensors = {t.name: t for t in reader.tensors}
    family, config = builder(meta, tensors)
    spec = FAMILIES[family]
    tokenizer = _build_tokenizer(meta, family, spec, config["vocabulary_size"])
    weights = _hf_weights(meta, config, tensors)
    if "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    backbone = getattr(keras_hub.models, spec.backbone)(
        **config, dtype="float32"
    )
    load_hf_weights(backbone, weights.__getitem__)
    del weights
    try:
        preprocessor = getattr(keras_hub.models, spec.preprocessor)(
            tokenizer=tokenizer
        )
    except ImportError:
        # keras-hub's preprocessors need TensorFlow; without it (the GPU
        # machine) the preset keeps the tokenizer alone.
        preprocessor = None
    causal_lm = getattr(keras_hub.models, spec.causal_lm)(
        backbone=backbone, preprocessor=preprocessor
    )
    return meta.architecture, causal_lm, tokenizer


# === Configs: GGUF metadata -> keras-hub backbone arguments ===


def _common_config(meta, tensors):
    embedding = tensors.get("token_embd.weight")
    if embedding is None:
        raise ValueError(
            f"This {meta.architecture!r} GGUF file has no "
            "`token_embd.weight` tensor. Pass a complete model file. "
            f"Received: tensors={sorted(tensors)[:6]}"
        )
    hidden = int(meta.require("embedding_length"))
    heads = int(meta.require("attention.head_count"))
    vocab, width = (int(d) for d in reversed(embedding.shape.tolist()))
    if width != hidden:
        raise ValueError(
            "`token_embd.weight` must have `embedding_length` columns. "
            f"Received: shape={[vocab, width]}, embedding_length={hidden}"
        )
    return {
        "vocabulary_size": vocab,
        "num_layers": int(meta.require("block_count")),
        "num_query_heads": heads,
        "num_key_value_heads": int(meta.arch("attention.head_count_kv", heads)),
        "hidden_dim": hidden,
        "intermediate_dim": int(meta.require("feed_forward_length")),
        "layer_norm_epsilon": float(
            meta.require("attention.layer_norm_rms_epsilon")
        ),
    }


def _head_dim(meta, config):
    return int(
        meta.arch(
            "attention.key_length",
            meta.arch(
                "rope.dimension_count",
                config["hidden_dim"] // config["num_query_heads"],
            ),
        )
    )


def _check_head_dim(family, head_dim, config):
    if head_dim * config["num_query_heads"] != config["hidden_dim"]:
        raise ValueError(
            f"keras-hub's {family} backbone needs head_dim = hidden / "
            f"heads. Received: head_dim={head_dim}, hidden="
            f"{config['hidden_dim']}, heads={config['num_query_heads']}"
        )


def _refuse_rope_scaling(meta, family):
    kind = meta.arch("rope.scaling.type")
    if kind not in (None, "none"):
        raise ValueError(
            f"The {family} conversion supports no `{kind}` RoPE scaling. "
            "Supported: files without `rope.scaling.type`. Received: "
            f"rope.scaling.type={kind!r}"
        )


def _rope_base(meta):
    return float(meta.arch("rope.freq_base", 10000.0))


def _gemma3_config(meta, tensors):
    config = _common_config(meta, tensors)
    _check_tokenizer_model(meta, ("llama",))
    head_dim = int(meta.require("attention.key_length"))
    # keras-hub's Gemma3Backbone fixes RoPE at 10k (local) / 1M (global)
    # and the 5-local-1-global layer pattern, as llama.cpp does.
    if _rope_base(meta) != 1_000_000.0:
        raise ValueError(
            "keras-hub's Gemma3Backbone fixes the global RoPE base at "
            "1,000,000. Supported: gemma3 files with rope.freq_base = 1e6. "
            f"Received: rope.freq_base={_rope_base(meta)}"
        )
    pattern = meta.arch("attention.sliding_window_pattern")
    if pattern not in (None, 6):
        raise ValueError(
            "keras-hub's Gemma3Backbone uses 5 local layers then 1 global "
            "one. Supported: attention.sliding_window_pattern = 6. "
            f"Received: {pattern!r}"
        )
    global_factor = 1.0
    kind = meta.arch("rope.scaling.type")
    if kind == "linear":
        global_factor = float(meta.require("rope.scaling.factor"))
    elif kind not in (None, "none"):
        raise ValueError(
            "Gemma 3 files may only use linear RoPE scaling. Received: "
            f"rope.scaling.type={kind!r}"
        )
    # llama.cpp scales queries by 1/sqrt(hidden / heads) for the 62-layer
    # (27B) model and by 1/sqrt(head_dim) otherwise.
    window = meta.arch("attention.sliding_window")
    config.update(
        {
            "image_size": None,
            "vision_encoder": None,
            "head_dim": head_dim,
            "query_head_dim_normalize": config["num_layers"] != 62,
            "use_query_key_norm": True,
            "use_post_attention_norm": (
                "blk.0.post_attention_norm.weight" in tensors
            ),
            "use_post_ffw_norm": "blk.0.post_ffw_norm.weight" in tensors,
            "attention_logit_soft_cap": meta.arch("attn_logit_softcapping"),
            "final_logit_soft_cap": meta.arch("final_logit_softcapping"),
            "use_sliding_window_attention": bool(window),
            "sliding_window_size": int(window or 4096),
            "global_rope_scaling_factor": global_factor,
        }
    )
    return "gemma3", config


def _llama_config(meta, tensors):
    config = _common_config(meta, tensors)
    head_dim = _head_dim(meta, config)
    config["rope_max_wavelength"] = _rope_base(meta)
    if _check_tokenizer_model(meta, ("gpt2", "llama")) == "llama":
        _refuse_rope_scaling(meta, "Mistral")
        # llama.cpp's llama architecture attends to every position.
        config.update(head_dim=head_dim, sliding_window=None)
        return "mistral", config
    _refuse_rope_scaling(meta, "Llama 3")
    _check_head_dim("Llama3", head_dim, config)
    config["tie_word_embeddings"] = "output.weight" not in tensors
    config.update(_llama3_rope_scaling(meta, tensors, head_dim))
    return "llama3", config


def _llama3_rope_scaling(meta, tensors, head_dim):
    """keras-hub's Llama 3.1 RoPE arguments from `rope_freqs.weight`.

    llama.cpp stores Llama 3.1+ RoPE scaling as one divisor per frequency:
    1 for short wavelengths, `factor` for long ones, and `1 / ((1 - s) /
    factor + s)` between, with `s = (L / wavelength - low) / (high - low)`.
    `s` is linear in `L / wavelength`, so the divisors give `factor`,
    `low` and `high` back (for `L`, the file's original context length or
    8192). The recovered settings are checked by recomputing the divisors.
    """
    tensor = tensors.get("rope_freqs.weight")
    if tensor is None:
        return {}
    import gguf

    divisors = np.asarray(
        gguf.quants.dequantize(tensor.data, tensor.tensor_type), "float64"
    ).reshape(-1)
    base = _rope_base(meta)
    inverse = base ** -(np.arange(0, head_dim, 2) / head_dim)
    length = float(meta.arch("rope.scaling.original_context_length", 8192))
    x = length * inverse / (2 * np.pi)  # L / wavelength
    factor = float(divisors.max())
    settings = None
    if divisors.shape == inverse.shape and factor > 1:
        middle = (divisors > 1 + 1e-6) & (divisors < factor * (1 - 1e-6))
        smooth = (1 / divisors - 1 / factor) / (1 - 1 / factor)
        low, high = 1.0, 4.0
        if middle.sum() >= 2:
            slope, offset = np.polyfit(x[middle], smooth[middle], 1)
            low, high = -offset / slope, (1 - offset) / slope
        elif middle.sum() == 1:
            high = low + (x[middle][0] - low) / smooth[middle][0]
        settings = {
            "rope_frequency_adjustment_factor": factor,
            "rope_low_freq_factor": float(low),
            "rope_high_freq_factor": float(high),
            "rope_pretraining_sequence_length": int(length),
        }
        s = np.clip((x - low) / (high - low), 0.0, 1.0)
        if not np.allclose(1 / ((1 - s) / factor + s), divisors, rtol=1e-4):
            settings = None
    if settings is None:
        raise ValueError(
            "`rope_freqs.weight` does not follow Llama 3.1's RoPE scaling, "
            "the only per-frequency scaling keras-hub's Llama3Backbone "
            "has. Supported: files whose rope_freqs come from a `llama3` "
            f"rope_scaling. Received: rope_freqs={divisors.round(3).tolist()}"
        )
    return settings


def _qwen2_config(meta, tensors):
    config = _common_config(meta, tensors)
    _check_tokenizer_model(meta, ("gpt2",))
    _refuse_rope_scaling(meta, "Qwen")
    _check_head_dim("Qwen", _head_dim(meta, config), config)
    config.update(
        rope_max_wavelength=_rope_base(meta),
        tie_word_embeddings="output.weight" not in tensors,
        use_sliding_window_attention=False,
    )
    return "qwen", config


def _qwen3_config(meta, tensors):
    config = _common_config(meta, tensors)
    _check_tokenizer_model(meta, ("gpt2",))
    _refuse_rope_scaling(meta, "Qwen3")
    config.update(
        head_dim=_head_dim(meta, config),
        rope_max_wavelength=_rope_base(meta),
        tie_word_embeddings="output.weight" not in tensors,
        sliding_window_size=None,
    )
    return "qwen3", config


_CONFIG_BUILDERS = {
    "gemma3": _gemma3_config,
    "llama": _llama_config,
    "qwen2": _qwen2_config,
    "qwen3": _qwen3_config,
}


def _int_or_none(value):
    return None if value is None else int(value)


def _check_tokenizer_model(meta, supported):
    model = meta.get("tokenizer.ggml.model")
    if model not in supported:
        raise ValueError(
            f"Unsupported tokenizer for a {meta.architecture!r} GGUF "
            f"file. Supported `tokenizer.ggml.model` values: "
            f"{list(supported)} ('llama' is SentencePiece, 'gpt2' "
            f"byte-level BPE). Received: {model!r}"
        )
    return model


# === Weights ===


def _hf_weights(meta, config, tensors):
    import gguf

    gemma = meta.architecture == "gemma3"
    block_names = _GEMMA3_BLOCK_TENSORS if gemma else _BLOCK_TENSORS
    required = set(_DENSE_BLOCK)
    if gemma:
        required |= {"attn_q_norm", "attn_k_norm"}
    if meta.architecture == "qwen3":
        required |= {"attn_q_norm", "attn_k_norm"}
    layers = config["num_layers"]
    expected = {"token_embd.weight", "output_norm.weight"}
    for i in range(layers):
        expected |= {f"blk.{i}.{name}.weight" for name in required}
        if meta.architecture == "qwen2":
            expected |= {f"blk.{i}.attn_{x}.bias" for x in "qkv"}
    missing = sorted(expected - set(tensors))
    if missing:
        raise ValueError(
            f"This {meta.architecture!r} GGUF file lacks tensors the "
            f"architecture needs: {missing[:8]}"
            + (" ..." if len(missing) > 8 else "")
            + f". Pass a complete model file. Received: {len(tensors)} "
            "tensors"
        )
    weights = {}
    for name, tensor in tensors.items():
        if name == "rope_freqs.weight" and meta.architecture == "llama":
            continue  # Read into the RoPE settings by `_llama_config`.
        hf_name = _hf_name(name, block_names, layers)
        if hf_name is None:
            raise ValueError(
                f"Unsupported tensor {name!r} in a {meta.architecture!r} "
                "GGUF file. Supported: token_embd, output_norm, output and "
                f"per block {sorted(block_names)} (`.weight`, and `.bias` "
                "for attn_q/k/v). Received: tensor "
                f"{name!r} of type {tensor.tensor_type.name}"
            )
        try:
            array = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except NotImplementedError as error:
            raise ValueError(
                f"Tensor {name!r} uses a quantization type that the `gguf` "
                "package cannot dequantize. Upgrade `gguf`, or re-quantize "
                "the file with a type such as Q4_K_M or Q8_0. Received: "
                f"{tensor.tensor_type.name}"
            ) from error
        shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
        array = np.asarray(array, dtype="float32").reshape(shape)
        weights[hf_name] = _to_hf_layout(meta, config, hf_name, array)
    return weights


def _hf_name(name, block_names, layers):
    if name in _TOP_TENSORS:
        return _TOP_TENSORS[name]
    parts = name.split(".")
    if len(parts) != 4 or parts[0] != "blk" or not parts[1].isdigit():
        return None
    index, module, kind = int(parts[1]), parts[2], parts[3]
    if index >= layers or module not in block_names:
        return None
    if kind == "bias" and module not in ("attn_q", "attn_k", "attn_v"):
        return None
    if kind not in ("weight", "bias"):
        return None
    return f"model.layers.{index}.{block_names[module]}.{kind}"


def _to_hf_layout(meta, config, hf_name, array):
    if meta.architecture == "gemma3" and hf_name.endswith("norm.weight"):
        return array - 1.0
    if meta.architecture == "llama":
        heads = config["num_query_heads"]
        if hf_name.endswith("q_proj.weight"):
            return _unpermute(array, heads)
        if hf_name.endswith("k_proj.weight"):
            return _unpermute(array, config["num_key_value_heads"])
    return array


def _unpermute(weight, heads):
    # llama.cpp's permutation views each head's rows as (2, head_dim / 2)
    # and swaps the two axes; this view (head_dim / 2, 2) swaps them back.
    rows = weight.shape[0]
    return (
        weight.reshape(heads, rows // heads // 2, 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


# === Tokenizers ===


def _build_tokenizer(meta, family, spec, vocabulary_size):
    tokens = list(meta.get("tokenizer.ggml.tokens") or [])
    if len(tokens) != vocabulary_size:
        raise ValueError(
            "`tokenizer.ggml.tokens` must have one entry per row of "
            f"`token_embd.weight`. Received: {len(tokens)} tokens, "
            f"{vocabulary_size} rows"
        )
    types = list(meta.get("tokenizer.ggml.token_type") or [1] * len(tokens))
    cls = getattr(keras_hub.models, spec.tokenizer)
    if meta.get("tokenizer.ggml.model") == "llama":
        proto = _sentencepiece_proto(meta, tokens, types)
        if family == "gemma3":
            vision = {"<start_of_image>", "<img>", "<end_of_image>"}
            return cls(proto, has_vision_tokens=vision <= set(tokens))
        return cls(proto)
    vocabulary = {token: index for index, token in enumerate(tokens)}
    if len(vocabulary) != len(tokens):
        raise ValueError(
            "`tokenizer.ggml.tokens` must not repeat a token. Received: "
            f"{len(tokens) - len(vocabulary)} repeats"
        )
    merges = list(meta.get("tokenizer.ggml.merges") or [])
    # Control and user-defined tokens are matched whole, never split.
    special = [
        token
        for token, kind in zip(tokens, types)
        if kind in (_SPM_CONTROL, _SPM_USER_DEFINED)
        and not token.startswith("<|reserved_special_token_")
    ]
    if family != "llama3":
        return cls(
            vocabulary=vocabulary, merges=merges, unsplittable_tokens=special
        )
    bos = _int_or_none(meta.get("tokenizer.ggml.bos_token_id"))
    eos = _int_or_none(meta.get("tokenizer.ggml.eos_token_id"))
    if bos is None or eos is None:
        raise ValueError(
            "A Llama 3 style GGUF tokenizer needs `tokenizer.ggml."
            "bos_token_id` and `eos_token_id`. Received: "
            f"bos={bos}, eos={eos}"
        )
    return cls(
        vocabulary=vocabulary,
        merges=merges,
        bos_token=tokens[bos],
        eos_token=tokens[eos],
        misc_special_tokens=set(special),
    )


def _sentencepiece_proto(meta, tokens, types):
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    scores = list(meta.get("tokenizer.ggml.scores") or [0.0] * len(tokens))
    unk_id = _int_or_none(meta.get("tokenizer.ggml.unknown_token_id"))
    if unk_id is None and "<unk>" in tokens:
        unk_id = tokens.index("<unk>")
    if unk_id is None:
        raise ValueError(
            "A SentencePiece GGUF tokenizer needs an unknown token "
            "(`tokenizer.ggml.unknown_token_id` or a `<unk>` token). "
            "Received: neither"
        )
    for index, (token, score, kind) in enumerate(zip(tokens, scores, types)):
        piece = model.pieces.add()
        # llama.cpp writes user-defined runs of spaces with real spaces;
        # SentencePiece matches them after escaping spaces to U+2581.
        if kind == _SPM_USER_DEFINED and token and not token.strip(" "):
            token = "\u2581" * len(token)
        piece.piece = token
        piece.score = float(score)
        piece.type = _SPM_UNKNOWN if index == unk_id else int(kind)
    spec = model.trainer_spec
    spec.model_type = sentencepiece_model_pb2.TrainerSpec.BPE
    spec.vocab_size = len(tokens)
    spec.byte_fallback = _SPM_BYTE in types
    spec.allow_whitespace_only_pieces = True
    for name, key in (
        ("unk", "unknown_token_id"),
        ("bos", "bos_token_id"),
        ("eos", "eos_token_id"),
        ("pad", "padding_token_id"),
    ):
        token_id = _int_or_none(meta.get(f"tokenizer.ggml.{key}"))
        if name == "unk":
            token_id = unk_id
        setattr(spec, f"{name}_id", -1 if token_id is None else token_id)
        if token_id is not None:
            setattr(spec, f"{name}_piece", model.pieces[token_id].piece)
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = bool(
        meta.get("tokenizer.ggml.add_space_prefix", True)
    )
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = True
    return model.SerializeToString()
