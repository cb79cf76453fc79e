"""Training phases: the recipe's schedule (warmup, cosine, clipping)."""

import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import generation_batch
from conftest import tiny_solver

from keras_mathft.models import TrainingPhase
from keras_mathft.models import default_multitask_schedule
from keras_mathft.models import fit_phases


def test_phase_warms_up_then_decays_to_a_tenth_and_clips():
    phase = TrainingPhase("sft", steps=50, epochs=4, learning_rate=1e-3)
    schedule = phase.make_learning_rate()
    # 200 steps: 10 warmup steps (5%), then a cosine over the other 190.
    assert float(schedule(0)) == 0.0
    assert float(schedule(4)) == pytest.approx(4e-4)
    assert float(schedule(10)) == pytest.approx(1e-3)
    half = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 95 / 190))
    assert float(schedule(105)) == pytest.approx(1e-3 * half)
    assert float(schedule(200)) == pytest.approx(1e-4)
    optimizer = phase.make_optimizer()
    assert optimizer.clipnorm == 1.0 and optimizer.weight_decay == 0.0


def test_a_constant_phase_keeps_its_rate_and_does_not_clip():
    phase = TrainingPhase(
        "sft",
        learning_rate=1e-3,
        warmup_fraction=0.0,
        final_learning_rate_fraction=1.0,
        clipnorm=None,
    )
    assert not phase.has_schedule
    assert phase.make_learning_rate() == 1e-3
    assert phase.make_optimizer().clipnorm is None


def test_default_schedule_splits_steps_into_checkpointed_epochs():
    generation, evaluation, regeneration = default_multitask_schedule(
        10, 300, 40, learning_rate=2e-3, checkpoint_every=4
    )
    # 10 steps in epochs of at most 4: three epochs of 4 (12 steps).
    assert (generation.steps, generation.epochs) == (4, 3)
    assert (evaluation.steps, evaluation.epochs) == (4, 75)
    assert (regeneration.steps, regeneration.epochs) == (4, 10)
    assert generation.learning_rate == 2e-3
    assert evaluation.learning_rate == regeneration.learning_rate == 1e-3
    assert regeneration.dataset == "generation"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"warmup_fraction": 1.0}, "`warmup_fraction` must be in [0, 1)"),
        ({"final_learning_rate_fraction": 0.0}, "must be in (0, 1]"),
        ({"clipnorm": 0.0}, "`clipnorm` must be positive"),
    ],
)
def test_bad_schedules_raise(changes, message):
    with pytest.raises(ValueError, match="Received") as info:
        TrainingPhase("p", **changes)
    assert message in str(info.value)


def test_fit_phases_sizes_the_schedule_from_the_data():
    solver = tiny_solver("gemma")
    x, y, w = generation_batch(solver, ["1 + 1 ?"] * 4, ["it is 2 ."] * 4)
    data = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(2)
    phase = TrainingPhase("sft", epochs=2, learning_rate=1e-2)
    [(_, history)] = fit_phases(solver, [phase], {"sft": data}, verbose=0)
    # Two batches a pass, two passes: 4 steps, one of warmup.
    schedule = solver.optimizer._learning_rate
    assert (schedule.warmup_steps, schedule.decay_steps) == (1, 3)
    assert np.isfinite(history.history["loss"]).all()
    # A generator has no length: the schedule cannot be sized.
    with pytest.raises(ValueError, match="Set `steps`"):
        fit_phases(solver, [phase], {"sft": iter([(x, y, w)])}, verbose=0)
