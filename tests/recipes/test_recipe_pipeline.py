"""The pipeline end to end on a tiny config, killed and resumed."""

import json
import pathlib
import shutil
import subprocess
import sys
from unittest import mock

import keras
import pytest
from pipeline_child import KILLED
from pipeline_child import TINY
from test_tensorboard import read_scalars

from keras_mathft import data
from keras_mathft import models
from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import check_backend
from keras_mathft.recipes import pipeline_stages
from keras_mathft.recipes import run_pipeline
from keras_mathft.recipes import stage_names

CHILD = pathlib.Path(__file__).with_name("pipeline_child.py")


def _start_child(run_dir, mode="run", cpu=0):
    """Starts the TINY pipeline in a fresh process, on one CPU."""
    log = run_dir.with_name(f"{run_dir.name}.{mode}.log").open("w")
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(run_dir), mode, str(cpu)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    child.log = log
    return child


def _exit_code(child):
    child.wait(timeout=600)
    child.log.close()
    output = pathlib.Path(child.log.name).read_text()
    assert child.returncode in (0, KILLED), output[-3000:]
    return child.returncode


def _report_files(run_dir):
    report = run_dir / "report"
    return {
        "report.json": json.loads((report / "report.json").read_text()),
        "report.md": (report / "report.md").read_text(),
    }


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_report(tmp_path):
    # Every run is a fresh process, as for a user whose job was killed. An
    # uninterrupted run and one killed right after the first checkpoint of
    # SSFT run side by side, each on its own CPU when there are two.
    straight = tmp_path / "straight"
    resumed = tmp_path / "resumed"
    first = _start_child(straight, cpu=0)
    killed = _start_child(resumed, "kill_after_checkpoint", cpu=1)
    assert _exit_code(first) == 0
    report = json.loads((straight / "report" / "report.json").read_text())
    # The report holds every metric and re-ranker, and the files exist.
    overall = report["overall"]
    assert set(overall["methods"]) == {
        "maj1",
        "rr_all",
        "rr_top_k",
        "weighted_rr",
        "weighted_rr_top_k",
        "maj1_top_n",
    }
    assert {"pass@1", "maj1@4", "maj2@4", "pass@k"} <= set(overall)
    assert report["num_samples"] == 4 and report["num_problems"] == 6
    stages = report["recipe"]["stages"]
    assert stages["evaluator"]["trained"] is True
    assert len(stages["ssft"]["losses"]) == 2
    assert (straight / "report" / "accuracy_vs_n.png").stat().st_size > 0
    for name in stage_names(RecipeConfig(**TINY)):
        assert (straight / name / "DONE.json").exists()

    # The killed run stopped inside SSFT...
    assert _exit_code(killed) == KILLED
    state = json.loads(
        (resumed / "ssft/checkpoint/generation/state.json").read_text()
    )
    assert state["epochs_done"] == 1
    assert not (resumed / "ssft" / "DONE.json").exists()
    # ...restarted and stopped at a stage boundary, then finished.
    assert _exit_code(_start_child(resumed, "stop_after=evaluator_data")) == 0
    assert (resumed / "evaluator_data" / "DONE.json").exists()
    assert not (resumed / "evaluator" / "DONE.json").exists()
    assert _exit_code(_start_child(resumed)) == 0
    # The same report, training losses included.
    assert _report_files(resumed) == _report_files(straight)
    # A finished run is only read back.
    config = RecipeConfig(run_dir=str(resumed), **TINY)
    assert run_pipeline(config, verbose=0) == report


@pytest.mark.slow
@pytest.mark.skipif(
    keras.config.backend() != "jax",
    reason="the TensorFlow-free path is the JAX backend's",
)
def test_jax_run_without_tensorflow_gives_the_same_report(tmp_path):
    # A JAX-only machine: in one child every TensorFlow import fails (a
    # meta-path finder raises), the other is a normal JAX run; both pinned
    # to one CPU each. The recipe runs, never imports TensorFlow (the
    # child checks `sys.modules`) and gives the normal run's report.
    normal = tmp_path / "normal"
    blocked = tmp_path / "no_tensorflow"
    first = _start_child(normal, cpu=0)
    second = _start_child(blocked, "no_tensorflow", cpu=1)
    assert _exit_code(first) == 0
    assert _exit_code(second) == 0
    assert _report_files(blocked) == _report_files(normal)


