"""Fault injection on the sample store: samples lost or duplicated.

Four experiments, each ending with the store read back by
`SampleStore.load()` and compared, key by key and text by text, with an
uninterrupted run:

1. Concurrent writers: two processes with the same `process_index` start
   together on one store (`--writer_trials` times); then two processes
   with indices 0 and 1 of 2.
2. Kill -9: one sampling run of a tiny from-scratch Gemma decoder
   (`--num_problems` x `--num_samples`) is SIGKILLed `--kills` times, each
   time after a random delay once the model is built, and resumed; the
   last resume runs to the end.
3. Shard damage: every shard of a finished store in turn is truncated at
   a line boundary, truncated mid-line, has one byte flipped, gets a
   non-UTF-8 byte, or is deleted; readers must refuse, naming the shard,
   and a resume must restore the full store.
4. Shard copy: every shard in turn is copied under another name in its
   own namespace and in another one; readers must load no sample twice,
   and a resume must leave the store exact.

Experiments 1, 3 and 4 use a deterministic fake sampler (store behaviour
does not depend on the model); 2 uses the real sampler.

    KERAS_BACKEND=jax python benchmarks/store_faults.py
    KERAS_BACKEND=jax python benchmarks/store_faults.py --kills=30 --seed=1
"""

import collections
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
from tables import markdown_table

FLAGS = flags.FLAGS
flags.DEFINE_enum("role", "parent", ["parent", "child"], "Internal.")
flags.DEFINE_string("store", None, "Child: the store directory.")
flags.DEFINE_enum("sampler", "fake", ["fake", "model"], "Child: sampler.")
flags.DEFINE_integer("process_index", 0, "Child: namespace.")
flags.DEFINE_integer("num_processes", 1, "Child: processes.")
flags.DEFINE_float("fake_delay", 0.05, "Fake sampler: seconds per shard.")
flags.DEFINE_integer("num_problems", 24, "Problems sampled.")
flags.DEFINE_integer("num_samples", 8, "Samples per problem (N).")
flags.DEFINE_integer("max_new_tokens", 24, "Tokens per sample (model).")
flags.DEFINE_integer("problems_per_shard", 2, "Problems per shard.")
flags.DEFINE_integer("kills", 24, "SIGKILLs of the model sampling run.")
flags.DEFINE_integer("writer_trials", 10, "Concurrent same-index trials.")
flags.DEFINE_integer("seed", 0, "Seed of the kill delays.")
flags.DEFINE_list(
    "experiments", ["writers", "kills", "damage", "copies"], "Which to run."
)

Problem = collections.namedtuple("Problem", ["problem", "unique_id"])


# === Child: one sampling run ===


def fake_problems():
    return [
        Problem(f"problem {i}", f"id{i}") for i in range(FLAGS.num_problems)
    ]


def fake_sampler(problems):
    from keras_mathft.sampling import Sample

    time.sleep(FLAGS.fake_delay)  # so that concurrent writers overlap
    return [
        [
            Sample(p.unique_id, j, f"{p.problem} / {j}", str(j), 1)
            for j in range(FLAGS.num_samples)
        ]
        for p in problems
    ]


def run_child():
    from keras_mathft.sampling import SamplingConfig
    from keras_mathft.sampling import sample_to_store

    config = SamplingConfig(num_samples=FLAGS.num_samples)
    kwargs = dict(
        problems_per_shard=FLAGS.problems_per_shard,
        process_index=FLAGS.process_index,
        num_processes=FLAGS.num_processes,
        verbose=False,
    )
    if FLAGS.sampler == "fake":
        print("STARTED", flush=True)
        sample_to_store(
            None,
            fake_problems(),
            FLAGS.store,
            config,
            sample_fn=fake_sampler,
            **kwargs,
        )
        return
    import keras

    from keras_mathft import data
    from keras_mathft import models

    keras.utils.set_random_seed(0)
    lm = models.build_causal_lm(
        "gemma",
        data.embedded_tokenizer_proto(),
        num_layers=1,
        hidden_dim=16,
        num_heads=4,
        num_key_value_heads=1,
        intermediate_dim=32,
        head_dim=4,
        sequence_length=256,
    )
    solver = models.MathSolver(lm)
    problems = data.make_synthetic_problems(FLAGS.num_problems, seed=0)
    print("STARTED", flush=True)
    config = config.replace(max_new_tokens=FLAGS.max_new_tokens, seed=0)
    sample_to_store(solver, problems, FLAGS.store, config, **kwargs)


