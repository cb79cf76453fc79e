"""Child process for the store tests: samples with a fake model.

Usage: python store_child.py DIR PROCESS NUM_PROCESSES [KILL_AT | count
    | hold]

KILL_AT = "replace:K", "fsync:K" or "link:K" SIGKILLs this process at the
K-th call of `os.replace` / `os.fsync` / `os.link` made by the store
(before it runs). `count` prints how many calls of each a whole run makes,
as JSON, so a test can kill at every one of them. `hold` creates
`DIR.ready` once sampling has started (the store is being written) and
waits for `DIR.go` before going on.
"""

import collections
import json
import os
import pathlib
import signal
import sys
import time

from keras_mathft.sampling import store as store_lib
from keras_mathft.sampling.sample_record import Sample
from keras_mathft.sampling.sampling_config import SamplingConfig

# Duck-typed problems: this child never imports keras or tensorflow.
Problem = collections.namedtuple("Problem", ["problem", "unique_id"])
PROBLEMS = [Problem(f"problem {i}", f"id{i}") for i in range(7)]
NUM_SAMPLES = 3
SYSCALLS = ("replace", "fsync", "link")


def fake_samples(problems):
    return [
        [
            Sample(p.unique_id, j, f"{p.problem} / {j}", str(j), 10 + j)
            for j in range(NUM_SAMPLES)
        ]
        for p in problems
    ]


def held_samples(directory):
    ready = pathlib.Path(f"{directory}.ready")
    go = pathlib.Path(f"{directory}.go")

    def sample(problems):
        ready.touch()
        while not go.exists():
            time.sleep(0.05)
        return fake_samples(problems)

    return sample


def main(directory, process_index, num_processes, kill_at=None):
    calls = collections.Counter()
    sample_fn = held_samples(directory) if kill_at == "hold" else fake_samples
    if (
        kill_at and kill_at != "hold"
    ):  # only in a child: this patches `os` for good
        target = None if kill_at == "count" else kill_at.split(":")
        for name in SYSCALLS:
            original = getattr(os, name)

            def counted(*args, _name=name, _original=original, **kwargs):
                calls[_name] += 1
                if target == [_name, str(calls[_name])]:
                    os.kill(os.getpid(), signal.SIGKILL)
                return _original(*args, **kwargs)

            setattr(os, name, counted)  # the module the atomic writes use
    store_lib.sample_to_store(
        None,
        PROBLEMS,
        directory,
        SamplingConfig(num_samples=NUM_SAMPLES),
        problems_per_shard=2,
        process_index=process_index,
        num_processes=num_processes,
        sample_fn=sample_fn,
    )
    if kill_at == "count":
        print(json.dumps(dict(calls)))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:5])
