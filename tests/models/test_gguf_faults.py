"""Damaged GGUF files, damaged caches and hostile metadata (issue 28).

Every case loaded silently wrong, or failed with a raw error, before: now
each is refused with a message that names the field, tensor or folder,
or (a damaged cache) rebuilt with a warning.
"""

import os
import pathlib
import struct

import keras
import numpy as np
import pytest

from keras_mathft import atomic_files
from keras_mathft.models import convert_gguf
from keras_mathft.models import load_gguf

gguf = pytest.importorskip("gguf")

from gguf_files import rewrite_gguf  # noqa: E402
from gguf_files import tiny_causal_lm  # noqa: E402
from gguf_files import write_gguf  # noqa: E402

TOKEN_IDS = np.array([[2, 5, 7, 11, 13, 17, 19, 23]], "int32")


def _logits(causal_lm):
    inputs = {"token_ids": TOKEN_IDS, "padding_mask": np.ones_like(TOKEN_IDS)}
    return keras.ops.convert_to_numpy(causal_lm(inputs))


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """A tiny Llama 3 file (4 query heads of 4, 1 KV head) and its model."""
    folder = tmp_path_factory.mktemp("llama")
    source = tiny_causal_lm("llama3", num_heads=4)
    return source, write_gguf(source, folder / "llama.gguf")


def _refused(path, tmp_path, match):
    with pytest.raises(ValueError, match=match):
        load_gguf(path, cache_dir=tmp_path / "cache")


