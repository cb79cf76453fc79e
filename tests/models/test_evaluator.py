"""The LM-as-evaluator objectives, the reward model and the phases."""

import warnings
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import generation_batch
from conftest import tiny_solver

from keras_mathft.models import EvaluatorExample
from keras_mathft.models import EvaluatorOptions
from keras_mathft.models import EvaluatorPair
from keras_mathft.models import MathRewardModel
from keras_mathft.models import MathSolver
from keras_mathft.models import TrainingPhase
from keras_mathft.models import classification_inputs
from keras_mathft.models import default_multitask_schedule
from keras_mathft.models import fit_phases
from keras_mathft.models import pair_inputs

PAIRS = [
    EvaluatorPair("1 + 1 ?", "2", "3"),
    EvaluatorPair("2 + 3 ?", "5", "4"),
]


def _scores(model):
    return model.score_solutions(
        ["1 + 1 ?", "1 + 1 ?", "2 + 3 ?", "2 + 3 ?"],
        ["2", "3", "5", "4"],
        batch_size=4,
        sequence_length=32,
    )


@pytest.mark.parametrize("loss", ["margin", "mixture"])
def test_pair_training_ranks_memorized_right_answer_first(loss):
    solver = tiny_solver("gemma")
    x = pair_inputs(solver, PAIRS, 32)
    solver.compile(
        keras.optimizers.Adam(1e-2), objective="evaluation", evaluator_loss=loss
    )
    history = solver.fit(x, epochs=5, batch_size=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    s = _scores(solver)
    assert ((s > 0) & (s < 1)).all()
    assert s[0] > s[1] and s[2] > s[3]


def test_classification_xent_training_learns_labels():
    solver = tiny_solver("gemma")
    examples = [
        EvaluatorExample(p.problem, sol, label)
        for p in PAIRS
        for sol, label in ((p.right, 1), (p.wrong, 0))
    ]
    x, y = classification_inputs(solver, examples, 32)
    solver.compile(
        keras.optimizers.Adam(1e-2),
        objective="evaluation",
        evaluator_loss="xent",
    )
    history = solver.fit(x, y, epochs=6, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    s = _scores(solver)
    assert s[0] > s[1] and s[2] > s[3]


def test_margin_on_classification_batch_raises():
    solver = tiny_solver("gemma")
    x, y = classification_inputs(
        solver, [EvaluatorExample("1 + 1 ?", "2", 1)], 16
    )
    solver.compile("adam", objective="evaluation", evaluator_loss="margin")
    with pytest.raises(ValueError, match="needs pair batches"):
        solver.fit(x, y, epochs=1, verbose=0)


def test_phases_freeze_recompile_and_trace_once_each():
    solver = tiny_solver("gemma")
    gx, gy, gw = generation_batch(solver, ["1 + 1 ?"] * 2, ["it is 2 ."] * 2)
    px = pair_inputs(solver, PAIRS, 32)
    datasets = {
        "generation": tf.data.Dataset.from_tensors((gx, gy, gw)).repeat(),
        "evaluation": tf.data.Dataset.from_tensors(
            (
                {"evaluation": px, "generation": gx},
                {"generation": gy},
                {"generation": gw},
            )
        ).repeat(),
    }
    generation, evaluation, regeneration = default_multitask_schedule(
        2,
        2,
        2,
        learning_rate=1e-2,
        evaluator_options=EvaluatorOptions(mle_weight=0.5),
    )
    # Phase 2 and 3 train LoRA adapters only.
    evaluation = TrainingPhase(**{**evaluation.__dict__, "trainable": "lora"})
    regeneration = TrainingPhase(
        **{**regeneration.__dict__, "trainable": "lora", "lora_rank": 2}
    )
    embeddings = solver.backbone.token_embedding.embeddings
    traces_per_compile = 1 if keras.config.backend() == "jax" else 2
    snapshots = [embeddings.numpy().copy()]
    optimizers = []
    for phase in (generation, evaluation, regeneration):
        # `compute_loss` runs only while a train step is traced.
        with mock.patch.object(
            MathSolver,
            "compute_loss",
            autospec=True,
            side_effect=MathSolver.compute_loss,
        ) as traced:
            [(_, history)] = fit_phases(solver, [phase], datasets, verbose=0)
        assert len(history.history["loss"]) == 1
        assert solver.objective == phase.objective
        assert traced.call_count == traces_per_compile
        assert int(solver.optimizer.iterations) == 2
        optimizers.append(solver.optimizer)
        snapshots.append(embeddings.numpy().copy())
    assert len({id(o) for o in optimizers}) == 3
    assert not np.array_equal(snapshots[0], snapshots[1])  # "all"
    np.testing.assert_array_equal(snapshots[1], snapshots[2])  # "lora"
    np.testing.assert_array_equal(snapshots[2], snapshots[3])
    lora = [v for v in solver.trainable_variables if "lora" in v.path]
    assert lora and len(lora) == len(solver.trainable_variables)


def test_phase_validation():
    with pytest.raises(ValueError, match="Received: objective='rank'"):
        TrainingPhase("a", objective="rank")
    solver = tiny_solver("gemma")
    with pytest.raises(ValueError, match="No dataset for phase"):
        fit_phases(solver, [TrainingPhase("a")], {"b": None})


def test_reward_model_pairs_and_round_trip(tmp_path):
    lm = tiny_solver("gemma").causal_lm
    model = MathRewardModel.from_causal_lm(lm)
    x = pair_inputs(model, PAIRS, 32)
    model.compile(keras.optimizers.Adam(1e-2), evaluator_loss="margin")
    history = model.fit(x, epochs=5, batch_size=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    s = _scores(model)
    assert ((s > 0) & (s < 1)).all() and s[0] > s[1] and s[2] > s[3]
    path = str(tmp_path / "rm.keras")
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no "compile() was not called"
        loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_scores(loaded), s, rtol=1e-6)
    # Compiled as saved: the same loss options and optimizer.
    assert loaded.evaluator_options == model.evaluator_options
    assert loaded.optimizer.__class__ is keras.optimizers.Adam
