"""Fixtures of the namespace lab: every lab is torn down by its own ids, also on failure."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from labs.namespace.lab import Lab, netns_leftovers
from labs.namespace.render import PairSpec, render_pairs
from tests.gate import SBIN_PATH


@pytest.fixture(autouse=True)
def _lab_sbin_on_path() -> None:
    """keepalived and ip live in /usr/sbin (whether the lab can run: tests/gate.py)."""
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
