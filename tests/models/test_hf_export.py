"""HF export, checked by its consumers: transformers and keras-hub.

transformers (torch) is not installed in CI (its CUDA wheels alone are
several GB), so `hf_reference/make_hf_reference.py` loaded the exports once
with transformers and stored what it read; `hf_reference/export_models.py`
wrote those exports. Here every family is exported again and

- its tensors must hash to the stored digest, so the checkpoint is the very
  one transformers read;
- our keras log-probs must match the stored transformers log-probs on the
  stored token ids (real MATH500 text, tokenized by transformers from the
  exported tokenizer files), and our tokenizer must give those ids;
- keras-hub's own HF loader must load it back with the same logits.

Measured max |difference| of log-probs, ours against transformers (float32
both; JAX / TensorFlow): Gemma 3.3e-6 / 4.5e-6, Gemma 3 5.7e-5 / 2.6e-5,
GPT-2 8.8e-7 / 9.7e-7, Llama 3 1.2e-6 / 1.1e-6, Mistral 1.4e-6 / 1.6e-6,
Qwen 2 1.4e-6 / 1.7e-6, Qwen 3 4.6e-5 / 4.5e-5, Gemma 3 270M (4 MATH500
problems, 215 positions) 4.0e-5 / 3.6e-5. The tolerance, 5e-4, is float32
noise with room for other CPUs; a layout error (a transposed or permuted
head, a norm offset, a wrong RoPE or window setting) moves log-probs by
0.1 or more.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
from hf_models import EXPORT_FAMILIES
from hf_models import deterministic_causal_lm
from real_model import gemma3_preset

from keras_mathft.models import export_hf
from keras_mathft.models import load_causal_lm

HERE = pathlib.Path(__file__).parent / "hf_reference"
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))
from digest import tensor_digest  # noqa: E402

LOGP_ATOL = 5e-4
# keras-hub 0.32's HF Mistral loader rounds every weight to float16.
KERAS_HUB_RELOAD_ATOL = {"mistral": 2e-2}


@pytest.fixture(scope="module")
def reference():
    meta = json.loads((HERE / "hf_export_reference.json").read_text())
    return meta, dict(np.load(HERE / "hf_export_reference.npz"))


def _assert_reloads(folder, causal_lm, atol=1e-5):
    """keras-hub's own HF loader reads `folder` back to `causal_lm`."""
    reloaded = keras_hub.models.CausalLM.from_preset(str(folder))
    ids = np.array([[5, 9, 3, 7, 1, 2]], "int32")
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids, bool)}
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(inputs)),
        keras.ops.convert_to_numpy(causal_lm(inputs)),
        atol=atol,
    )


def _inputs(token_ids, lengths):
    mask = np.arange(token_ids.shape[1])[None, :] < lengths[:, None]
    return {"token_ids": token_ids, "padding_mask": mask}


def _log_probs(causal_lm, inputs):
    logits = keras.ops.convert_to_numpy(causal_lm(inputs)).astype("float64")
    top = logits.max(-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))


def _check_against_transformers(causal_lm, name, reference, atol):
    meta, arrays = reference
    lengths = arrays[f"{name}.lengths"]
    inputs = _inputs(arrays[f"{name}.token_ids"], lengths)
    ours = _log_probs(causal_lm, inputs)
    worst = 0.0
    for row, length in enumerate(lengths):
        ids = arrays[f"{name}.top_ids"][row, :length]
        expected = arrays[f"{name}.top_logp"][row, :length]
        mine = np.take_along_axis(ours[row, :length], ids, -1)
        worst = max(worst, float(np.abs(mine - expected).max()))
    print(f"{name}: max |dlogp| vs transformers {worst:.1e}")
    assert worst <= atol, (name, worst)
    return inputs


@pytest.mark.parametrize("family", EXPORT_FAMILIES)
def test_export_reads_back_in_transformers_and_keras_hub(
    family, reference, tmp_path
):
    meta = reference[0][family]
    causal_lm = deterministic_causal_lm(family)
    folder = pathlib.Path(export_hf(causal_lm, tmp_path / family))

    assert tensor_digest(folder) == meta["tensor_digest"]
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == meta["architectures"]
    assert config["model_type"] == meta["model_type"]
    generation = json.loads((folder / "generation_config.json").read_text())
    end = causal_lm.preprocessor.tokenizer.end_token_id
    assert end in np.atleast_1d(generation["eos_token_id"])
    assert generation["eos_token_id"] == meta["eos_token_id"]

    inputs = _check_against_transformers(
        causal_lm, family, reference, LOGP_ATOL
    )
    # keras-hub's own loader, and ours, which also checks that every
    # tensor is used and finite (a Gemma 1 folder was once refused).
    for reloaded in (
        keras_hub.models.CausalLM.from_preset(str(folder)),
        load_causal_lm(str(folder)),
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(reloaded(inputs)),
            keras.ops.convert_to_numpy(causal_lm(inputs)),
            atol=KERAS_HUB_RELOAD_ATOL.get(family, 1e-5),
        )


