"""Where the README's test command spends its time, from pytest's report.

Run one half of the test command with every duration printed, then this
script on its output; it prints markdown tables (the slowest tests, the
slowest files, the total) for CONTRIBUTING.md's "Test time":

    KERAS_BACKEND=jax .venv/bin/python -m pytest -n 2 -q --durations=0 \\
        -p no:cacheprovider > /tmp/jax.txt
    python benchmarks/test_durations.py --log=/tmp/jax.txt --top=10

Durations are pytest's per-phase wall times (setup, call, teardown) on
the worker that ran the test, so under `-n 2` they overlap: their sum is
about twice the wall time.
"""

import collections
import re

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("log", None, "pytest output with --durations=0.")
flags.DEFINE_integer("top", 10, "Rows per table.")
flags.mark_flag_as_required("log")

_DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown) +(\S+)")
_SUMMARY = re.compile(r"^=* ?(\d+ passed.*) in ([\d.]+)s")


def read_durations(text):
    """Per test: the sum of its phases' seconds."""
    tests = collections.Counter()
    for line in text.splitlines():
        match = _DURATION.match(line)
        if match:
            tests[match.group(3)] += float(match.group(1))
    return tests


def main(argv):
    del argv
    with open(FLAGS.log, encoding="utf-8") as f:
        text = f.read()
    tests = read_durations(text)
    files = collections.Counter()
    for test, seconds in tests.items():
        files[test.split("::")[0]] += seconds
    print(f"| {FLAGS.top} slowest tests | s |\n| --- | ---: |")
    for test, seconds in tests.most_common(FLAGS.top):
        print(f"| `{test}` | {seconds:.1f} |")
    print(f"\n| {FLAGS.top} slowest files | s |\n| --- | ---: |")
    for name, seconds in files.most_common(FLAGS.top):
        print(f"| `{name}` | {seconds:.1f} |")
    summary = [m for m in map(_SUMMARY.search, text.splitlines()) if m]
    print(f"\nsum of test durations: {sum(tests.values()):.0f} s")
    if summary:
        print(f"pytest: {summary[-1].group(1)}, {summary[-1].group(2)} s")


if __name__ == "__main__":
    app.run(main)