# === Parent ===


def child(store, sampler="fake", process_index=0, num_processes=1):
    args = [
        sys.executable,
        os.path.abspath(__file__),
        "--role=child",
        f"--store={store}",
        f"--sampler={sampler}",
        f"--process_index={process_index}",
        f"--num_processes={num_processes}",
    ] + [
        f"--{name}={getattr(FLAGS, name)}"
        for name in (
            "fake_delay",
            "num_problems",
            "num_samples",
            "max_new_tokens",
            "problems_per_shard",
        )
    ]
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )


def compare(store_dir, reference):
    """`(lost, duplicated, different, error)` of the loaded store."""
    from keras_mathft.sampling import SampleStore

    try:
        loaded = SampleStore(store_dir).load()
    except ValueError as e:
        return None, None, None, str(e)[:200]
    keys = collections.Counter((s.problem_id, s.sample_index) for s in loaded)
    by_key = {(s.problem_id, s.sample_index): s for s in loaded}
    lost = len(set(reference) - set(keys))
    duplicated = sum(n - 1 for n in keys.values())
    different = sum(
        1 for k, s in reference.items() if k in by_key and by_key[k] != s
    )
    return lost, duplicated, different, None


def reference_run(directory, sampler):
    from keras_mathft.sampling import SampleStore

    proc = child(directory, sampler)
    start = None
    for line in proc.stdout:
        if line.startswith("STARTED"):
            start = time.perf_counter()
    assert proc.wait() == 0, proc.stderr.read()[-3000:]
    seconds = time.perf_counter() - start
    loaded = SampleStore(directory).load()
    return {(s.problem_id, s.sample_index): s for s in loaded}, seconds


def writers(work):
    reference, _ = reference_run(work / "writers-ref", "fake")
    rows = []
    for trial in range(FLAGS.writer_trials):
        store = work / f"writers-{trial}"
        procs = [child(store), child(store)]
        results = [(p.wait(), p.stderr.read()) for p in procs]
        refused = sum(
            rc == 1 and "in use by another writer" in err for rc, err in results
        )
        ok = sum(rc == 0 for rc, _ in results)
        # Whoever was refused retries once the other is done.
        if refused:
            assert child(store).wait() == 0
        rows.append((ok, refused, *compare(store, reference)))
    print("\n## Concurrent writers, same process_index (fake sampler)")
    print(
        markdown_table(
            ["trial", "exit 0", "refused", "lost", "dup", "diff", "err"],
            [(i, *r) for i, r in enumerate(rows)],
        )
    )
    store = work / "writers-split"
    procs = [child(store, "fake", i, 2) for i in range(2)]
    codes = [p.wait() for p in procs]
    print(
        f"\nIndices 0 and 1 of 2 together: exit codes {codes}, "
        f"lost/dup/diff/err {compare(store, reference)}"
    )


def kills(work):
    from keras_mathft.sampling import SampleStore

    reference, seconds = reference_run(work / "kills-ref", "model")
    print(
        f"\n## Kill -9 of sampling runs (tiny Gemma, {FLAGS.num_problems} "
        f"problems x N={FLAGS.num_samples}, {FLAGS.problems_per_shard} "
        f"problems per shard; uninterrupted sampling {seconds:.1f} s)"
    )
    rng = random.Random(FLAGS.seed)
    rows, landed, run = [], 0, 0
    # Runs are killed and resumed until they finish; new runs start until
    # `--kills` SIGKILLs have landed while a run was sampling.
    while landed < FLAGS.kills:
        store = work / f"kills-run-{run}"
        kills_in_run = 0
        while True:
            # Uniform over an uninterrupted run (compilation included): a
            # restarted run finishes once a delay outlasts what is left.
            delay = rng.uniform(0, seconds)
            proc = child(store, "model")
            line = proc.stdout.readline()
            assert line.startswith("STARTED"), proc.stderr.read()[-3000:]
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            code = proc.wait()
            if code not in (0, -signal.SIGKILL):
                raise RuntimeError(proc.stderr.read()[-3000:])
            if code == 0:
                break  # finished before the signal
            kills_in_run += 1
            if len(SampleStore(store).load()) == len(reference):
                break
        assert child(store, "model").wait() == 0  # resume to the end
        quarantined = store / "quarantine"
        moved = len(os.listdir(quarantined)) if quarantined.is_dir() else 0
        rows.append((run, kills_in_run, moved, *compare(store, reference)))
        landed += kills_in_run
        run += 1
    print(
        markdown_table(
            ["run", "kills", "quarantined", "lost", "dup", "diff", "err"],
            rows,
        )
    )
    totals = [sum(r[i] for r in rows) for i in (1, 3, 4, 5)]
    print(
        f"\n{totals[0]} kills over {len(rows)} runs of {len(reference)} "
        f"samples each: lost {totals[1]}, duplicated {totals[2]}, differing "
        f"from the uninterrupted run {totals[3]}"
    )