@pytest.mark.real_data
@pytest.mark.parametrize("family", EXPORT_FAMILIES + ("gemma3_270m",))
def test_exported_tokenizer_matches_transformers(
    family, reference, shared_data
):
    meta = reference[0][family]
    math500 = shared_data / "prm800k" / "math_splits" / "test.jsonl"
    problems = {
        record["unique_id"]: record["problem"]
        for record in map(json.loads, math500.open(encoding="utf-8"))
    }
    if family == "gemma3_270m":
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(gemma3_preset())
    else:
        tokenizer = deterministic_causal_lm(family).preprocessor.tokenizer
    for unique_id, expected in zip(meta["problems"], meta["text_tokens"]):
        ids = np.asarray(tokenizer(problems[unique_id])).tolist()
        assert ids[: len(expected)] == expected, unique_id


def test_lora_is_merged_and_quantized_models_are_refused(tmp_path):
    causal_lm = deterministic_causal_lm("qwen3")
    causal_lm.backbone.enable_lora(2)
    rng = np.random.default_rng(1)
    for variable in causal_lm.backbone.weights:
        if "lora_kernel_b" in variable.path:
            variable.assign(rng.normal(0, 0.5, variable.shape))
    folder = export_hf(causal_lm, tmp_path / "lora")
    _assert_reloads(folder, causal_lm)
    assert not any("lora" in name for name in _tensor_names(folder))

    quantized = deterministic_causal_lm("gemma")
    quantized.backbone.quantize("int8")
    with pytest.raises(ValueError, match="quantization modes \\['int8'\\]"):
        export_hf(quantized, tmp_path / "int8")
    with pytest.raises(ValueError, match="new or empty folder"):
        export_hf(causal_lm, tmp_path / "lora")


def test_large_exports_are_sharded(tmp_path):
    causal_lm = deterministic_causal_lm("llama3")
    folder = pathlib.Path(
        export_hf(causal_lm, tmp_path / "sharded", max_shard_bytes=8192)
    )
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and not (folder / "model.safetensors").exists()
    assert shards == sorted(p.name for p in folder.glob("*.safetensors"))
    _assert_reloads(folder, causal_lm)


def test_export_paths_are_checked_first_and_nothing_is_left(tmp_path):
    causal_lm = deterministic_causal_lm("gemma")
    # A link to an empty folder: the export fills that folder.
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert export_hf(causal_lm, tmp_path / "link") == str(tmp_path / "real")
    assert (tmp_path / "link").is_symlink()
    _assert_reloads(tmp_path / "real", causal_lm)
    # A file, a path under a file, a read-only folder: one message each,
    # naming the target, before any work.
    (tmp_path / "file").write_text("x")
    for target, problem in (
        (tmp_path / "file", "is a file"),
        (tmp_path / "file" / "out", "lies under the file"),
    ):
        with pytest.raises(ValueError, match=problem) as error:
            export_hf(causal_lm, target)
        assert str(target) in str(error.value)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # Not root.
            with pytest.raises(ValueError, match="not writable"):
                export_hf(causal_lm, locked / "out")
    finally:
        locked.chmod(0o700)
    # The staging folder of a killed export is removed by the next one.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    stale = tmp_path / f".keras_mathft-export-{dead}-x1"
    (stale / "export").mkdir(parents=True)
    (stale / "export" / "model.safetensors").write_bytes(b"0" * 4096)
    export_hf(causal_lm, tmp_path / "next")
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name[0] == ".")
    assert hidden == []


@pytest.mark.slow
def test_real_gemma3_export_matches_transformers(reference, tmp_path):
    causal_lm = keras_hub.models.CausalLM.from_preset(gemma3_preset())
    folder = export_hf(
        causal_lm, tmp_path / "gemma3_270m", max_shard_bytes=256 * 1024**2
    )
    meta = reference[0]["gemma3_270m"]
    assert tensor_digest(folder) == meta["tensor_digest"]
    assert json.loads(pathlib.Path(folder, "config.json").read_text())[
        "architectures"
    ] == ["Gemma3ForCausalLM"]
    _check_against_transformers(causal_lm, "gemma3_270m", reference, LOGP_ATOL)


def _tensor_names(folder):
    from safetensors import safe_open

    names = []
    for path in pathlib.Path(folder).glob("*.safetensors"):
        with safe_open(str(path), "np") as f:
            names += list(f.keys())
    return names


def test_cli_and_solver_export_a_gguf_file(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    from gguf_files import tiny_causal_lm
    from gguf_files import write_gguf

    from keras_mathft.models import MathSolver

    monkeypatch.setenv("KERAS_MATHFT_GGUF_CACHE", str(tmp_path / "cache"))
    source = tiny_causal_lm("llama3")
    path = write_gguf(source, tmp_path / "llama.gguf")
    command = [sys.executable, "-m", "keras_mathft.recipes.export_hf"]
    done = subprocess.run(
        [*command, f"--preset={path}", f"--output={tmp_path / 'cli'}"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RuntimeWarning" not in done.stderr
    folder = MathSolver.from_preset(str(path)).export_hf(tmp_path / "solver")
    assert tensor_digest(tmp_path / "cli") == tensor_digest(folder)
    _assert_reloads(folder, source)
    # A bad output path is one line, before the model loads.
    done = subprocess.run(
        [*command, f"--preset={path}", f"--output={path}"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("export_hf: ")
    assert "is a file" in done.stderr and "Traceback" not in done.stderr
