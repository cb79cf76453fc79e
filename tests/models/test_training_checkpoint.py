"""`TrainingCheckpoint` and resumable `fit_phases`: resumed equals straight."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import generation_batch
from conftest import tiny_solver

from keras_mathft.models import EvaluatorPair
from keras_mathft.models import TrainingCheckpoint
from keras_mathft.models import TrainingPhase
from keras_mathft.models import fit_phases
from keras_mathft.models import pair_inputs

PROMPTS = ["1 + 1 ?", "2 + 3 ?", "what is 3 and 4 ?", "1 + 1 ?"]
RESPONSES = ["it is 2 .", "it is 5 .", "it is 7 .", "2"]


def _solver(dropout=0.0):
    solver = tiny_solver("gemma", dropout=dropout)
    solver.compile(optimizer=keras.optimizers.AdamW(1e-2))
    return solver


def _generation_data(solver):
    # Four distinct rows, two per batch: skipping a batch changes the data.
    return (
        tf.data.Dataset.from_tensor_slices(
            generation_batch(solver, PROMPTS, RESPONSES)
        )
        .batch(2)
        .repeat()
    )


def _weights(solver):
    return [keras.ops.convert_to_numpy(v) for v in solver.trainable_variables]


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def _fit(solver, checkpoint, epochs, initial_epoch=0):
    solver.fit(
        _generation_data(solver).skip(initial_epoch),
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=1,
        callbacks=[checkpoint],
        shuffle=False,
        verbose=0,
    )
    return _weights(solver)


def test_resumed_fit_with_dropout_equals_an_uninterrupted_one(tmp_path):
    straight = TrainingCheckpoint(tmp_path / "a")
    weights = _fit(_solver(dropout=0.5), straight, epochs=3)
    # One epoch, then a new model that restores the checkpoint and goes on.
    checkpoint = TrainingCheckpoint(tmp_path / "b")
    _fit(_solver(dropout=0.5), checkpoint, epochs=1)
    assert checkpoint.epochs_done() == 1
    resumed = _fit(_solver(dropout=0.5), checkpoint, epochs=3, initial_epoch=1)
    _assert_same(weights, resumed)
    assert checkpoint.losses() == straight.losses()
    assert len(straight.losses()) == 3


def test_checkpoint_of_another_model_is_refused(tmp_path):
    checkpoint = TrainingCheckpoint(tmp_path)
    _fit(_solver(), checkpoint, epochs=1)
    other = _solver()
    other.compile(optimizer=keras.optimizers.SGD(1e-2))  # fewer variables
    with pytest.raises(ValueError, match="does not fit this model"):
        checkpoint.restore(other)


class Killed(Exception):
    pass


class _StopAt(keras.callbacks.Callback):
    """Raises when the `count`-th epoch of the whole schedule begins."""

    def __init__(self, count):
        super().__init__()
        self.count = count

    def on_epoch_begin(self, epoch, logs=None):
        self.count -= 1
        if self.count == 0:
            raise Killed


def _schedule(solver):
    pairs = [
        EvaluatorPair("1 + 1 ?", "2", "3"),
        EvaluatorPair("2 + 3 ?", "5", "4"),
    ]
    datasets = {
        "generation": _generation_data(solver),
        "evaluation": tf.data.Dataset.from_tensor_slices(
            pair_inputs(solver, pairs, 32)
        )
        .batch(1)
        .repeat(),
    }
    phases = [
        TrainingPhase("sft", steps=1, epochs=2, learning_rate=1e-2),
        TrainingPhase(
            "verify",
            objective="evaluation",
            steps=1,
            epochs=3,
            learning_rate=1e-2,
        ),
    ]
    return phases, datasets


@pytest.mark.slow
def test_fit_phases_resumes_a_killed_schedule(tmp_path):
    solver = _solver()
    fit_phases(solver, *_schedule(solver), verbose=0, checkpoint_dir=tmp_path)
    weights = _weights(solver)

    # Killed as the 2nd epoch of phase "verify" begins (4th epoch overall).
    solver = _solver()
    with pytest.raises(Killed):
        fit_phases(
            solver,
            *_schedule(solver),
            verbose=0,
            callbacks=[_StopAt(4)],
            checkpoint_dir=tmp_path / "resumed",
        )
    verify = TrainingCheckpoint(tmp_path / "resumed" / "verify")
    assert verify.epochs_done() == 1
    # A new model: "sft" is loaded, "verify" goes on from its epoch 1.
    solver = _solver()
    histories = fit_phases(
        solver,
        *_schedule(solver),
        verbose=0,
        checkpoint_dir=tmp_path / "resumed",
    )
    assert histories[0][1] is None
    assert len(histories[1][1].history["loss"]) == 2
    _assert_same(weights, _weights(solver))
    assert verify.losses() == TrainingCheckpoint(tmp_path / "verify").losses()


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after the kill point runs."""


