"""What the studies share: flags, run folders, the point store, sections.

A study reads and writes a recipe run through the recipe's stage context
(`stage_context`, `opened`): artifacts by their declared names
(`context.path(name)`, `context.store(name)`), never by spelled paths.
A finished sweep point is one JSON file (`finished`), so a killed study
resumes where it was; each study replaces its own section of the
markdown report (`write_section`).
"""

import contextlib
import json
import os
import platform
import re
import shutil

# Before keras loads (every module of the package imports this one first).
os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_mathft.recipes import RecipeConfig  # noqa: E402
from keras_mathft.recipes import StageContext  # noqa: E402
from keras_mathft.recipes import write_json_atomic  # noqa: E402

flags.DEFINE_enum(
    "study",
    "seeds",
    [
        "seeds",
        "evaluator",
        "style",
        "multitask",
        "process",
        "multitask_process",
    ],
    "The three findings over seeds, or a study of issue 13: the evaluator "
    "sweep (1), solution style at an equal token budget (2), multi-task "
    "fine-tuning at matched compute (3); or issue 29's process evaluator, "
    "alone or as the multi-task model's evaluation phase.",
)
flags.DEFINE_enum(
    "size",
    "quick",
    ["micro", "quick", "default", "study", "cpu"],
    "Recipe size; `micro`, `study` and `cpu` size the issue 13 studies only.",
)
flags.DEFINE_string(
    "markdown", "benchmarks/findings.md", "Evaluator study: its report."
)
flags.DEFINE_integer(
    "bootstrap", 1000, "Evaluator study: bootstrap rounds of the intervals."
)
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds (data, weights, samples).")
flags.DEFINE_string("run_root", "runs/findings", "Folder of the runs.")
flags.DEFINE_string("output", None, "JSON file for every per-seed number.")
flags.DEFINE_list(
    "set",
    [],
    "Config overrides for every run, name=value (e.g. sft_steps=600).",
)
FLAGS = flags.FLAGS


# === Recipe runs ===


def stage_context(config, verbose=1):
    """The recipe's stage context of `config`'s run, opened.

    Opening checks the run directory (settings, finished stages) and
    takes its writer lock, creating it if new. The context names the
    run's artifacts (`path`, `store`), runs a stage (`run_stage`) and
    loads the models stages saved (`solver`). Close it with `opened`.
    """
    return StageContext(config, verbose=verbose)


@contextlib.contextmanager
def opened(config, verbose=1):
    """`stage_context(config)`, its run directory closed on leaving."""
    context = stage_context(config, verbose)
    try:
        yield context
    finally:
        context.directory.close()


def copy_stages(source, target, stages, ignore=None):
    """Copies the folders of `stages` from one open run into another.

    Args:
        source, target: stage contexts (`opened`).
        stages: stage names.
        ignore: a `shutil.copytree` ignore function, or None.
    """
    for stage in stages:
        shutil.copytree(
            source.directory.stage_dir(stage),
            target.directory.stage_dir(stage),
            ignore=ignore,
            dirs_exist_ok=True,
        )


def aligned(store, problems):
    """A `SampleStore`'s samples as one list per problem, in order.

    A sample's `problem_id` is its problem's `unique_id`, or the
    problem's position when it has none.
    """
    groups = store.by_problem()
    return [groups[p.unique_id or str(i)] for i, p in enumerate(problems)]


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# === Flags ===


def overrides():
    """`--set`'s config overrides, `{field: value}`."""
    fields = RecipeConfig.field_names()
    out = {}
    for item in FLAGS.set:
        name, _, value = item.partition("=")
        if name not in fields:
            raise app.UsageError(f"--set: unknown config field {name!r}")
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        if value in ("True", "False"):
            value = value == "True"
        out[name] = value
    return out


def study_size(table, name):
    """The entry of `--size` in a study's size table."""
    if FLAGS.size not in table:
        raise app.UsageError(
            f"--study={name} needs --size in {tuple(table)}. "
            f"Received: --size={FLAGS.size}"
        )
    return table[FLAGS.size]


def size_root(*parts):
    """A path under this size's folder of `--run_root`."""
    return os.path.join(FLAGS.run_root, FLAGS.size, *parts)


# === Results ===


def finished(path, label, compute):
    """The JSON result at `path`: computed and written once, then read."""
    if os.path.exists(path):
        print(f"{label} reused", flush=True)
    else:
        write_json_atomic(path, compute())
        print(f"{label} done", flush=True)
    return read_json(path)


def write_section(path, name, text):
    """Replaces study `name`'s section of the markdown file `path`."""
    start, end = f"<!-- study:{name} -->", f"<!-- /study:{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    pattern = re.compile(
        re.escape(start) + ".*?" + re.escape(end) + "\n?", re.S
    )
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old)
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


def command(study, seeds):
    """The command line of a study's section, in backticks."""
    return (
        f"`KERAS_BACKEND={keras.config.backend()} python "
        f"benchmarks/findings --study={study} --size={FLAGS.size} "
        f"--seeds={','.join(map(str, seeds))}`"
    )


def wall_text(wall):
    return (
        f"{wall / 60:.1f} min for its last invocation on {os.cpu_count()} "
        f"CPUs ({platform.node()}), which reads finished points back "
        "instead of computing them again"
    )
