"""Export a keras-hub causal LM as a Hugging Face checkpoint.

`export_hf(model, path)` writes `config.json` (with `architectures` and
`model_type`), `generation_config.json` (BOS, EOS and pad ids),
`model.safetensors` (sharded with an index above `max_shard_bytes`) and
the tokenizer files, for Gemma, Gemma 3, Llama 3, Mistral, Qwen 2, Qwen 3
and GPT-2 backbones.

Where keras-hub 0.32 has an exporter (Gemma, Gemma 3, Llama 3, Mistral,
Qwen 2, GPT-2) it is called, then fixed up: it writes no `architectures`
for most families, no generation config except for Gemma 3 (with only
one EOS id), one unsharded file, and Mistral's `head_dim` as hidden /
heads. Qwen 3 has no keras-hub exporter; its weights go through
`keras_mathft.models.hf_weights` and its tokenizer files are written here.
LoRA is merged (kernels are read through `layer.kernel`); a quantized
model is refused, because the exporters would write raw integer kernels
without their scales.

Command line (a keras-hub preset directory, HF directory or `.gguf` in,
an HF folder out):

    python -m keras_mathft.models.hf_export --preset=PATH --output=DIR
"""

import json
import os
import pathlib
import tempfile

import keras_hub
import numpy as np

from keras_mathft.models.hf_weights import hf_state_dict

DEFAULT_MAX_SHARD_BYTES = 2 * 1024**3
# backbone -> (HF model_type, architecture, turn-end tokens that the
# family's HF generation configs list as extra EOS ids).
_ARCHITECTURES = {
    "GemmaBackbone": ("gemma", "GemmaForCausalLM", ("<end_of_turn>",)),
    "Gemma3Backbone": ("gemma3_text", "Gemma3ForCausalLM", ("<end_of_turn>",)),
    "Llama3Backbone": (
        "llama",
        "LlamaForCausalLM",
        ("<|end_of_text|>", "<|eot_id|>"),
    ),
    "MistralBackbone": ("mistral", "MistralForCausalLM", ()),
    "QwenBackbone": ("qwen2", "Qwen2ForCausalLM", ("<|im_end|>",)),
    "Qwen3Backbone": ("qwen3", "Qwen3ForCausalLM", ("<|endoftext|>",)),
    "GPT2Backbone": ("gpt2", "GPT2LMHeadModel", ()),
}
EXPORT_BACKBONES = tuple(sorted(_ARCHITECTURES))


def export_hf(model, path, max_shard_bytes=DEFAULT_MAX_SHARD_BYTES):
    """Writes `model` as a Hugging Face checkpoint folder.

    The folder is written next to `path` and renamed into place, so a
    failed export leaves no half checkpoint.

    Args:
        model: a `keras_hub.models.CausalLM` with a preprocessor, or a
            `MathSolver` (its causal LM is exported).
        path: str or `pathlib.Path`, a folder that must not exist or be
            empty.
        max_shard_bytes: int, the largest safetensors file; bigger models
            are split into `model-0000i-of-0000n.safetensors` with a
            `model.safetensors.index.json`.

    Returns:
        str, the folder.

    Raises:
        ValueError: for a quantized model, a backbone without an HF
            layout, a missing preprocessor or a non-empty `path`.

    Example:

    >>> export_hf(solver, "runs/gemma3_hf")  # doctest: +SKIP
    >>> transformers.AutoModelForCausalLM.from_pretrained(
    ...     "runs/gemma3_hf")  # doctest: +SKIP
    """
    causal_lm = getattr(model, "causal_lm", model)
    _check_exportable(causal_lm)
    path = pathlib.Path(path)
    if path.exists() and any(path.iterdir()):
        raise ValueError(
            "`path` must be a new or empty folder, so no old checkpoint "
            f"files mix with the export. Received: path={str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        dir=path.parent, prefix=f".{path.name}."
    ) as tmp:
        staged = pathlib.Path(tmp) / "export"
        name = type(causal_lm.backbone).__name__
        if name == "Qwen3Backbone":
            _export_qwen3(causal_lm, staged)
        else:
            causal_lm.export_to_transformers(str(staged))
        _fix_config(causal_lm, staged)
        _write_tokenizer_json(causal_lm, staged)
        _write_generation_config(causal_lm, staged)
        _shard(staged, max_shard_bytes)
        for file in staged.iterdir():
            file.chmod(0o644)  # Written through private temporary files.
        if path.exists():
            path.rmdir()
        os.replace(staged, path)
    return str(path)