def test_a_tensor_of_the_wrong_layout_is_refused(llama, tmp_path):
    _, path = llama
    reader = gguf.GGUFReader(str(path))
    tensors = {t.name: np.array(t.data) for t in reader.tensors}
    key = tensors["blk.0.attn_k.weight"]  # HF (kv * head_dim, hidden)
    transposed = rewrite_gguf(
        path, tmp_path / "t.gguf", tensors={"blk.0.attn_k.weight": key.T}
    )
    _refused(transposed, tmp_path, "'blk.0.attn_k.weight' must have shape")
    value = tensors["blk.0.attn_v.weight"]
    reshaped = rewrite_gguf(
        path,
        tmp_path / "r.gguf",
        tensors={"blk.0.attn_v.weight": value.reshape(value.shape[0] // 2, -1)},
    )
    _refused(reshaped, tmp_path, "'blk.0.attn_v.weight' must have shape")


@pytest.mark.parametrize(
    "field, value",
    [
        ("llama.attention.layer_norm_rms_epsilon", float("nan")),
        ("llama.attention.layer_norm_rms_epsilon", -1e-5),
        ("llama.attention.head_count", 0),
        ("llama.attention.head_count_kv", 3),
        ("llama.block_count", 0),
        ("llama.rope.freq_base", float("inf")),
        # Loaded silently with near-constant logits before.
        ("llama.attention.layer_norm_rms_epsilon", 1e30),
    ],
)
def test_impossible_hyperparameters_are_named(llama, tmp_path, field, value):
    _, path = llama
    bad = rewrite_gguf(path, tmp_path / "bad.gguf", fields={field: value})
    with pytest.raises(ValueError) as error:
        load_gguf(bad, cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert field.split(".", 1)[1].split(".")[-1] in message or (
        "head_count" in message
    ), message


@pytest.mark.parametrize(
    "field, value, named",
    [
        ("tokenizer.ggml.eos_token_id", 10**6, "eos_token_id"),
        ("tokenizer.ggml.bos_token_id", 2**32 - 1, "bos_token_id"),
        ("tokenizer.ggml.padding_token_id", 10**5, "padding_token_id"),
    ],
)
def test_token_ids_out_of_range_are_named(llama, tmp_path, field, value, named):
    _, path = llama
    bad = rewrite_gguf(path, tmp_path / "bad.gguf", fields={field: value})
    _refused(bad, tmp_path, f"tokenizer.ggml.{named}")


def test_short_token_lists_and_empty_vocabularies_are_named(tmp_path):
    source = tiny_causal_lm("mistral")
    path = write_gguf(source, tmp_path / "mistral.gguf")
    reader = gguf.GGUFReader(str(path))
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    scores = reader.fields["tokenizer.ggml.scores"].contents()
    short = rewrite_gguf(
        path,
        tmp_path / "a.gguf",
        fields={"tokenizer.ggml.token_type": types[:-3]},
    )
    _refused(short, tmp_path, "tokenizer.ggml.token_type")
    short = rewrite_gguf(
        path, tmp_path / "b.gguf", fields={"tokenizer.ggml.scores": scores[:5]}
    )
    _refused(short, tmp_path, "tokenizer.ggml.scores")
    unknown = rewrite_gguf(
        path,
        tmp_path / "c.gguf",
        fields={"tokenizer.ggml.unknown_token_id": 999},
    )
    _refused(unknown, tmp_path, "unknown_token_id")
    width = source.backbone.hidden_dim
    empty = rewrite_gguf(
        path,
        tmp_path / "d.gguf",
        tensors={"token_embd.weight": np.zeros((0, width), "float32")},
        drop=(
            "tokenizer.ggml.tokens",
            "tokenizer.ggml.token_type",
            "tokenizer.ggml.scores",
        ),
    )
    with pytest.raises(ValueError, match="token_embd.weight|tokens"):
        load_gguf(empty, cache_dir=tmp_path / "cache")


def test_an_unknown_pretokenizer_is_refused_by_name(llama, tmp_path):
    _, path = llama
    bad = rewrite_gguf(
        path, tmp_path / "bad.gguf", fields={"tokenizer.ggml.pre": "tekken"}
    )
    _refused(bad, tmp_path, "pre-tokenizer 'tekken'")
    missing = rewrite_gguf(
        path, tmp_path / "none.gguf", drop=("tokenizer.ggml.pre",)
    )
    _refused(missing, tmp_path, "pre-tokenizer None")


def _damaged_cache(llama, tmp_path, damage):
    source, path = llama
    cache = tmp_path / "cache"
    preset = pathlib.Path(convert_gguf(path, cache_dir=cache))
    damage(preset)
    loaded = load_gguf(path, cache_dir=cache)
    np.testing.assert_allclose(
        _logits(loaded), _logits(source), rtol=1e-5, atol=1e-5
    )
    return preset


def _flip(preset):
    weights = preset / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(
        255 - b for b in data[middle : middle + 64]
    )
    weights.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [
        _flip,
        lambda p: (p / "model.weights.h5").write_bytes(
            (p / "model.weights.h5").read_bytes()[:1000]
        ),
        lambda p: (p / "model.weights.h5").write_bytes(b""),
        lambda p: os.remove(next((p / "assets").rglob("*.json"))),
        lambda p: (p / "config.json").write_text("{garbage"),
    ],
    ids=["flipped", "truncated", "emptied", "asset_deleted", "config_garbage"],
)
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(
    llama, tmp_path, damage, caplog
):
    with caplog.at_level("WARNING"):
        preset = _damaged_cache(llama, tmp_path, damage)
    assert any("is damaged" in r.getMessage() for r in caplog.records)
    # The rebuilt entry is intact: a second load warns no more.
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert convert_gguf(llama[1], cache_dir=tmp_path / "cache") == str(
            preset
        )
    assert not any("is damaged" in r.getMessage() for r in caplog.records)


def test_a_dead_writers_staging_folder_is_removed(llama, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    dead = _dead_pid()
    stale = cache / f".tmp-{dead}-abc123"
    (stale / "preset").mkdir(parents=True)
    (stale / "preset" / "model.weights.h5").write_bytes(b"x" * 1000)
    alive = cache / f".tmp-{os.getpid()}-live"
    alive.mkdir()
    convert_gguf(llama[1], cache_dir=cache)
    assert not stale.exists() and alive.exists()
    assert atomic_files.remove_stale_staging(cache, "tmp") == []


def test_a_cached_load_removes_a_dead_writers_staging_folder(llama, tmp_path):
    """A conversion killed after renaming its entry into place leaves an
    empty staging folder; the next load finds the entry and converts
    nothing, and removed nothing before."""
    cache = tmp_path / "cache"
    convert_gguf(llama[1], cache_dir=cache)
    stale = cache / f".tmp-{_dead_pid()}-abc123"
    stale.mkdir()
    convert_gguf(llama[1], cache_dir=cache)
    assert not stale.exists()


def _dead_pid():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_cache_folder_under_a_file_names_the_setting(llama, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="KERAS_MATHFT_GGUF_CACHE"):
        convert_gguf(llama[1], cache_dir=blocker / "cache")


@pytest.mark.parametrize(
    "field, value, named",
    [
        # A float where llama.cpp reads an integer, and the reverse.
        ("llama.block_count", 2.0, "an integer >= 1.*not a FLOAT32"),
        ("llama.rope.freq_base", 10000, "a float type"),
        # Read as "false" before: the start token was silently dropped.
        ("tokenizer.ggml.add_bos_token", 0, "a boolean"),
    ],
)
def test_fields_of_the_wrong_type_are_refused(
    llama, tmp_path, field, value, named
):
    _, path = llama
    bad = rewrite_gguf(
        path, tmp_path / "bad.gguf", fields={field: value}, drop=(field,)
    )
    _refused(bad, tmp_path, f"{field}.*{named}")


def _patch(path, offset, data):
    content = bytearray(path.read_bytes())
    content[offset : offset + len(data)] = data
    path.write_bytes(bytes(content))


def test_tensor_data_out_of_llama_cpp_layout_is_refused(llama, tmp_path):
    """A flipped tensor offset, or bytes after the last tensor (a damaged
    `general.alignment` moves the data start), loaded other bytes as
    weights before."""
    _, path = llama
    moved = tmp_path / "moved.gguf"
    moved.write_bytes(path.read_bytes())
    reader = gguf.GGUFReader(str(moved))
    tensor = reader.tensors[1]
    part = tensor.field.parts[5]  # the offset, relative to the data
    where = part.ctypes.data - reader.data.ctypes.data
    offset = int(part[0])
    del reader, part
    _patch(moved, where, struct.pack("<Q", offset + 32))
    _refused(moved, tmp_path, f"{tensor.name}.*starts at data offset")
    appended = tmp_path / "appended.gguf"
    appended.write_bytes(path.read_bytes() + bytes(64))
    _refused(appended, tmp_path, "64 bytes past the last tensor")


def test_sentencepiece_fields_keras_hub_would_ignore_are_refused(tmp_path):
    """Non-finite scores, a start token keras-hub's tokenizer does not
    use, and a non-boolean `add_space_prefix` all loaded before."""
    path = write_gguf(tiny_causal_lm("mistral"), tmp_path / "mistral.gguf")
    reader = gguf.GGUFReader(str(path))
    scores = reader.fields["tokenizer.ggml.scores"].contents()
    scores[7] = float("nan")
    nan = rewrite_gguf(
        path, tmp_path / "a.gguf", fields={"tokenizer.ggml.scores": scores}
    )
    _refused(nan, tmp_path, "tokenizer.ggml.scores.*scores\\[7\\]=nan")
    bos = rewrite_gguf(
        path, tmp_path / "b.gguf", fields={"tokenizer.ggml.bos_token_id": 2}
    )
    _refused(bos, tmp_path, "'<s>' .* as its start token.*'</s>'")
    key = "tokenizer.ggml.add_space_prefix"
    prefix = rewrite_gguf(
        path, tmp_path / "c.gguf", fields={key: float("inf")}, drop=(key,)
    )
    _refused(prefix, tmp_path, f"{key}.*a boolean")


@pytest.fixture(scope="module")
def gemma3(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gemma3")
    return write_gguf(tiny_causal_lm("gemma3"), folder / "gemma3.gguf")


@pytest.mark.parametrize(
    "field, value, named",
    [
        # Overflowed keras-hub's int32 window arithmetic at the first call.
        ("gemma3.attention.sliding_window", 2**32 - 1, "sliding_window"),
        # Allocated a (2, 16, 2**32 - 1) query kernel before the shapes
        # were checked (17 GB, out of memory).
        ("gemma3.attention.key_length", 2**32 - 1, "key_length"),
        # Ignored: Gemma 3 reads only key_length.
        ("gemma3.attention.value_length", 9, "value_length=9"),
    ],
)
def test_gemma3_sizes_are_checked_before_building(
    gemma3, tmp_path, field, value, named
):
    bad = rewrite_gguf(gemma3, tmp_path / "bad.gguf", fields={field: value})
    _refused(bad, tmp_path, named)


def test_an_untied_head_a_tied_backbone_cannot_hold_is_refused(
    gemma3, tmp_path
):
    """Gemma 3's backbone ties its head; an `output.weight` was ignored."""
    reader = gguf.GGUFReader(str(gemma3))
    embedding = np.array(reader.tensors[0].data)
    assert reader.tensors[0].name == "token_embd.weight"
    same = rewrite_gguf(
        gemma3, tmp_path / "same.gguf", tensors={"output.weight": embedding}
    )
    load_gguf(same, cache_dir=tmp_path / "cache")  # The tied head itself.
    untied = rewrite_gguf(
        gemma3,
        tmp_path / "untied.gguf",
        tensors={"output.weight": embedding + 0.5},
    )
    _refused(untied, tmp_path, "output head .* other than its token")
