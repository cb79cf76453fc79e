"""Run directory: one writer, and messages (not tracebacks) for bad states."""

import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import pytest
from pipeline_child import TINY

from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import RunDirectory
from keras_mathft.recipes import check_run_directory
from keras_mathft.sampling import Sample
from keras_mathft.sampling import SamplingConfig
from keras_mathft.sampling import sample_to_store

pytestmark = pytest.mark.backend_independent

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples/train.py"
TINY_FLAGS = [f"--{k}={v}" for k, v in TINY.items()]


def _config(run_dir, **overrides):
    return RecipeConfig(run_dir=str(run_dir), **{**TINY, **overrides})


def _train(run_dir, *flags, prefix=()):
    return subprocess.run(
        [*prefix, sys.executable, str(SCRIPT), f"--run_dir={run_dir}"]
        + TINY_FLAGS
        + list(flags),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _finished_sampling_stage(run_dir):
    """A run whose `test_samples` stage is done, with a real store."""
    run = check_run_directory(_config(run_dir))

    def fake(problems):
        return [[Sample(p, j, p, None, 1) for j in range(2)] for p in problems]

    problems = [f"problem {i}" for i in range(6)]
    store = run.stage_dir("test_samples") / "store"
    sample_to_store(
        None,
        problems,
        store,
        SamplingConfig(num_samples=2),
        problems_per_shard=2,
        sample_fn=fake,
    )
    run.mark_done("test_samples", {"problems": 6})
    return run_dir / "test_samples" / "store"


def test_a_second_train_script_on_one_run_dir_is_refused(tmp_path):
    run = check_run_directory(_config(tmp_path / "run"))
    result = _train(tmp_path / "run")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "in use by another writer" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was written by the refused run.
    assert sorted(os.listdir(run.path)) == ["config.json", "writer.lock"]


def test_run_dir_on_a_file_or_under_one_gets_a_message(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ValueError, match="this path is a file") as info:
        check_run_directory(_config(file))
    assert str(info.value).endswith(f"Received: {str(file)!r}")
    with pytest.raises(ValueError, match=f"lies under {file}"):
        check_run_directory(_config(file / "run"))


def test_run_dir_on_a_read_only_file_system_gets_a_message(tmp_path):
    # A read-only bind mount in a private mount namespace, where the
    # kernel allows one (unprivileged user namespaces).
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    mount = f"mount --bind -o ro {frozen} {frozen}"
    remount = f"mount -o remount,ro,bind {frozen}"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{mount} && {remount}"],
        capture_output=True,
    )
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip("cannot mount a read-only folder here (unshare -rm)")
    command = (
        f"{mount} && {remount} && exec {sys.executable} {SCRIPT} "
        f"--run_dir={frozen / 'run'} " + " ".join(TINY_FLAGS)
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "read-only file system" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text", ["{", "[1, 2]", '"seed"', "\xff"])
def test_unreadable_config_json_gets_a_message(tmp_path, text):
    check_run_directory(_config(tmp_path))
    (tmp_path / "config.json").write_text(text, encoding="latin-1")
    with pytest.raises(ValueError, match="config.json is unreadable") as info:
        check_run_directory(_config(tmp_path))
    assert "Delete it" in str(info.value) and "Received: " in str(info.value)


@pytest.mark.parametrize(
    "text", ["{", "[]", "{}", '{"loss": 1.5}', "null", "\x00"]
)
def test_invalid_stage_marker_gets_a_message(tmp_path, text):
    run = check_run_directory(_config(tmp_path))
    run.mark_done("ssft", {"loss": 1.5})
    marker = tmp_path / "ssft" / "DONE.json"
    marker.write_text(text)
    with pytest.raises(ValueError, match="not a valid stage marker") as info:
        check_run_directory(_config(tmp_path))
    assert str(marker) in str(info.value)
    assert "Delete it to run stage 'ssft' again" in str(info.value)


def test_a_deleted_shard_of_a_finished_stage_gets_a_message(tmp_path):
    store = _finished_sampling_stage(tmp_path)
    shard = sorted(store.glob("shard-*.jsonl"))[1]
    shard.unlink()
    with pytest.raises(ValueError, match=f"{shard}, written by the finished"):
        check_run_directory(_config(tmp_path))


def test_an_altered_shard_of_a_finished_stage_gets_a_message(tmp_path):
    store = _finished_sampling_stage(tmp_path)
    shard = sorted(store.glob("shard-*.jsonl"))[1]
    data = bytearray(shard.read_bytes())
    data[10] ^= 1  # same size, other bytes
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sample store of the finished") as e:
        check_run_directory(_config(tmp_path))
    assert shard.name in str(e.value) and "checksum" in str(e.value)


def test_settings_are_kept_in_every_marker(tmp_path):
    run = check_run_directory(_config(tmp_path))
    run.mark_done("ssft", {"loss": 1.5})
    (tmp_path / "config.json").unlink()
    # Deleting config.json does not let a run with other settings reuse
    # the finished stages.
    with pytest.raises(ValueError, match="seed: 0 -> 5"):
        check_run_directory(_config(tmp_path, seed=5))
    # The same settings restore config.json and resume.
    run = check_run_directory(_config(tmp_path))
    assert run.is_done("ssft") and run.summary("ssft") == {"loss": 1.5}
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["seed"] == 0
    # Editing config.json to new settings is refused by the markers too.
    (tmp_path / "config.json").write_text(json.dumps(stored | {"seed": 5}))
    with pytest.raises(ValueError, match="Stage 'ssft' .* seed: 0 -> 5"):
        check_run_directory(_config(tmp_path, seed=5))


def test_a_copied_stage_is_checked_on_the_settings_it_depends_on(tmp_path):
    plain = check_run_directory(_config(tmp_path / "plain"))
    for stage in ("ssft", "evaluator"):
        plain.mark_done(stage)
    plain.close()
    # `ssft` does not read the multi-task settings: a multi-task run with
    # the same other settings reuses its folder.
    shutil.copytree(tmp_path / "plain" / "ssft", tmp_path / "mt" / "ssft")
    multitask = {"multitask": True, "final_sft_steps": 3}
    run = check_run_directory(_config(tmp_path / "mt", **multitask))
    assert run.is_done("ssft")
    run.close()
    # ...and keeps refusing a change it depends on.
    with pytest.raises(ValueError, match="Stage 'ssft' .* sft_steps: 4 -> 5"):
        check_run_directory(_config(tmp_path / "mt", **multitask, sft_steps=5))
    # `evaluator` depends on every setting.
    (tmp_path / "mt" / "config.json").unlink()
    shutil.copytree(
        tmp_path / "plain" / "evaluator", tmp_path / "mt" / "evaluator"
    )
    with pytest.raises(ValueError, match="'evaluator' .* multitask: False"):
        check_run_directory(_config(tmp_path / "mt", multitask=True))


def test_stage_folders_without_config_json_are_refused(tmp_path):
    run = check_run_directory(_config(tmp_path))
    (run.stage_dir("ssft") / "checkpoint").mkdir()
    (tmp_path / "config.json").unlink()
    with pytest.raises(ValueError, match="no config.json") as info:
        check_run_directory(_config(tmp_path, seed=5))
    assert "['ssft']" in str(info.value)


def test_run_directory_without_settings(tmp_path):
    with RunDirectory(tmp_path) as run:
        run.mark_done("a")
        assert run.summary("a") == {}
    # A stage marked by a run without settings cannot vouch for these.
    with pytest.raises(ValueError, match="Stage 'a' .* other settings"):
        RunDirectory(tmp_path, config={"seed": 0})


def test_a_run_is_refused_on_another_backend(tmp_path):
    run = check_run_directory(_config(tmp_path / "run"))
    run.mark_done("ssft", {"loss": 1.5})
    run.close()
    listing = sorted(os.listdir(tmp_path / "run"))
    backend = keras.config.backend()
    other = "tensorflow" if backend == "jax" else "jax"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), f"--run_dir={tmp_path / 'run'}"]
        + TINY_FLAGS,
        env=dict(os.environ, KERAS_BACKEND=other),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"backend: {backend!r} -> {other!r}" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(tmp_path / "run")) == listing