def _check_exportable(causal_lm):
    if not isinstance(causal_lm, keras_hub.models.CausalLM):
        raise ValueError(
            "`model` must be a keras-hub `CausalLM` or a `MathSolver`. "
            f"Received: {type(causal_lm).__name__}"
        )
    if causal_lm.preprocessor is None:
        raise ValueError(
            "Export needs the tokenizer: give the causal LM a "
            "preprocessor. Received: preprocessor=None"
        )
    name = type(causal_lm.backbone).__name__
    if name not in _ARCHITECTURES:
        raise ValueError(
            f"No Hugging Face export for {name}. Supported backbones: "
            f"{list(EXPORT_BACKBONES)}. Received: {name}"
        )
    quantized = sorted(
        {
            layer.dtype_policy.quantization_mode
            for layer in causal_lm.backbone._flatten_layers()
            if getattr(layer.dtype_policy, "quantization_mode", None)
        }
    )
    if quantized:
        raise ValueError(
            "A quantized model cannot be exported: keras-hub's exporters "
            "would write its integer kernels without their scales. Export "
            "the float model before `quantize()`. Received: quantization "
            f"modes {quantized}"
        )


def _fix_config(causal_lm, folder):
    backbone = causal_lm.backbone
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    model_type, architecture, _ = _ARCHITECTURES[type(backbone).__name__]
    config.setdefault("model_type", model_type)
    config["architectures"] = [architecture]
    head_dim = getattr(backbone, "head_dim", None)
    if head_dim is not None and "head_dim" in config:
        config["head_dim"] = int(head_dim)
    if model_type == "qwen2":  # keras-hub's own HF loader needs these.
        config["use_sliding_window"] = backbone.use_sliding_window_attention
        config["sliding_window"] = backbone.sliding_window_size
    config["torch_dtype"] = _weights_dtype(folder)
    for name, token_id in _special_ids(causal_lm).items():
        if token_id is not None:
            config[f"{name}_token_id"] = token_id
    config_path.write_text(json.dumps(config, indent=2))


def _special_ids(causal_lm):
    tokenizer = causal_lm.preprocessor.tokenizer
    turn_ends = _ARCHITECTURES[type(causal_lm.backbone).__name__][2]
    eos = []
    for token_id in (
        getattr(tokenizer, "end_token_id", None),
        getattr(tokenizer, "end_token2_id", None),
    ):
        if token_id is not None and token_id not in eos:
            eos.append(int(token_id))
    for token in turn_ends:
        token_id = _token_id(tokenizer, token)
        if token_id is not None and token_id not in eos:
            eos.append(token_id)
    start = getattr(tokenizer, "start_token_id", None)
    pad = getattr(tokenizer, "pad_token_id", None)
    return {
        "bos": None if start is None else int(start),
        "eos": eos[0] if len(eos) == 1 else (eos or None),
        "pad": None if pad is None else int(pad),
    }


def _token_id(tokenizer, token):
    try:
        token_id = tokenizer.token_to_id(token)
    except (KeyError, ValueError):
        return None
    if token_id is None or tokenizer.id_to_token(token_id) != token:
        return None
    return int(token_id)


def _write_tokenizer_json(causal_lm, folder):
    # keras-hub writes `tokenizer.json` for Llama 3 only, but its own Qwen
    # loaders and transformers' fast tokenizers read it. Its Llama 3 builder
    # is generic byte-level BPE with keras-hub's split regex, so the export
    # tokenizes exactly as the keras model does.
    from keras_hub.src.utils.transformers.export.llama3 import (
        build_llama3_tokenizer_json,
    )

    tokenizer = causal_lm.preprocessor.tokenizer
    if (folder / "tokenizer.json").exists() or not hasattr(tokenizer, "merges"):
        return
    spec = build_llama3_tokenizer_json(tokenizer)
    # Merges as pairs, the current format (keras-hub's Qwen 3 loader needs
    # it; every reader accepts it).
    spec["model"]["merges"] = [m.split(" ") for m in spec["model"]["merges"]]
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))


