"""TensorBoard logs without TensorFlow (keras_mathft/recipes/tensorboard.py)."""

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from keras_mathft.recipes import LossLogger
from keras_mathft.recipes import RecipeConfig
from keras_mathft.recipes import log_report
from keras_mathft.recipes.tensorboard import SummaryWriter


def read_scalars(directory):
    """`{tag: [(step, value), ...]}` of every event file in `directory`."""
    events = EventAccumulator(str(directory))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)]
        for tag in events.Tags()["scalars"]
    }


@pytest.mark.backend_independent
def test_scalars_round_trip_through_tensorboard(tmp_path):
    writer = SummaryWriter(tmp_path)
    writer.scalar("a/loss", 2.5, step=1)
    writer.scalar("a/loss", 1.25, step=2)
    writer.close()
    assert read_scalars(tmp_path) == {"a/loss": [(1, 2.5), (2, 1.25)]}


def test_loss_logger_writes_every_step(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", loss="mse")
    x, y = np.ones((6, 2)), np.zeros((6, 1))
    history = model.fit(
        x,
        y,
        batch_size=2,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[LossLogger(str(tmp_path), "ssft")],
    )
    (losses,) = read_scalars(tmp_path).values()
    assert [step for step, _ in losses] == [1, 2, 3, 4, 5, 6]
    # The logged loss at an epoch's last step is that epoch's loss.
    np.testing.assert_allclose(
        [losses[2][1], losses[5][1]], history.history["loss"], rtol=1e-6
    )


@pytest.mark.backend_independent
def test_report_scalars_and_curves(tmp_path):
    report = {
        "overall": {"pass@1": 0.25},
        "curves": {"maj1": {"n": [1, 2, 4], "mean": [0.1, 0.2, 0.4]}},
        "recipe": {
            "evaluator_auc": 0.75,
            "evaluator_within_problem_auc": 0.625,
            # Undefined values (no right and wrong sample) are not logged.
            "evaluator_ece": None,
            "test_sample_accuracy": 0.5,
        },
    }
    log_report(str(tmp_path), report)
    scalars = read_scalars(tmp_path)
    assert scalars["report/evaluator_auc"] == [(0, 0.75)]
    assert scalars["report/evaluator_within_problem_auc"] == [(0, 0.625)]
    assert "report/evaluator_ece" not in scalars
    assert scalars["report/pass@1"] == [(0, 0.25)]
    assert [s for s, _ in scalars["accuracy_vs_n/maj1"]] == [1, 2, 4]
    np.testing.assert_allclose(
        [v for _, v in scalars["accuracy_vs_n/maj1"]], [0.1, 0.2, 0.4]
    )


@pytest.mark.backend_independent
@pytest.mark.parametrize("directory", ["", "  ", 3])
def test_bad_tensorboard_folder(directory):
    with pytest.raises(ValueError, match="`tensorboard` must name a folder"):
        RecipeConfig(tensorboard=directory)
