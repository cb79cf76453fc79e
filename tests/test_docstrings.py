"""Every docstring example in the package runs, as a doctest.

Examples that need downloads or long runs say `# doctest: +SKIP`; the rest
run here, on tiny models, in a temporary folder (some write files).
"""

import doctest
import importlib
import pkgutil

import pytest

import keras_mathft

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(keras_mathft.__path__, "keras_mathft.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=True,
    )
    assert result.failed == 0, f"{result.failed} failing examples in {name}"
