"""Export a keras-hub causal LM as a Hugging Face checkpoint.

`export_hf(model, path)` writes `config.json` (with `architectures` and
`model_type`), `generation_config.json` (BOS, EOS and pad ids),
`model.safetensors` (sharded with an index above `max_shard_bytes`) and
the tokenizer files, for every family whose record has an `hf_export`
(`keras_mathft.models.families`).

Where keras-hub 0.32 has an exporter (Gemma, Gemma 3, Llama 3, Mistral,
Qwen 2, GPT-2) it is called, then fixed up: it writes no `architectures`
for most families, no generation config except for Gemma 3 (with only
one EOS id), one unsharded file, and Mistral's `head_dim` as hidden /
heads. A family keras-hub cannot export (Qwen 3) gives its `config.json`
in its record; its weights go through `keras_mathft.models.hf_weights`
and its tokenizer files are written here. A tokenizer built from a model
file (`FileBPETokenizer`) is written with its own pre-tokenizer and start
token. LoRA is merged (kernels are read through `layer.kernel`); a
quantized model is refused, because the exporters would write raw integer
kernels without their scales.

The export is written in a hidden staging folder beside `path` and
renamed into place after every file is synced, so a failed or killed
export leaves no half checkpoint; the staging folder of a killed export
is removed by the next export into the same parent folder.
"""

import json
import os
import pathlib

import keras_hub
import numpy as np

from keras_mathft import atomic_files
from keras_mathft.models.families import family_of
from keras_mathft.models.file_tokenizer import FileBPETokenizer
from keras_mathft.models.hf_weights import hf_state_dict

DEFAULT_MAX_SHARD_BYTES = 2 * 1024**3
# Staging folders are `.keras_mathft-export-<pid>-<random>` beside the
# target; any export into that folder removes those of dead writers.
_STAGING_PREFIX = "keras_mathft-export"


def export_hf(model, path, max_shard_bytes=DEFAULT_MAX_SHARD_BYTES):
    """Writes `model` as a Hugging Face checkpoint folder.

    Args:
        model: a `keras_hub.models.CausalLM` with a preprocessor, or a
            `MathSolver` (its causal LM is exported).
        path: str or `pathlib.Path`, a folder that must not exist or be
            empty (a symbolic link to such a folder fills that folder).
        max_shard_bytes: int, the largest safetensors file; bigger models
            are split into `model-0000i-of-0000n.safetensors` with a
            `model.safetensors.index.json`.

    Returns:
        str, the folder.

    Raises:
        ValueError: for a quantized model, a family without an HF export,
            a missing preprocessor, or a `path` that is not a new or empty
            folder in a writable parent (see `check_export_path`).

    Example:

    >>> export_hf(solver, "runs/gemma3_hf")  # doctest: +SKIP
    >>> transformers.AutoModelForCausalLM.from_pretrained(
    ...     "runs/gemma3_hf")  # doctest: +SKIP
    """
    causal_lm = getattr(model, "causal_lm", model)
    _check_exportable(causal_lm)
    path = check_export_path(path)
    export = family_of(causal_lm).hf_export
    with atomic_files.staging_directory(path.parent, _STAGING_PREFIX) as tmp:
        staged = tmp / "export"
        tokenizer = causal_lm.preprocessor.tokenizer
        if export.config is not None:
            _export_weights_and_tokenizer(causal_lm, export, staged)
        elif isinstance(tokenizer, FileBPETokenizer):
            # keras-hub exports only its own tokenizer classes; this one
            # writes its files itself (`_write_file_tokenizer`).
            from keras_hub.src.utils.transformers.export import hf_exporter

            staged.mkdir()
            hf_exporter.export_backbone(
                causal_lm.backbone, str(staged), True, tokenizer
            )
        else:
            causal_lm.export_to_transformers(str(staged))
        _fix_config(causal_lm, export, staged)
        _write_tokenizer_json(causal_lm, staged)
        _write_generation_config(causal_lm, staged)
        _shard(staged, max_shard_bytes)
        for file in staged.iterdir():
            file.chmod(0o644)  # Written through private temporary files.
        atomic_files.commit_directory(staged, path)
    return str(path)


def check_export_path(path):
    """Checks an export target before any work, and resolves it.

    Args:
        path: str or `pathlib.Path`.

    Returns:
        `pathlib.Path`, the folder to fill (a symbolic link resolved).

    Raises:
        ValueError: when `path` is a file, lies under a file, is a
            non-empty folder or a dangling link, or its parent cannot be
            created or written. The message names the path and the fix.
    """
    path = pathlib.Path(path).expanduser()
    if path.is_symlink():
        if not path.is_dir():
            raise _path_error(path, "is a link to nothing")
        path = path.resolve()
    if path.exists() and not path.is_dir():
        raise _path_error(path, "is a file")
    if path.is_dir() and any(path.iterdir()):
        raise _path_error(path, "is a folder that is not empty")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise _path_error(path, f"lies under the file {parent}")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise _path_error(path, f"is in {parent}, not writable")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _path_error(path, f"cannot be created ({error})") from error
    return path


