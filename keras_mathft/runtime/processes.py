"""One process per host: which process writes shared files, and barriers.

On a TPU pod slice (or several processes on one machine) JAX runs one
process per host, all running the same code, joined by its distributed
runtime (`jax.distributed.initialize` or `keras.distribution.initialize`).
Files that every process shares (a run directory's settings, markers,
weights, checkpoints, reports) are written by process 0 alone, the
writing process; the others wait at a barrier before they read them.
Sample stores are the exception: each process writes its own namespace
(`sampling.SampleStore`).

With one process, or before the distributed runtime starts, this process
is the writer and `run_together` simply calls its function. JAX is never
imported here, and only asked once its distributed runtime is running, so
a TensorFlow run never starts JAX's backends (which could claim the GPU).
"""

import sys


class PeerProcessError(RuntimeError):
    """Another process of the run failed; its own log has the error."""


def this_process():
    """`(process_index, num_processes)` of this process in a JAX cluster.

    Read from JAX's distributed runtime once it is initialized (after
    `jax.distributed.initialize` or `keras.distribution.initialize`, one
    process per host); `(0, 1)` otherwise.
    """
    jax = sys.modules.get("jax")
    if jax is None:
        return 0, 1
    distributed = getattr(jax, "distributed", None)
    if distributed is not None and not distributed.is_initialized():
        return 0, 1
    return jax.process_index(), jax.process_count()


def is_writer():
    """Whether this process writes the shared files (process 0)."""
    return this_process()[0] == 0


def run_together(fn, name, writer_only=False):
    """Runs `fn` on every process (or the writer alone), then waits for all.

    Every process returns only once `fn` has returned on every process
    that runs it, so what one wrote can be read by all afterwards. A
    failure anywhere fails everyone: the failing process raises its error,
    the others `PeerProcessError`, instead of waiting forever.

    Args:
        fn: callable with no arguments.
        name: str, what `fn` does, e.g. "sampling" (for the error
            message).
        writer_only: bool. Run `fn` on process 0 alone.

    Returns:
        `fn()`'s result, or `None` on a process that did not run it.

    Raises:
        PeerProcessError: when `fn` failed on another process.

    Example:

    >>> run_together(lambda: 3, "adding")  # one process: just a call
    3
    """
    index, count = this_process()
    if count == 1:
        return fn()
    result, error = None, None
    try:
        if index == 0 or not writer_only:
            result = fn()
    except Exception as e:
        error = e  # raised below, once every process knows
    import numpy as np
    from jax.experimental import multihost_utils

    # One collective: a barrier that also tells who failed.
    failed = np.asarray(
        multihost_utils.process_allgather(np.int32(error is not None))
    )
    if error is not None:
        raise error
    if failed.any():
        raise PeerProcessError(
            f"Process(es) {np.flatnonzero(failed).tolist()} of {count} "
            f"failed while {name}; their log says why. Received: no error "
            f"on process {index}"
        )
    return result