def _write_generation_config(causal_lm, folder):
    ids = _special_ids(causal_lm)
    config = {
        "_from_model_config": True,
        **{f"{k}_token_id": v for k, v in ids.items() if v is not None},
    }
    (folder / "generation_config.json").write_text(json.dumps(config, indent=2))


def _weights_dtype(folder):
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "np") as f:
        name = next(iter(f.keys()))
        dtype = f.get_slice(name).get_dtype()
    return {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}.get(
        dtype, "float32"
    )


def _shard(folder, max_shard_bytes):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    single = folder / "model.safetensors"
    if single.stat().st_size <= max_shard_bytes:
        return
    with safe_open(str(single), "np") as f:
        names = list(f.keys())
        shards, current, size = [], [], 0
        for name in names:
            nbytes = f.get_tensor(name).nbytes
            if current and size + nbytes > max_shard_bytes:
                shards.append(current)
                current, size = [], 0
            current.append(name)
            size += nbytes
        shards.append(current)
        weight_map, total = {}, 0
        for index, shard in enumerate(shards, start=1):
            file_name = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
            tensors = {name: f.get_tensor(name) for name in shard}
            total += sum(t.nbytes for t in tensors.values())
            save_file(tensors, str(folder / file_name), {"format": "pt"})
            weight_map.update({name: file_name for name in shard})
    single.unlink()
    (folder / "model.safetensors.index.json").write_text(
        json.dumps(
            {"metadata": {"total_size": total}, "weight_map": weight_map},
            indent=2,
        )
    )


def _export_qwen3(causal_lm, folder):
    from safetensors.numpy import save_file

    backbone = causal_lm.backbone
    folder.mkdir(parents=True)
    config = {
        "model_type": "qwen3",
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_query_heads,
        "num_key_value_heads": backbone.num_key_value_heads,
        "head_dim": backbone.head_dim,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": "silu",
        "rms_norm_eps": backbone.layer_norm_epsilon,
        "rope_theta": backbone.rope_max_wavelength,
        "attention_bias": False,
        "tie_word_embeddings": backbone.tie_word_embeddings,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_position_embeddings": 40960,
        "use_cache": True,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    dtype = backbone.dtype_policy.variable_dtype
    state = hf_state_dict(backbone, dtype=_numpy_dtype(dtype))
    save_file(state, str(folder / "model.safetensors"), {"format": "pt"})
    tokenizer = causal_lm.preprocessor.tokenizer
    tokenizer.save_assets(str(folder))
    os.replace(folder / "vocabulary.json", folder / "vocab.json")
    added = {
        str(tokenizer.token_to_id(token)): {
            "content": token,
            "special": True,
            "normalized": False,
            "lstrip": False,
            "rstrip": False,
            "single_word": False,
        }
        for token in sorted(
            set(tokenizer.special_tokens)
            | set(getattr(tokenizer, "unsplittable_tokens", None) or ())
        )
    }
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "Qwen2Tokenizer",
                "bos_token": None,
                "eos_token": tokenizer.end_token,
                "pad_token": tokenizer.pad_token,
                "unk_token": None,
                "add_prefix_space": False,
                "added_tokens_decoder": added,
                "model_max_length": 40960,
            },
            indent=2,
        )
    )


def _numpy_dtype(dtype):
    if dtype == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(dtype)


def main(argv=None):
    """`python -m keras_mathft.models.hf_export --preset=P --output=D`."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True, help="Preset, HF or GGUF.")
    parser.add_argument("--output", required=True, help="New HF folder.")
    parser.add_argument("--dtype", default=None, help="e.g. bfloat16.")
    parser.add_argument(
        "--max_shard_bytes", type=int, default=DEFAULT_MAX_SHARD_BYTES
    )
    args = parser.parse_args(argv)
    from keras_mathft.models.solver import MathSolver

    kwargs = {} if args.dtype is None else {"dtype": args.dtype}
    solver = MathSolver.from_preset(args.preset, **kwargs)
    print(export_hf(solver, args.output, args.max_shard_bytes))


if __name__ == "__main__":
    main()
