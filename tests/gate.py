"""The one gate: what a test needs, and what happens where that is missing.

Each need is a pytest marker (registered in pyproject.toml; tests/conftest.py gives every
test of a directory its directory's marker):
  lab         the namespace lab: root, keepalived, Apache, curl, iproute2, unshare
  engine      the Pulumi toolchain (CLI, our language host, providers) in .tools/pulumi
  cloud       the local OpenStack's API (scripts/local-cloud up)
  dataplane   that cloud with its data plane (VRRP_DATA_PLANE=1 after a libvirt-mode up)
  cloud_down  after `scripts/local-cloud down` (VRRP_CLOUD_DOWN=1)
  root        root, for a network namespace of the test's own
A marked test runs where its need is met. Where it is not, the test is skipped with the
reason on a developer's machine and FAILS under CI=true: CI installs and starts what the
tests need, so a skip there would hide a hole. What a run leaves out is chosen with -m
(`scripts/test --quick`, the stages of `scripts/test`), never by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from labs.cloud.location import cloud_answers
from labs.toolchain import BIN

IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")


TOOLCHAIN_HINT = ("run `bash toolchain/build` (the CLI, the language host and the providers,"
                  " built from the registries)")
LAB_TOOLS = ("keepalived", "apache2", "curl", "ip", "bridge", "unshare")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])

# A directory's tests and the need they share (tests/cloud's modules mark themselves).
DIRECTORY_MARKERS = {"lab": "lab", "engine": "engine", "e2e": "cloud", "localcloud": "cloud"}


def unavailable(why: str, strict: bool = False) -> NoReturn:
    """Skip here, fail in CI (or when `strict`: the run asked for this need explicitly)."""
    if IN_CI or strict:
        pytest.fail(f"{why} (CI=true, or asked for explicitly: this test may not skip)",
                    pytrace=False)
    pytest.skip(why)


def require(ok: bool, why: str, strict: bool = False) -> None:
    if not ok:
        unavailable(why, strict)


def _root() -> str | None:
    return None if os.geteuid() == 0 else "needs root (a network namespace of its own)"


def _lab() -> str | None:
    no_root = _root()
    problems = [no_root] if no_root else []
    missing = [tool for tool in LAB_TOOLS if shutil.which(tool, path=SBIN_PATH) is None]
    if missing:
        problems.append(f"missing programs: {', '.join(missing)} (apt-get install keepalived"
                        " apache2 curl iproute2 util-linux)")
    return "; ".join(problems) or None


def _engine() -> str | None:
    return None if (BIN / "pulumi").is_file() else f"no Pulumi CLI at {BIN}: {TOOLCHAIN_HINT}"


def _cloud() -> str | None:
    wanted = os.environ.get("VRRP_LOCAL_CLOUD")
    if wanted == "1" or (wanted != "0" and cloud_answers()):
        return None
    return "local OpenStack not up (scripts/local-cloud up; VRRP_LOCAL_CLOUD=1)"


def _env(name: str, why: str) -> Callable[[], str | None]:
    return lambda: None if os.environ.get(name) == "1" else f"{name}=1 {why}"


NEEDS: dict[str, Callable[[], str | None]] = {
    "root": _root,
    "lab": _lab,
    "engine": _engine,
    "cloud": _cloud,
    "dataplane": _env("VRRP_DATA_PLANE", "runs the data-plane tests (scripts/local-cloud up in"
                      " libvirt mode first)"),
    "cloud_down": _env("VRRP_CLOUD_DOWN", "after `scripts/local-cloud down`"),
}


def mark_by_directory(item: pytest.Item, tests_dir: Path) -> None:
    relative = Path(str(item.path)).relative_to(tests_dir)
    marker = DIRECTORY_MARKERS.get(relative.parts[0]) if len(relative.parts) > 1 else None
    if marker:
        item.add_marker(marker)


def check(item: pytest.Item) -> None:
    """Runs before each test: every need its markers name, met or unavailable()."""
    for name, missing in NEEDS.items():
        if item.get_closest_marker(name) is not None:
            why = missing()
            if why:
                unavailable(f"[{name}] {why}")
