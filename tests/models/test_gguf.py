"""GGUF import: round trips through tiny written files, caching, errors."""

import hashlib
import json

import keras
import numpy as np
import pytest

from keras_mathft.models import FAMILIES
from keras_mathft.models import MathSolver
from keras_mathft.models import convert_gguf
from keras_mathft.models import gguf as gguf_import
from keras_mathft.models import load_gguf

gguf = pytest.importorskip("gguf")

from gguf_files import TEXTS  # noqa: E402
from gguf_files import tiny_causal_lm  # noqa: E402
from gguf_files import write_gguf  # noqa: E402

ROUND_TRIP_FAMILIES = sorted(n for n, f in FAMILIES.items() if f.gguf)
TOKEN_IDS = np.array([[2, 5, 7, 11, 13, 17, 19, 23, 29, 31]], "int32")


def _logits(causal_lm, token_ids=TOKEN_IDS):
    inputs = {
        "token_ids": token_ids,
        "padding_mask": np.ones_like(token_ids, bool),
    }
    return keras.ops.convert_to_numpy(causal_lm(inputs))


@pytest.mark.parametrize("family", ROUND_TRIP_FAMILIES)
def test_round_trip_matches_source_model(family, tmp_path):
    keras.utils.set_random_seed(1)
    source = tiny_causal_lm(family)
    path = write_gguf(source, tmp_path / f"{family}.gguf")
    loaded = load_gguf(path, cache_dir=tmp_path / "cache")

    assert type(loaded) is type(source)
    np.testing.assert_allclose(
        _logits(loaded), _logits(source), rtol=1e-5, atol=1e-5
    )
    source_tokenizer = source.preprocessor.tokenizer
    loaded_tokenizer = loaded.preprocessor.tokenizer
    for text in TEXTS:
        np.testing.assert_array_equal(
            loaded_tokenizer(text), source_tokenizer(text), err_msg=text
        )
    assert loaded_tokenizer.end_token_id == source_tokenizer.end_token_id
    assert loaded_tokenizer.start_token_id == source_tokenizer.start_token_id


def test_space_run_token_survives_llama_cpp_spelling(tmp_path):
    # llama.cpp writes the user-defined "▁▁" piece as two real spaces.
    source = tiny_causal_lm("gemma3")
    path = write_gguf(source, tmp_path / "gemma3.gguf")
    reader = gguf.GGUFReader(str(path))
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    assert "  " in tokens and "\u2581\u2581" not in tokens
    loaded = load_gguf(path, cache_dir=tmp_path / "cache")
    tokenizer = loaded.preprocessor.tokenizer
    ids = np.asarray(tokenizer("a  b")).tolist()
    assert tokenizer.id_to_token(ids[1]) == "\u2581\u2581"
    assert tokenizer.token_to_id("<unk>") == 3


def test_llama_rms_epsilon_from_the_file_is_kept(tmp_path):
    # keras-hub's HF Llama converter drops `rms_norm_eps`.
    source = tiny_causal_lm("llama3", layer_norm_epsilon=1e-5)
    path = write_gguf(source, tmp_path / "llama.gguf")
    loaded = load_gguf(path, cache_dir=tmp_path / "cache")
    assert loaded.backbone.layer_norm_epsilon == pytest.approx(1e-5)
    np.testing.assert_allclose(
        _logits(loaded), _logits(source), rtol=1e-5, atol=1e-5
    )