def _path_error(path, problem):
    return ValueError(
        f"The export folder {str(path)!r} {problem}. Pass a new or empty "
        f"folder in a writable place. Received: path={str(path)!r}"
    )


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
    if family_of(causal_lm).hf_export is None:
        raise ValueError(
            "No Hugging Face export for this family. Received: "
            f"{type(causal_lm.backbone).__name__}"
        )
    # Keras has no public walk over nested layers (`layers` lists direct
    # children only), hence its private `_flatten_layers`.
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


def _fix_config(causal_lm, export, folder):
    backbone = causal_lm.backbone
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config.setdefault("model_type", export.model_type)
    config["architectures"] = [export.architecture]
    head_dim = getattr(backbone, "head_dim", None)
    if head_dim is not None and "head_dim" in config:
        config["head_dim"] = int(head_dim)
    if export.fix_config is not None:
        export.fix_config(config, backbone)
    if hasattr(backbone, "tie_word_embeddings"):
        config["tie_word_embeddings"] = bool(backbone.tie_word_embeddings)
    config["torch_dtype"] = _weights_dtype(folder)
    for name, token_id in _special_ids(causal_lm).items():
        if token_id is not None:
            config[f"{name}_token_id"] = token_id
    config_path.write_text(json.dumps(config, indent=2))


def _special_ids(causal_lm):
    tokenizer = causal_lm.preprocessor.tokenizer
    eos = []
    for token_id in (
        getattr(tokenizer, "end_token_id", None),
        getattr(tokenizer, "end_token2_id", None),
    ):
        if token_id is not None and token_id not in eos:
            eos.append(int(token_id))
    for token in family_of(causal_lm).turn_end_tokens:
        token_id = _token_id(tokenizer, token)
        if token_id is not None and token_id not in eos:
            eos.append(token_id)
    bos = getattr(tokenizer, "start_token_id", None)
    if isinstance(tokenizer, FileBPETokenizer) and tokenizer.bos_token:
        bos = tokenizer.token_to_id(tokenizer.bos_token)
    pad = getattr(tokenizer, "pad_token_id", None)
    return {
        "bos": None if bos is None else int(bos),
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
    tokenizer = causal_lm.preprocessor.tokenizer
    if isinstance(tokenizer, FileBPETokenizer):
        _write_file_tokenizer(tokenizer, folder)
        return
    # keras-hub writes `tokenizer.json` for Llama 3 only, but its own Qwen
    # loaders and transformers' fast tokenizers read it. Its Llama 3 builder
    # is generic byte-level BPE with keras-hub's split regex, so the export
    # tokenizes exactly as the keras model does.
    from keras_hub.src.utils.transformers.export.llama3 import (
        build_llama3_tokenizer_json,
    )

    if (folder / "tokenizer.json").exists() or not hasattr(tokenizer, "merges"):
        return
    spec = build_llama3_tokenizer_json(tokenizer)
    # Merges as pairs, the current format (keras-hub's Qwen 3 loader needs
    # it; every reader accepts it).
    spec["model"]["merges"] = [m.split(" ") for m in spec["model"]["merges"]]
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))


def _write_file_tokenizer(tokenizer, folder):
    """A model file's tokenizer: its own pre-tokenizer and start token, so
    transformers tokenizes exactly as the keras model does."""
    (folder / "tokenizer.json").write_text(
        tokenizer.tokenizer_json(with_start_token=True)
    )
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": tokenizer.bos_token,
        "eos_token": tokenizer.end_token,
        "pad_token": tokenizer.pad_token,
        "add_bos_token": tokenizer.add_start_token,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    for name in ("vocab.json", "merges.txt", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)


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


def _export_weights_and_tokenizer(causal_lm, export, folder):
    """Config, weights and tokenizer files of a family keras-hub cannot
    export."""
    from safetensors.numpy import save_file

    backbone = causal_lm.backbone
    folder.mkdir(parents=True)
    config = export.config(backbone)
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
                "tokenizer_class": export.tokenizer_class,
                "bos_token": getattr(tokenizer, "start_token", None),
                "eos_token": tokenizer.end_token,
                "pad_token": getattr(tokenizer, "pad_token", None),
                "unk_token": None,
                "add_prefix_space": False,
                "added_tokens_decoder": added,
                "model_max_length": config.get("max_position_embeddings"),
            },
            indent=2,
        )
    )


def _numpy_dtype(dtype):
    if dtype == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(dtype)