def test_a_run_directory_of_an_earlier_version_resumes_with_a_warning(
    tmp_path, caplog
):
    run = check_run_directory(_config(tmp_path))
    run.mark_done("ssft", {"loss": 1.5})
    run.close()
    # What an earlier version stored: no backend, no digests.
    later = ("backend", "data_digest", "preset_digest")
    config_path = tmp_path / "config.json"
    marker_path = tmp_path / "ssft" / "DONE.json"
    stored = json.loads(config_path.read_text())
    config_path.write_text(
        json.dumps({k: stored[k] for k in stored if k not in later})
    )
    marker = json.loads(marker_path.read_text())
    marker["config"] = {
        k: v for k, v in marker["config"].items() if k not in later
    }
    marker_path.write_text(json.dumps(marker))
    with caplog.at_level(logging.WARNING):
        check_run_directory(_config(tmp_path)).close()
    assert (
        "did not store backend, data_digest, preset_digest; resuming "
        "without checking them" in caplog.text
    )
    # They are stored from now on, and the other settings still checked,
    # in config.json and in the earlier marker.
    assert json.loads(config_path.read_text()) == stored
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        check_run_directory(_config(tmp_path)).close()
    assert "did not store" not in caplog.text
    with pytest.raises(ValueError, match="Stage 'ssft' .* seed: 0 -> 5"):
        check_run_directory(_config(tmp_path, seed=5))


def test_a_field_added_later_is_stored_only_away_from_its_old_value(
    tmp_path,
):
    # Runs of earlier versions stored no `evaluator`: they trained the
    # outcome evaluator, so they resume as such, and only as such.
    run = check_run_directory(_config(tmp_path))
    run.mark_done("evaluator", {"loss": 1.5})
    run.close()
    stored = json.loads((tmp_path / "config.json").read_text())
    assert "evaluator" not in stored
    check_run_directory(_config(tmp_path, evaluator="outcome")).close()
    with pytest.raises(ValueError, match="evaluator"):
        check_run_directory(_config(tmp_path, evaluator="process"))
    process = tmp_path / "process"
    check_run_directory(_config(process, evaluator="process")).close()
    stored = json.loads((process / "config.json").read_text())
    assert stored["evaluator"] == "process"