def test_llama3_rope_scaling_comes_back_from_rope_freqs(tmp_path):
    # Llama 3.1+ files carry RoPE scaling as `rope_freqs.weight` only; two
    # of the tiny model's four frequencies fall in the smoothed band.
    scaling = dict(
        rope_frequency_adjustment_factor=8.0,
        rope_low_freq_factor=1.0,
        rope_high_freq_factor=16.0,
        rope_pretraining_sequence_length=64,
    )
    keras.utils.set_random_seed(2)
    source = tiny_causal_lm("llama3", **scaling)
    plain = tiny_causal_lm("llama3")
    plain.set_weights(source.get_weights())
    # The scaling moves these logits by ~2.5e-4, far above the round trip's
    # tolerance, so a lost or wrong scaling fails the check below.
    assert np.abs(_logits(plain) - _logits(source)).max() > 1e-4
    path = write_gguf(source, tmp_path / "llama31.gguf")
    loaded = load_gguf(path, cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(_logits(loaded), _logits(source), atol=2e-6)
    broken = write_gguf(
        plain,
        tmp_path / "broken.gguf",
        extra_tensors={"rope_freqs.weight": np.array([1.0, 3.0, 2.0, 9.0])},
    )
    with pytest.raises(ValueError, match="rope_freqs"):
        load_gguf(broken, cache_dir=tmp_path / "cache")


def test_cache_is_reused_and_dtype_applies_on_load(tmp_path, monkeypatch):
    source = tiny_causal_lm("qwen3")
    path = write_gguf(source, tmp_path / "qwen3.gguf")
    monkeypatch.setenv(gguf_import.CACHE_ENV, str(tmp_path / "env_cache"))
    preset = convert_gguf(path)
    assert preset.startswith(str(tmp_path / "env_cache"))
    info_path = tmp_path / preset / "gguf_source.json"
    source_info = json.loads(info_path.read_text())
    assert (
        source_info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    )
    assert source_info["architecture"] == "qwen3"

    def no_reading(path):
        raise AssertionError("a cached conversion must not read the file")

    monkeypatch.setattr(gguf_import, "_open_reader", no_reading)
    loaded = load_gguf(path, dtype="bfloat16")
    assert loaded.backbone.token_embedding.embeddings.dtype == "bfloat16"
    np.testing.assert_allclose(
        _logits(loaded).astype("float32"), _logits(source), atol=0.1
    )


def test_stale_cache_version_is_rebuilt(tmp_path):
    source = tiny_causal_lm("qwen")
    path = write_gguf(source, tmp_path / "qwen.gguf")
    preset = convert_gguf(path, cache_dir=tmp_path / "cache")
    info_path = tmp_path / preset / "gguf_source.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "conversion_version": 0}))
    assert convert_gguf(path, cache_dir=tmp_path / "cache") == preset
    rebuilt = json.loads(info_path.read_text())
    assert rebuilt["conversion_version"] == gguf_import.CONVERSION_VERSION


def test_math_solver_from_preset_accepts_gguf(tmp_path, monkeypatch):
    monkeypatch.setenv(gguf_import.CACHE_ENV, str(tmp_path / "cache"))
    source = tiny_causal_lm("gemma3")
    path = write_gguf(source, tmp_path / "gemma3.gguf")
    solver = MathSolver.from_preset(str(path))
    assert isinstance(solver.causal_lm, keras.Model)
    np.testing.assert_allclose(
        _logits(solver.causal_lm), _logits(source), rtol=1e-5, atol=1e-5
    )


def test_unsupported_architecture_is_named(tmp_path):
    source = tiny_causal_lm("qwen")
    path = write_gguf(source, tmp_path / "phi.gguf", architecture="phi3")
    with pytest.raises(ValueError, match="Received: 'phi3'") as error:
        load_gguf(path, cache_dir=tmp_path / "cache")
    assert "gemma3" in str(error.value) and "qwen3" in str(error.value)


def test_unknown_tensor_is_named(tmp_path):
    source = tiny_causal_lm("qwen3")
    path = write_gguf(
        source,
        tmp_path / "extra.gguf",
        extra_tensors={"rope_freqs.weight": np.ones(4)},
    )
    with pytest.raises(ValueError, match="'rope_freqs.weight'"):
        load_gguf(path, cache_dir=tmp_path / "cache")


def test_corrupt_and_missing_files_raise(tmp_path):
    source = tiny_causal_lm("qwen3")
    path = write_gguf(source, tmp_path / "good.gguf")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match="Cannot read .* as a GGUF file"):
        load_gguf(truncated, cache_dir=tmp_path / "cache")
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(ValueError, match="Cannot read .* as a GGUF file"):
        load_gguf(garbage, cache_dir=tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="Received: path="):
        load_gguf(tmp_path / "missing.gguf", cache_dir=tmp_path / "cache")


def test_missing_tensor_is_listed(tmp_path):
    source = tiny_causal_lm("qwen")
    path = tmp_path / "partial.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen2")
    reader_path = write_gguf(source, tmp_path / "full.gguf")
    reader = gguf.GGUFReader(str(reader_path))
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = field.contents()
        writer.add_key_value(
            key,
            value,
            field.types[0],
            sub_type=field.types[-1] if len(field.types) > 1 else None,
        )
    for tensor in reader.tensors:
        if tensor.name != "blk.1.attn_k.bias":
            writer.add_tensor(tensor.name, np.array(tensor.data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ValueError, match="blk.1.attn_k.bias"):
        load_gguf(path, cache_dir=tmp_path / "cache")


def test_conversion_without_tensorflow_keeps_the_tokenizer(
    tmp_path, monkeypatch
):
    # keras-hub's preprocessors raise ImportError without TensorFlow (the
    # GPU machine); the conversion then saves the tokenizer alone.
    import keras_hub

    source = tiny_causal_lm("qwen3")
    path = write_gguf(source, tmp_path / "qwen3.gguf")
    cls = keras_hub.models.Qwen3CausalLMPreprocessor

    def no_tensorflow(self, *args, **kwargs):
        raise ImportError("Qwen3CausalLMPreprocessor requires `tensorflow`.")

    with monkeypatch.context() as patch:
        patch.setattr(cls, "__init__", no_tensorflow)
        preset = convert_gguf(path, cache_dir=tmp_path / "cache")
        loaded = load_gguf(
            path, cache_dir=tmp_path / "cache", preprocessor=None
        )
    assert loaded.preprocessor is None
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    np.testing.assert_array_equal(
        tokenizer(TEXTS[0]), source.preprocessor.tokenizer(TEXTS[0])
    )
    np.testing.assert_allclose(
        _logits(loaded), _logits(source), rtol=1e-5, atol=1e-5
    )
    # With TensorFlow back, the preprocessor-less preset is rebuilt.
    assert load_gguf(path, cache_dir=tmp_path / "cache").preprocessor


def test_recipe_config_checks_a_gguf_preset(tmp_path):
    from keras_mathft.recipes import RecipeConfig
    from keras_mathft.recipes import check_files_and_packages

    # The file is looked for by the preflight, before a run starts.
    missing = RecipeConfig(preset=str(tmp_path / "missing.gguf"))
    with pytest.raises(ValueError, match="existing llama.cpp GGUF file"):
        check_files_and_packages(missing)
    path = write_gguf(tiny_causal_lm("qwen"), tmp_path / "qwen.gguf")
    config = RecipeConfig(preset=str(path))
    check_files_and_packages(config)
    assert config.model.preset == str(path)
