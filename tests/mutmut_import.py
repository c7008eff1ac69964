"""Under mutmut only (`-p tests.mutmut_import` in pyproject.toml's [tool.mutmut]): the tests
import `vrrp_pair`, the installed name of components/, and mutmut mutates a copy of the
package as `components` under mutants/ (on sys.path there). This plugin makes every
`vrrp_pair[.x]` the module `components[.x]` of that copy, so the tests run the mutants and
mutmut's trampolines see the module names it derives from the file paths
(`components.vrid.x_derived_vrid`, not `vrrp_pair.vrid...`). The templates
(`vrrp_pair.templates`, cloud-init/) are no Python and stay with the installed finder.

Without MUTANT_UNDER_TEST (set by mutmut in every process it runs tests in) it does
nothing, so a plain pytest run imports the installed package as always."""

from __future__ import annotations

import gc
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
from types import ModuleType

import pytest
from hypothesis import settings

INSTALLED = "vrrp_pair"
MUTATED = "components"
LEFT_ALONE = (INSTALLED + ".templates",)


class _MutantsLoader(importlib.machinery.SourceFileLoader):
    """Runs mutants/components/<x>.py as one module known by both names: its `__name__` is
    `components.<x>` (what mutmut's trampolines compare with the mutant's name), its
    `__package__` `vrrp_pair` (its relative imports, and the `python -m vrrp_pair....`
    command lines it builds from `__package__`, stay the installed package's). Compiled
    once into __pycache__ as any source file (a mutated file is large: seconds to compile)."""

    def __init__(self, fullname: str, suffix: str, origin: str,
                 search: list[str] | None) -> None:
        super().__init__(fullname, origin)
        self.suffix = suffix
        self.origin = origin
        self.search = search

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        existing = sys.modules.get(MUTATED + self.suffix) or sys.modules.get(
            INSTALLED + self.suffix)
        if existing is not None:
            return existing
        module = ModuleType(MUTATED + self.suffix)
        module.__package__ = INSTALLED + (self.suffix if self.search is not None
                                          else self.suffix.rpartition(".")[0])
        module.__file__ = self.origin
        if self.search is not None:
            module.__path__ = self.search
        # under both names before it runs: dataclasses and typing look it up by __name__
        sys.modules[MUTATED + self.suffix] = module
        sys.modules[INSTALLED + self.suffix] = module
        return module

    def exec_module(self, module: ModuleType) -> None:
        if getattr(module, "_mutmut_import_done", False):
            return
        module._mutmut_import_done = True  # type: ignore[attr-defined]
        module.__spec__ = importlib.machinery.ModuleSpec(
            INSTALLED + self.suffix, self, origin=self.origin,
            is_package=self.search is not None)
        code = self.get_code(self.name)
        assert code is not None, self.origin
        exec(code, module.__dict__)


class MutantsFinder(importlib.abc.MetaPathFinder):
    """Ahead of the editable install's finder: `vrrp_pair[.x]` and `components[.x]` are
    mutants/components[/x.py], the copy on sys.path where mutmut runs the tests."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        for prefix in (INSTALLED, MUTATED):
            if fullname == prefix or fullname.startswith(prefix + "."):
                suffix = fullname[len(prefix):]
                break
        else:
            return None
        if (INSTALLED + suffix).startswith(LEFT_ALONE):
            return None
        root = importlib.machinery.PathFinder.find_spec(MUTATED)
        if root is None or not root.submodule_search_locations:
            return None
        directory = next(iter(root.submodule_search_locations))
        parts = suffix.lstrip(".").split(".") if suffix else []
        package = os.path.join(directory, *parts)
        if os.path.isfile(os.path.join(package, "__init__.py")):
            origin, search = os.path.join(package, "__init__.py"), [package]
        elif parts and os.path.isfile(package + ".py"):
            origin, search = package + ".py", None
        else:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _MutantsLoader(fullname, suffix, origin, search), origin=origin,
            is_package=search is not None)


def install() -> None:
    if not any(isinstance(finder, MutantsFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MutantsFinder())


if "MUTANT_UNDER_TEST" in os.environ:
    install()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The same examples on every run (after conftest.py loads its profile): a mutant's
    verdict must not depend on what Hypothesis happened to draw."""
    settings.register_profile("vrrp-pair-mutmut", parent=settings.get_profile("vrrp-pair"),
                              derandomize=True)
    settings.load_profile("vrrp-pair-mutmut")


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A collection after each test: without it CPython 3.11.7 crashed in some mutants' runs
    ("AST constructor recursion depth mismatch")."""
    gc.collect()


def _mutant_active() -> bool:
    return "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", "")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A test module that cannot even be imported with the mutant (several compute their
    cases at import) fails the run: exit 1, a kill. Without this pytest ends with a usage
    error ("found no collectors" for the selected tests) that mutmut files as a timeout."""
    if report.failed and _mutant_active():
        pytest.exit(f"collection failed under {os.environ['MUTANT_UNDER_TEST']}", returncode=1)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under a mutant, the tests mutmut chose run fastest first (their times from the
    stats run): mutmut stops at the first failure, so a quick test that kills the mutant
    spares the slow ones. Only the order changes, never which tests run."""
    if not _mutant_active() or not os.path.exists("mutmut-stats.json"):
        return
    with open("mutmut-stats.json", encoding="utf-8") as stats:
        duration: dict[str, float] = json.load(stats)["duration_by_test"]
    items.sort(key=lambda item: duration.get(item.nodeid, float("inf")))
