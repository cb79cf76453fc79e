"""Each package's `__all__` is its public API, and nothing else leaks.

A package exposes the names its `__all__` lists and its own submodules;
any other public name in `dir(package)` (a helper module such as
`importlib`, a name imported only for internal use) is a leak.
"""

import importlib
import types

import pytest

pytestmark = pytest.mark.backend_independent

PACKAGES = (
    "keras_mathft.data",
    "keras_mathft.grading",
    "keras_mathft.models",
    "keras_mathft.recipes",
    "keras_mathft.runtime",
    "keras_mathft.sampling",
)


def _is_own_submodule(package, value):
    return isinstance(value, types.ModuleType) and value.__name__.startswith(
        package.__name__ + "."
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_unique_and_resolves(name):
    package = importlib.import_module(name)
    names = package.__all__
    assert names == sorted(names, key=str.lower)
    assert len(names) == len(set(names))
    for public in names:
        assert getattr(package, public) is not None, public


@pytest.mark.parametrize("name", ("keras_mathft", *PACKAGES))
def test_no_helper_name_leaks(name):
    package = importlib.import_module(name)
    leaked = [
        public
        for public in dir(package)
        if not public.startswith("_")
        and public not in package.__all__
        and not _is_own_submodule(package, getattr(package, public))
    ]
    assert leaked == []
