"""A run resumes only on the data and model files it started with."""

import json
import os

import numpy as np
import pytest
from pipeline_child import TINY

from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import check_run_directory
from keras_mathft.recipes import inputs


def _row(answer):
    return json.dumps(
        {
            "problem": "What is $1+1$?",
            "solution": f"It is $\\boxed{{{answer}}}$.",
            "answer": answer,
            "level": "Level 1",
            "type": "Algebra",
        }
    )


def _math_files(data_dir, layout):
    """A data folder in `layout`; returns the file whose answers we edit."""
    if layout == "jsonl":
        for split in ("train", "test"):
            (data_dir / f"{split}.jsonl").write_text(_row("2") + "\n")
        return data_dir / "train.jsonl"
    for split in ("train", "test"):
        folder = data_dir / "MATH" / split / "algebra"
        folder.mkdir(parents=True)
        (folder / "1.json").write_text(_row("2"))
    math500 = data_dir / "prm800k" / "math_splits" / "test.jsonl"
    math500.parent.mkdir(parents=True)
    math500.write_text(_row("2") + "\n")
    return data_dir / "MATH" / "train" / "algebra" / "1.json"


@pytest.mark.parametrize("layout", ["jsonl", "tree"])
def test_edited_data_files_are_refused(tmp_path, layout):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    edited = _math_files(data_dir, layout)
    config = RecipeConfig(
        run_dir=str(tmp_path / "run"),
        **{**TINY, "data": "math", "data_dir": str(data_dir)},
    )
    check_run_directory(config).close()
    # The same bytes at another time, and files the loader does not read,
    # leave the data as it was.
    os.utime(edited, (0, 0))
    (data_dir / "notes.txt").write_text("not data")
    check_run_directory(config).close()
    # Every answer edited, the size unchanged: refused with the message
    # of a changed flag, before anything runs.
    edited.write_text(edited.read_text().replace("2", "3"))
    with pytest.raises(ValueError, match="holds a run with other") as info:
        check_run_directory(config)
    assert "Received: data_digest: 'sha256:" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["folder", "gguf"])
def test_a_replaced_local_model_is_refused(tmp_path, monkeypatch, kind):
    # Files over the limit are digested from sampled windows: 1 MiB here
    # stands for the real 64 MiB.
    monkeypatch.setattr(inputs, "WHOLE_FILE_LIMIT", 2**20)
    rng = np.random.default_rng(0)
    size = 3 * 2**20 + 5
    if kind == "folder":
        preset = tmp_path / "preset"
        (preset / ".cache").mkdir(parents=True)
        (preset / "config.json").write_text("{}")
        (preset / ".cache" / "download.lock").write_text("1")
        weights = preset / "model.weights.h5"
    else:
        preset = weights = tmp_path / "model.gguf"
    weights.write_bytes(rng.bytes(size))
    config = RecipeConfig(
        run_dir=str(tmp_path / "run"),
        preset=str(preset),
        **{**TINY, "hidden_dim": None, "num_layers": None},
    )
    check_run_directory(config).close()
    # A fresh download of the same model: new times, other hidden files.
    weights.write_bytes(weights.read_bytes())
    os.utime(weights, (0, 0))
    if kind == "folder":
        (preset / ".cache" / "download.lock").write_text("2")
    check_run_directory(config).close()
    # Other weights in the same file, of the same size: refused.
    weights.write_bytes(rng.bytes(size))
    with pytest.raises(ValueError, match="preset_digest: 'sha256:"):
        check_run_directory(config)


def test_a_large_model_file_is_read_in_windows(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "WHOLE_FILE_LIMIT", 2**20)
    weights = tmp_path / "model.gguf"
    # Twice what the windows hold: reading it whole would read it all.
    weights.write_bytes(bytes(8 * 2**20))
    config = RecipeConfig(
        preset=str(weights), **{**TINY, "hidden_dim": None, "num_layers": None}
    )
    reads = []
    real_open = open

    class Counted:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def seek(self, offset):
            self.file.seek(offset)

        def read(self, size):
            data = self.file.read(size)
            reads.append(len(data))
            return data

    monkeypatch.setattr(
        inputs, "open", lambda *a: Counted(real_open(*a)), raising=False
    )
    before = inputs.input_digests(config)["preset_digest"]
    assert sum(reads) == inputs.SAMPLE_WINDOWS * inputs.WINDOW_BYTES
    # The last window ends at the last byte: a changed end is caught.
    with real_open(weights, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        f.write(b"\x01")
    assert inputs.input_digests(config)["preset_digest"] != before
