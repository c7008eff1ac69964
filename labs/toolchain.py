"""Where the Pulumi toolchain that toolchain/build makes lives, and the pinned plugins.

One place for the tests, the labs and the benchmarks (versions.env is the source)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    """versions.env (NAME=value lines, # comments), as the shell scripts source it."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            pins[name] = value
    return pins


PINS = _pins(REPO / "versions.env")
PLUGINS = {"openstack": PINS["OPENSTACK_PROVIDER_VERSION"],
           "command": PINS["COMMAND_PROVIDER_VERSION"]}
TOOLS = Path(os.environ.get("VRRP_TOOLS_DIR", REPO / ".tools" / "pulumi"))
BIN = TOOLS / "bin"
# The provider plugins toolchain/providers/build installs (a PULUMI_HOME of their own).
PLUGIN_HOME = Path(os.environ.get("VRRP_PLUGIN_HOME", TOOLS / "home"))
