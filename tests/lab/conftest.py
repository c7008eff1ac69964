"""Fixtures of the namespace lab: every lab is torn down by its own ids, also on failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.lab.lab import Lab, netns_leftovers
from tests.lab.render import PairSpec, render_pairs

TOOLS = ("keepalived", "apache2", "curl", "ip", "bridge", "unshare")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _missing(tools: tuple[str, ...]) -> list[str]:
    return [tool for tool in tools if shutil.which(tool, path=SBIN_PATH) is None]


def require(tools: tuple[str, ...] = TOOLS) -> None:
    """Skips without root or tools, except in CI (CI=true), where it fails."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the namespace lab needs root")
    missing = _missing(tools)
    if missing:
        problems.append(f"missing programs: {', '.join(missing)} "
                        "(apt-get install keepalived apache2 curl iproute2 util-linux)")
    if problems:
        message = "; ".join(problems)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"lab cannot run in CI: {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _lab_prerequisites() -> None:
    require()
    if "/usr/sbin" not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = SBIN_PATH


@pytest.fixture
def make_lab() -> Iterator[Callable[..., Lab]]:
    """make_lab(PairSpec, ..., start=True) -> a built (and started) Lab, closed afterwards."""
    labs: list[Lab] = []

    def make(*specs: PairSpec, start: bool = True, **start_args: Any) -> Lab:
        lab = Lab(render_pairs(list(specs)))
        labs.append(lab)
        lab.build()
        if start:
            lab.start(**start_args)
        return lab

    try:
        yield make
    finally:
        for lab in labs:
            lab.close()
        leftovers = [ns for lab in labs for ns in netns_leftovers(lab.tag + "-")]
        assert not leftovers, f"namespaces left behind: {leftovers}"
