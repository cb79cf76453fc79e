"""Shared pytest configuration.

The real MATH / MATH500 / PRM800K files live outside the repository in
`../shared/data` (never copied in). Tests that need them use the
`shared_data` fixture, which skips with a clear reason when the folder is
missing. `KERAS_MATHFT_SHARED_DATA` overrides the location.

Three rules keep the README's test command short (CONTRIBUTING.md, "Test
time"):

- Tests marked `backend_independent` (whole modules through `pytestmark`)
  test nothing of the Keras backend; `--skip-backend-independent`, which
  the README's second half passes, skips them with a reason.
- Tests marked `slow` start first, so no long test runs alone at the end
  of a `pytest -n 2` run.
- XLA compiles into one persistent cache per test run (JAX's and
  TensorFlow's), shared by the workers and the processes they start, so a
  program compiled once (the tiny recipe's train step, say) is not
  compiled again by the next test or child process. Tracing still runs
  every time: only XLA's work is reused, and a cached executable computes
  exactly what a fresh compile would.
"""

import os
import pathlib
import shutil
import tempfile

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(
    os.environ.get(
        "KERAS_MATHFT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"
    )
)
SKIP_BACKEND_INDEPENDENT = "--skip-backend-independent"
_JAX_CACHE_ENV = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
}
_CACHE_KEY = pytest.StashKey[str]()
_SKIP_REASON = (
    "backend-independent: runs once, in the README test command's first "
    "(KERAS_BACKEND=jax) half"
)


def pytest_addoption(parser):
    parser.addoption(
        SKIP_BACKEND_INDEPENDENT,
        action="store_true",
        help="skip tests marked backend_independent: they ran already "
        "under the other backend",
    )


def pytest_configure(config):
    # The controller (or a run without xdist) makes the caches; xdist
    # workers and child processes inherit them through the environment.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    folder = tempfile.mkdtemp(prefix="keras_mathft-xla-cache-")
    config.stash[_CACHE_KEY] = folder
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(folder, "jax")
        for key, value in _JAX_CACHE_ENV.items():
            os.environ.setdefault(key, value)
    tf_flags = os.environ.get("TF_XLA_FLAGS", "")
    if "tf_xla_persistent_cache_directory" not in tf_flags:
        cache = os.path.join(folder, "tensorflow")
        os.environ["TF_XLA_FLAGS"] = (
            f"{tf_flags} --tf_xla_persistent_cache_directory={cache}".strip()
        )


def pytest_unconfigure(config):
    folder = config.stash.get(_CACHE_KEY, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    skip = config.getoption(SKIP_BACKEND_INDEPENDENT)
    for item in items:
        if skip and item.get_closest_marker("backend_independent"):
            item.add_marker(pytest.mark.skip(reason=_SKIP_REASON))
    # A stable sort: slow tests first, the rest in collection order.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter):
    # `-q` folds skips into a count: say what most of them are.
    skipped = terminalreporter.stats.get("skipped", [])
    count = sum(_SKIP_REASON in str(report.longrepr) for report in skipped)
    if count:
        terminalreporter.write_line(f"{count} tests skipped, {_SKIP_REASON}")


@pytest.fixture(scope="session")
def shared_data():
    """Path to the read-only shared data folder, or skip the test."""
    if not (SHARED_DATA / "MATH").is_dir():
        pytest.skip(
            f"real MATH data not found at {SHARED_DATA}; set "
            "KERAS_MATHFT_SHARED_DATA to the folder holding MATH/ and "
            "prm800k/ to run this test"
        )
    return SHARED_DATA
