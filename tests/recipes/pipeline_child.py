"""Runs the tiny pipeline in a fresh interpreter, as a user's process would.

Usage: python pipeline_child.py RUN_DIR MODE CPU
  MODE = run | kill_after_checkpoint | stop_after=STAGE | no_tensorflow
  CPU = index of the allowed CPU to run on (modulo their number)

`kill_after_checkpoint` ends the process with `os._exit(KILLED)` right
after the first training checkpoint is written: no cleanup runs, as when
a job is killed. `no_tensorflow` runs with `import tensorflow` (and
TFDS, TF Text) made to fail, as on a JAX-only machine. The process is
pinned to one CPU before JAX or TensorFlow start, because XLA's CPU
runtime can return slightly different results from run to run when it
uses several threads (jax-ml/jax#39741), and the resume test compares
reports bit for bit.
"""

import importlib.abc
import os
import sys

# The quick size shrunk so one run takes well under a minute: an untrained
# one-layer decoder, a handful of problems and samples.
TINY = dict(
    size="quick",
    num_train_problems=64,
    num_test_problems=6,
    num_eval_train_problems=6,
    num_samples=4,
    num_train_samples=4,
    top_k_clusters=2,
    hidden_dim=16,
    num_layers=1,
    batch_size=8,
    evaluator_batch_size=4,
    sft_steps=4,
    evaluator_steps=2,
    final_sft_steps=2,
    max_new_tokens=16,
    checkpoint_every=2,
    max_level=1,
    # Classification examples exist even when no sample is right, so the
    # evaluator really trains.
    evaluator_loss="xent",
)
KILLED = 17
BLOCKED = ("tensorflow", "tensorflow_datasets", "tensorflow_text", "tf_keras")


class BlockTensorFlow(importlib.abc.MetaPathFinder):
    """A meta-path finder that fails every import of a TensorFlow package."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: a JAX-only machine")
        return None


def main(run_dir, mode, cpu):
    if hasattr(os, "sched_setaffinity"):  # Linux
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[int(cpu) % len(cpus)]})
    if mode == "no_tensorflow":
        sys.meta_path.insert(0, BlockTensorFlow())
    from keras_mathft.models import TrainingCheckpoint
    from keras_mathft.recipes import RecipeConfig
    from keras_mathft.recipes import run_pipeline

    if mode == "kill_after_checkpoint":
        save = TrainingCheckpoint.on_epoch_end

        def save_then_die(self, epoch, logs=None):
            save(self, epoch, logs)
            os._exit(KILLED)

        TrainingCheckpoint.on_epoch_end = save_then_die
    stop_after = mode.split("=")[1] if mode.startswith("stop_after=") else None
    config = RecipeConfig(run_dir=run_dir, **TINY)
    run_pipeline(config, verbose=0, stop_after=stop_after)
    if mode == "no_tensorflow":
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not loaded, loaded


if __name__ == "__main__":
    main(*sys.argv[1:])