_MUTATIONS = ("replace", "rename", "unlink", "remove", "rmdir")


def _count_or_kill(monkeypatch, kill_after=None):
    """Counts file-system commits (renames, deletions) of every save.

    With `kill_after=n`, the process "dies" right after the n-th one, as a
    SIGKILL between two writes would leave the files.
    """
    events = []
    for name in _MUTATIONS:
        real = getattr(os, name)

        def mutate(*args, _real=real, **kwargs):
            _real(*args, **kwargs)
            events.append(args[0])
            if len(events) == kill_after:
                raise _Killed

        monkeypatch.setattr(os, name, mutate)
    return events


def _dense_model():
    # The callback is model-agnostic; a small dense model with dropout
    # keeps the many fits of the kill test fast.
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dropout(0.5)]
        + [keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.AdamW(1e-2), loss="mse")
    return model


def _fit_dense(model, checkpoint, epochs, initial_epoch=0):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
    model.fit(
        data.skip(2 * initial_epoch),
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=2,
        callbacks=[checkpoint],
        verbose=0,
    )


def _state(model, checkpoint):
    return (
        _weights(model),
        checkpoint.losses(),
        int(model.optimizer.iterations),
    )


def test_a_kill_at_any_write_point_resumes_identically(tmp_path, monkeypatch):
    straight = TrainingCheckpoint(tmp_path / "straight")
    model = _dense_model()
    _fit_dense(model, straight, epochs=1)
    with monkeypatch.context() as patch:
        events = _count_or_kill(patch)
        _fit_dense(model, straight, epochs=3, initial_epoch=1)
    expected = _state(model, straight)
    per_save = len(events) // 2
    assert per_save, "a save changes files"
    # Every write point of the second save, the first one already done.
    for kill_after in range(1, per_save + 1):
        checkpoint = TrainingCheckpoint(tmp_path / f"killed_{kill_after}")
        _fit_dense(_dense_model(), checkpoint, epochs=1)
        with monkeypatch.context() as patch:
            _count_or_kill(patch, kill_after)
            with pytest.raises(_Killed):
                _fit_dense(_dense_model(), checkpoint, 3, initial_epoch=1)
        # A new process resumes from whatever the kill left.
        done = TrainingCheckpoint(checkpoint.directory).epochs_done()
        model = _dense_model()
        _fit_dense(model, checkpoint, epochs=3, initial_epoch=done)
        got = _state(model, checkpoint)
        _assert_same(expected[0], got[0])
        assert got[1:] == expected[1:], f"killed after write {kill_after}"


def test_checkpoint_arrays_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    _fit_dense(_dense_model(), TrainingCheckpoint(tmp_path), epochs=1)
    assert any(".npz" in path for path in synced), synced


def test_a_damaged_arrays_file_is_refused(tmp_path):
    checkpoint = TrainingCheckpoint(tmp_path)
    _fit_dense(_dense_model(), checkpoint, epochs=1)
    [arrays] = tmp_path.glob("arrays-*.npz")
    arrays.write_bytes(arrays.read_bytes()[:-10])
    with pytest.raises(ValueError, match="is damaged.*Received: arrays-"):
        checkpoint.restore(_dense_model())
