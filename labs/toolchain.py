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


def engine_env(root: Path, passphrase: str, drop: tuple[str, ...] = ("PULUMI_",)
               ) -> dict[str, str]:
    """The environment of a private Pulumi engine in `root`: this toolchain's CLI first on
    PATH, a PULUMI_HOME (root/home) and a file backend (root/state) of its own, passphrase
    secrets, no update check and no plugin downloads; the caller's variables that start
    with one of `drop` are left out (a developer's PULUMI_* or OS_* must not leak in)."""
    (root / "home").mkdir(parents=True, exist_ok=True)
    (root / "state").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PULUMI_HOME=str(root / "home"),
        PULUMI_BACKEND_URL=f"file://{root / 'state'}",
        PULUMI_CONFIG_PASSPHRASE=passphrase,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
    )
    return env
