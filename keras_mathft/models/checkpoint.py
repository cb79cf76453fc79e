"""A Keras callback that makes an interrupted `fit` resumable, exactly."""

import pathlib

import keras
import numpy as np

from keras_mathft.atomic_files import read_json
from keras_mathft.atomic_files import write_json_atomic
from keras_mathft.atomic_files import write_npz_atomic
from keras_mathft.runtime.processes import is_writer

STATE_FILE = "state.json"
# Checkpoints written before the manifest held one fixed arrays file.
_LEGACY_ARRAYS_FILE = "state.npz"


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves training state at each epoch's end; restores it at the start.

    The state is what a resumed `fit` needs to continue exactly: the
    trainable weights, the random state of dropout and the optimizer state
    (step counter included, so learning-rate schedules go on), plus the
    number of finished epochs and their losses. Frozen weights (a LoRA
    base) are not saved. On `on_train_begin` the last save is restored, so
    `fit(..., initial_epoch=checkpoint.epochs_done())` on a freshly built
    model picks up where a killed one stopped; with a repeated dataset
    (`tf.data.Dataset` or `data.ArrayBatches`), skip the batches already
    seen to get the same batches as an uninterrupted run.

    A save is one atomic commit: the arrays go to a new, synced file named
    after the epoch, then `state.json` (the manifest: epochs done, losses,
    arrays file and its size) replaces the old one; only then is the
    previous arrays file deleted. A kill at any point leaves either the
    previous save or the new one, never a mix, and `restore` checks the
    arrays file against the manifest.

    Unlike `keras.callbacks.BackupAndRestore`, the saved state is never
    deleted at the end of `fit`, so one folder per phase of a schedule
    tells which phases are finished (see `fit_phases`).

    With one process per host (JAX's distributed runtime), process 0 alone
    saves, into a folder every host sees; every process restores.

    Args:
        directory: path of the folder for this training run's state.

    Example:

    Any Keras model; run it again after a kill and it goes on:

    >>> import numpy as np
    >>> from keras_mathft import data
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("adam", loss="mse")
    >>> batches = data.make_array_dataset(
    ...     (np.ones((8, 2)), np.ones((8, 1))), batch_size=4, repeat=True)
    >>> checkpoint = TrainingCheckpoint("runs/ssft/checkpoint")
    >>> done = checkpoint.epochs_done()
    >>> history = model.fit(
    ...     batches.skip(done * 2),
    ...     epochs=3,
    ...     initial_epoch=done,
    ...     steps_per_epoch=2,
    ...     callbacks=[checkpoint],
    ...     verbose=0,
    ... )
    >>> checkpoint.epochs_done(), len(checkpoint.losses())
    (3, 3)
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.state_path = self.directory / STATE_FILE

    def _state(self):
        if self.state_path.exists():
            return read_json(self.state_path)
        return {"epochs_done": 0, "losses": []}

    def epochs_done(self):
        """The number of epochs whose end was saved."""
        return self._state()["epochs_done"]

    def losses(self):
        """The training loss of each saved epoch, in order."""
        return self._state()["losses"]

    def restore(self, model):
        """Loads the last save into `model` (compiled); no-op without one.

        Raises:
            ValueError: if the save was made by a model whose training
                variables differ in number or shape, or its arrays file
                does not match the manifest.
        """
        state = self._state()
        if not state["epochs_done"]:
            return
        arrays_path = self.directory / state.get("arrays", _LEGACY_ARRAYS_FILE)
        size = arrays_path.stat().st_size if arrays_path.exists() else None
        if size is None or size != state.get("arrays_bytes", size):
            raise ValueError(
                f"The checkpoint in {str(self.directory)!r} is damaged: its "
                "arrays file is missing or not the size its manifest says. "
                "Delete that folder to start this training again. "
                f"Received: {arrays_path.name} with {size} bytes"
            )
        variables = self._variables(model)
        with np.load(arrays_path) as arrays:
            shapes = [arrays[f"v{i}"].shape for i in range(len(arrays.files))]
            if shapes != [tuple(v.shape) for v in variables]:
                raise ValueError(
                    f"The checkpoint in {str(self.directory)!r} does not "
                    "fit this model (its variables differ in number or "
                    "shape). Delete that folder to start this training "
                    "again, or use the settings it was written with. "
                    f"Received: {len(shapes)} saved arrays for "
                    f"{len(variables)} variables"
                )
            for i, variable in enumerate(variables):
                variable.assign(arrays[f"v{i}"])

    def _variables(self, model):
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        seeds = [
            v
            for v in model.non_trainable_variables
            if v.name == "seed_generator_state"
        ]
        return (
            list(model.trainable_variables)
            + seeds
            + list(model.optimizer.variables)
        )

    def on_train_begin(self, logs=None):
        if self.epochs_done():
            self.restore(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if not is_writer():
            # One process per host: process 0 saves for all (the weights
            # are replicated, so its copy is everyone's).
            return
        arrays_path = self.directory / f"arrays-{epoch + 1:06d}.npz"
        write_npz_atomic(
            arrays_path,
            {
                f"v{i}": keras.ops.convert_to_numpy(v)
                for i, v in enumerate(self._variables(self.model))
            },
        )
        state = self._state()
        state["epochs_done"] = epoch + 1
        state["losses"] = state["losses"][:epoch] + [
            float((logs or {}).get("loss", float("nan")))
        ]
        state["arrays"] = arrays_path.name
        state["arrays_bytes"] = arrays_path.stat().st_size
        # The commit: from here on the new save is the checkpoint.
        write_json_atomic(self.state_path, state)
        for path in self.directory.iterdir():
            if path != arrays_path and _is_arrays_file(path.name):
                path.unlink(missing_ok=True)


def _is_arrays_file(name):
    # Saved arrays, the legacy file, or a write a kill left unfinished.
    return name.endswith(".npz") or (
        name.startswith(".") and ".npz." in name and name.endswith(".tmp")
    )