@pytest.mark.slow
def test_multitask_pipeline(tmp_path, capsys):
    # The first stages of a plain run, copied into the multi-task run's
    # directory, are reused: they do not depend on the multi-task settings.
    settings = {**TINY, "sft_steps": 2}
    plain = RecipeConfig(run_dir=str(tmp_path / "plain"), **settings)
    run_pipeline(plain, verbose=0, stop_after="evaluator_data")
    shared = ("ssft", "train_samples", "evaluator_data")
    for stage in shared:
        shutil.copytree(tmp_path / "plain" / stage, tmp_path / "run" / stage)
    markers = {s: _marker(tmp_path / "run", s) for s in shared}
    config = RecipeConfig(
        run_dir=str(tmp_path / "run"),
        tensorboard=str(tmp_path / "tb"),
        multitask=True,
        **settings,
    )
    assert stage_names(config)[3:5] == [
        "multitask_evaluation",
        "multitask_generation",
    ]
    report = run_pipeline(config, verbose=1)
    assert {s: _marker(tmp_path / "run", s) for s in shared} == markers
    recipe = report["recipe"]
    assert recipe["generator"] == recipe["evaluator"]
    assert recipe["generator"] == "multitask_generation"
    assert recipe["stages"]["multitask_evaluation"]["trained"] is True
    assert recipe["config"]["multitask"] is True
    printed = capsys.readouterr().out
    assert "| Pass@1 (greedy) |" in printed and "RR.Top-2" in printed
    with pytest.raises(ValueError, match="`stop_after` must be one of"):
        run_pipeline(config, stop_after="evaluator")
    # --tensorboard: a loss per step of each stage trained in this run
    # (not the copied `ssft`), the report's scalars and curves; where a
    # run logs is not one of its settings.
    scalars = read_scalars(tmp_path / "tb")
    assert "ssft/loss" not in scalars
    assert len(scalars["multitask_evaluation/loss"]) == TINY["evaluator_steps"]
    assert scalars["report/test_sample_accuracy"][0][1] == pytest.approx(
        recipe["test_sample_accuracy"]
    )
    # AUC is undefined (None, not logged) when every sample is wrong.
    auc = [v for _, v in scalars.get("report/evaluator_auc", [])]
    assert auc == pytest.approx(
        [] if recipe["evaluator_auc"] is None else [recipe["evaluator_auc"]]
    )
    assert [s for s, _ in scalars["accuracy_vs_n/maj1"]] == [1, 2, 4]
    assert "tensorboard" not in recipe["config"]


def _marker(run_dir, stage):
    return (run_dir / stage / "DONE.json").read_bytes()


@pytest.mark.slow
def test_local_preset_with_lora(tmp_path):
    # A local keras-hub preset folder stands in for a downloaded one.
    lm = models.build_causal_lm(
        "gemma",
        data.embedded_tokenizer_proto(),
        num_layers=1,
        hidden_dim=16,
        num_heads=4,
        num_key_value_heads=1,
        intermediate_dim=32,
        head_dim=4,
        sequence_length=64,
    )
    models.MathSolver(lm).save_to_preset(str(tmp_path / "preset"))
    config = RecipeConfig(
        run_dir=str(tmp_path / "run"),
        preset=str(tmp_path / "preset"),
        lora_rank=2,
        **{**TINY, "hidden_dim": None, "num_layers": None, "sft_steps": 2},
    )
    report = run_pipeline(config, verbose=0)
    assert report["recipe"]["resolved"]["learning_rate"] == 2e-5
    assert report["recipe"]["stages"]["ssft"]["steps"] == 2
    assert report["num_problems"] == 6


@pytest.mark.parametrize("evaluator", ["outcome", "process"])
@pytest.mark.parametrize("multitask", [False, True])
def test_every_stage_reads_what_an_earlier_stage_writes(multitask, evaluator):
    config = RecipeConfig(multitask=multitask, evaluator=evaluator)
    stages = pipeline_stages(config)
    written, paths = set(), set()
    for stage in stages:
        assert set(stage.reads) <= written, stage.name
        for artifact, path in stage.writes.items():
            assert artifact not in written
            assert (stage.name, path) not in paths
            written.add(artifact)
            paths.add((stage.name, path))


def test_missing_inputs_name_the_stages_to_run_first(tmp_path):
    config = RecipeConfig(run_dir=str(tmp_path / "run"), **TINY)
    with pytest.raises(ValueError, match="Received: stages") as info:
        run_pipeline(config, stages=["test_scores"], verbose=0)
    message = str(info.value)
    # In pipeline order, and only what `test_scores` needs.
    assert (
        "['ssft', 'train_samples', 'evaluator_data', 'evaluator', " in message
    )
    assert "'test_samples'] first" in message
    assert "test_greedy" not in message.split("first")[0]
    # Checked before anything was written.
    assert not (tmp_path / "run").exists()
    # An earlier stage of the list provides the input.
    with pytest.raises(ValueError, match=r"Run \['ssft'\] first"):
        run_pipeline(config, stages=["test_greedy"], verbose=0)


def test_only_the_jax_and_tensorflow_backends_run_the_recipe(tmp_path):
    check_backend("jax")
    check_backend("tensorflow")
    for name in ("torch", "numpy", "openvino"):
        with pytest.raises(ValueError, match="jax and tensorflow backends"):
            check_backend(name)
    config = RecipeConfig(run_dir=str(tmp_path / "run"), **TINY)
    with mock.patch.object(keras.config, "backend", return_value="torch"):
        with pytest.raises(ValueError) as info:
            run_pipeline(config, verbose=0)
    assert str(info.value).endswith("Received: KERAS_BACKEND='torch'")
    # Refused before anything was written.
    assert not (tmp_path / "run").exists()