def _damages():
    def truncate_line(path):
        data = path.read_bytes()
        path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])

    def truncate_mid(path):
        path.write_bytes(path.read_bytes()[:-7])

    def flip(path):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))

    def not_utf8(path):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] = 0xFF
        path.write_bytes(bytes(data))

    return {
        "truncated at a line": truncate_line,
        "truncated mid-line": truncate_mid,
        "one byte flipped": flip,
        "a non-UTF-8 byte": not_utf8,
        "deleted": os.remove,
    }


def damage(work):
    from keras_mathft.sampling import SampleStore

    base = work / "damage-ref"
    reference, _ = reference_run(base, "fake")
    shards = [p.name for p in SampleStore(base).shard_paths()]
    print(
        f"\n## Shard damage ({len(shards)} shards, each damaged in turn; "
        "fake sampler)"
    )
    rows = []
    for kind, hurt in _damages().items():
        named = stuck = lost = dup = diff = failed = 0
        for name in shards:
            store = work / "damage-run"
            shutil.rmtree(store, ignore_errors=True)
            shutil.copytree(base, store)
            hurt(store / name)
            error = compare(store, reference)[3]
            named += error is not None and name in error
            stuck += child(store).wait() != 0  # the resume
            result = compare(store, reference)
            if result[3] is not None:
                failed += 1
                continue
            lost += result[0]
            dup += result[1]
            diff += result[2]
        rows.append(
            (kind, f"{named}/{len(shards)}", stuck, lost, dup, diff, failed)
        )
    header = [
        "damage",
        "reader refused, naming the shard",
        "resume failed",
        "lost after resume",
        "dup",
        "diff",
        "load error after resume",
    ]
    print(markdown_table(header, rows))


def copies(work):
    from keras_mathft.sampling import SampleStore

    base = work / "copies-ref"
    reference, _ = reference_run(base, "fake")
    shards = [p.name for p in SampleStore(base).shard_paths()]
    rows = []
    for where, new_name in (
        ("same namespace", "shard-p000-999999.jsonl"),
        ("other namespace", "shard-p001-000000.jsonl"),
    ):
        before = [0, 0, 0]
        after = [0, 0, 0]
        for name in shards:
            store = work / "copies-run"
            shutil.rmtree(store, ignore_errors=True)
            shutil.copytree(base, store)
            shutil.copy(store / name, store / new_name)
            for total, result in (
                (before, compare(store, reference)),
                (after, (child(store).wait(), compare(store, reference))[1]),
            ):
                assert result[3] is None, result
                for i in range(3):
                    total[i] += result[i]
        rows.append((where, len(shards), *before, *after))
    print("\n## Shard copied under another name (fake sampler)")
    print(
        markdown_table(
            [
                "copy in",
                "copies",
                "lost",
                "dup",
                "diff",
                "lost after resume",
                "dup after resume",
                "diff after resume",
            ],
            rows,
        )
    )


def main(argv):
    del argv
    if FLAGS.role == "child":
        run_child()
        return
    import keras

    print(
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"keras {keras.__version__}, backend {keras.config.backend()}"
    )
    print(
        "Settings: "
        + json.dumps(
            {
                k: getattr(FLAGS, k)
                for k in (
                    "num_problems",
                    "num_samples",
                    "max_new_tokens",
                    "problems_per_shard",
                    "kills",
                    "writer_trials",
                    "seed",
                    "fake_delay",
                )
            }
        )
    )
    import pathlib

    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        for name in FLAGS.experiments:
            {
                "writers": writers,
                "kills": kills,
                "damage": damage,
                "copies": copies,
            }[name](work)


if __name__ == "__main__":
    app.run(main)
