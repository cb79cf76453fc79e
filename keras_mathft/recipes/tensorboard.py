"""TensorBoard logs of a run (`--tensorboard=DIR`), on every backend.

`tf.summary` needs TensorFlow, and so does Keras' `TensorBoard` callback,
so event files are written here with the `tensorboard` package's record
writer and protos, which are pure Python: a JAX run logs without ever
importing TensorFlow (`pip install 'keras_mathft[tensorboard]'`).

- `LossLogger`: a Keras callback, the training loss at every step as
  `<stage>/loss` (Keras' running mean over the epoch, as in its progress
  bar and `TensorBoard` callback).
- `log_report`: the report's scalars, `report/evaluator_auc`,
  `report/evaluator_within_problem_auc`, `report/evaluator_ece`,
  `report/test_sample_accuracy`, `report/pass@1`, and each accuracy
  curve over N as `accuracy_vs_n/<method>` with step N.
"""

import itertools
import os
import socket
import time

import keras

_COUNTER = itertools.count()


class SummaryWriter:
    """Appends scalar events to a new event file in `directory`.

    Args:
        directory: str, the TensorBoard log folder (created if needed).

    Example:

    >>> writer = SummaryWriter("runs/tb")
    >>> writer.scalar("ssft/loss", 2.5, step=1)
    >>> writer.close()
    """

    def __init__(self, directory):
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        self._event_pb2, self._summary_pb2 = event_pb2, summary_pb2
        os.makedirs(directory, exist_ok=True)
        name = "events.out.tfevents.%010d.%s.%d.%d" % (
            time.time(),
            socket.gethostname(),
            os.getpid(),
            next(_COUNTER),
        )
        self.path = os.path.join(directory, name)
        self._writer = RecordWriter(open(self.path, "wb"))
        self._write(
            event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        )

    def scalar(self, tag, value, step):
        """Writes `value` (a float) under `tag` at `step` (an int)."""
        summary = self._summary_pb2.Summary(
            value=[
                self._summary_pb2.Summary.Value(
                    tag=tag, simple_value=float(value)
                )
            ]
        )
        self._write(
            self._event_pb2.Event(
                wall_time=time.time(), step=int(step), summary=summary
            )
        )

    def _write(self, event):
        self._writer.write(event.SerializeToString())
        self._writer.flush()  # TensorBoard reads live runs.

    def close(self):
        self._writer.close()


class LossLogger(keras.callbacks.Callback):
    """Logs the training loss at every step as `<tag>/loss`.

    The step counts from the start of the training (a resumed `fit` with
    `initial_epoch` goes on from the steps done), so curves of a resumed
    run continue where they stopped.

    Args:
        directory: the TensorBoard log folder.
        tag: str, e.g. the stage's name.
    """

    def __init__(self, directory, tag):
        super().__init__()
        self.directory, self.tag = directory, tag
        self._writer, self._epoch = None, 0

    def on_train_begin(self, logs=None):
        self._writer = SummaryWriter(self.directory)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            steps = self.params.get("steps") or 0
            step = self._epoch * steps + batch + 1
            self._writer.scalar(f"{self.tag}/loss", logs["loss"], step)

    def on_train_end(self, logs=None):
        self._writer.close()


def log_report(directory, report):
    """Writes the report's scalars and accuracy-over-N curves.

    Args:
        directory: the TensorBoard log folder.
        report: the report dict (`report.json`).
    """
    writer = SummaryWriter(directory)
    recipe = report.get("recipe", {})
    scalars = {
        "evaluator_auc": recipe.get("evaluator_auc"),
        "evaluator_within_problem_auc": recipe.get(
            "evaluator_within_problem_auc"
        ),
        "evaluator_ece": recipe.get("evaluator_ece"),
        "test_sample_accuracy": recipe.get("test_sample_accuracy"),
        "pass@1": report["overall"].get("pass@1"),
    }
    for name, value in scalars.items():
        if value is not None:
            writer.scalar(f"report/{name}", value, step=0)
    for method, curve in report.get("curves", {}).items():
        for n, mean in zip(curve["n"], curve["mean"]):
            writer.scalar(f"accuracy_vs_n/{method}", mean, step=n)
    writer.close()
