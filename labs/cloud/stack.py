"""The repository's program under the real Pulumi engine on the local OpenStack, and a census
of what the demo project holds: for tests/e2e, tests/cloud and benchmarks/cloud_failover.py.

A stack runs a temporary copy of the program (``__main__.py``, ``Pulumi.yaml``,
``Pulumi.dev.yaml``) of this checkout with its venv, where the checkout is installed as
``vrrp_pair`` (or of the checkout VRRP_E2E_PROGRAM names, with that checkout's .venv, to
try a fix of components/), in a temporary file:// backend with a temporary PULUMI_HOME
(the toolchain's openstack/command plugins registered into it) and passphrase secrets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.cloud.location import CLOUD, CLOUDS_YAML
from labs.toolchain import BIN, PLUGIN_HOME, PLUGINS, REPO, engine_env

PASSPHRASE = "vrrp-e2e-passphrase"
PROGRAM_SOURCE = Path(os.environ.get("VRRP_E2E_PROGRAM", REPO))
PROGRAM_FILES = ("__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml")  # the component: the venv's
TIMEOUT = 1200  # seconds per pulumi command: the machine is shared and loaded


class ToolchainMissing(RuntimeError):
    """A piece of the Pulumi toolchain is not built; the message names the command."""


class PulumiFailed(AssertionError):
    """A pulumi command that had to succeed exited non-zero (its output in the message)."""


def require(ok: bool, why: str) -> None:
    if not ok:
        raise ToolchainMissing(why)


def say(text: str) -> None:
    print(f"[e2e] {text}", flush=True)


def venv_dir() -> Path:
    """The program's venv: the one of the checkout under test (vrrp_pair installed there)."""
    repo_venv = PROGRAM_SOURCE / ".venv"
    if (repo_venv / "bin" / "python").exists():
        return repo_venv.resolve()
    return Path(sys.prefix)


def connect(cloud: str = CLOUD) -> Any:
    """An openstacksdk connection to `cloud` of the local cloud's clouds.yaml (the demo
    project; CLOUD + "-admin" for what only an admin reads, such as servers' hosts)."""
    import openstack
    from openstack import config as os_config

    loader = os_config.OpenStackConfig(config_files=[str(CLOUDS_YAML)])
    return openstack.connection.Connection(config=loader.get_one(cloud=cloud))


# --------------------------------------------------------------------------- the census


CENSUS_KINDS = ("networks", "subnets", "routers", "ports", "floating_ips", "security_groups",
                "security_group_rules", "server_groups", "servers")


def census(conn: Any) -> dict[str, set[str]]:
    """IDs of every resource type the stack makes, in the demo project."""
    project = conn.current_project_id
    net, compute = conn.network, conn.compute
    listings: dict[str, Callable[[], Any]] = {
        "networks": lambda: net.networks(project_id=project),
        "subnets": lambda: net.subnets(project_id=project),
        "routers": lambda: net.routers(project_id=project),
        "ports": lambda: net.ports(project_id=project),
        "floating_ips": lambda: net.ips(project_id=project),
        "security_groups": lambda: net.security_groups(project_id=project),
        "security_group_rules": lambda: net.security_group_rules(project_id=project),
        "server_groups": lambda: compute.server_groups(),
        "servers": lambda: compute.servers(),
    }
    return {kind: {item.id for item in listings[kind]()} for kind in CENSUS_KINDS}


def counts(ids: dict[str, set[str]]) -> dict[str, int]:
    return {kind: len(ids[kind]) for kind in CENSUS_KINDS}


def assert_same_census(conn: Any, before: dict[str, set[str]], label: str) -> None:
    after = census(conn)
    say(f"{label}: before {counts(before)}")
    say(f"{label}: after  {counts(after)}")
    left = {kind: sorted(after[kind] - before[kind]) for kind in CENSUS_KINDS
            if after[kind] - before[kind]}
    assert not left, f"{label}: left in the demo project: {left}"
    assert counts(after) == counts(before), f"{label}: counts differ"


FINDERS: dict[str, Callable[[Any, str], Any]] = {
    "openstack:networking/network:Network": lambda c, i: c.network.find_network(i),
    "openstack:networking/subnet:Subnet": lambda c, i: c.network.find_subnet(i),
    "openstack:networking/router:Router": lambda c, i: c.network.find_router(i),
    "openstack:networking/routerInterface:RouterInterface": lambda c, i: c.network.find_port(i),
    "openstack:networking/port:Port": lambda c, i: c.network.find_port(i),
    "openstack:networking/floatingIp:FloatingIp": lambda c, i: c.network.find_ip(i),
    "openstack:networking/secGroup:SecGroup": lambda c, i: c.network.find_security_group(i),
    "openstack:networking/secGroupRule:SecGroupRule":
        lambda c, i: c.network.find_security_group_rule(i),
    "openstack:compute/serverGroup:ServerGroup": lambda c, i: c.compute.find_server_group(i),
    "openstack:compute/instance:Instance": lambda c, i: c.compute.find_server(i),
}


def assert_all_gone(conn: Any, stack_ids: dict[str, str]) -> None:
    """Every cloud ID the stack's state held must be gone from the cloud."""
    alive = {}
    for resource_id, type_ in stack_ids.items():
        finder = FINDERS.get(type_)
        assert finder, f"no finder for {type_}: extend FINDERS"
        if finder(conn, resource_id) is not None:
            alive[resource_id] = type_
    assert not alive, f"still in the cloud after destroy: {alive}"


# --------------------------------------------------------------------------- the engine


@dataclass
class Stack:
    env: dict[str, str]
    cwd: Path
    name: str
    timings: dict[str, float] = field(default_factory=dict)

    def pulumi(self, *args: str, check: bool = True,
               timed: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(BIN / "pulumi"), *args, "--non-interactive", "--color", "never"]
        if args[0] not in ("stack", "config", "plugin"):
            cmd += ["--stack", self.name]
        started = time.monotonic()
        res = subprocess.run(cmd, cwd=self.cwd, env=self.env, capture_output=True, text=True,
                             timeout=TIMEOUT)
        took = time.monotonic() - started
        if timed:
            self.timings[timed] = took
            say(f"{self.name}: pulumi {' '.join(args)}: {took:.1f} s (exit {res.returncode})")
        if check and res.returncode != 0:
            raise PulumiFailed(f"pulumi {' '.join(args)} exited {res.returncode}\n"
                        f"--- stdout\n{res.stdout[-20000:]}\n--- stderr\n{res.stderr[-5000:]}")
        return res

    def config(self, *args: str) -> None:
        self.pulumi("config", *args, "--stack", self.name)

    def outputs(self) -> dict[str, Any]:
        out = self.pulumi("stack", "output", "--json", "--stack", self.name).stdout
        return dict(json.loads(out))

    def resources(self) -> list[dict[str, Any]]:
        exported = json.loads(self.pulumi("stack", "export", "--stack", self.name).stdout)
        return list(exported["deployment"].get("resources") or [])

    def cloud_ids(self) -> dict[str, str]:
        return {r["id"]: r["type"] for r in self.resources()
                if r.get("custom") and r["type"].startswith("openstack:") and r.get("id")}

    def destroy(self) -> None:
        res = self.pulumi("destroy", "--yes", "--skip-preview", check=False, timed="destroy")
        if res.returncode != 0:  # one retry: a loaded Nova can be slow to free a port
            time.sleep(10)
            self.pulumi("destroy", "--yes", "--skip-preview", timed="destroy (retry)")


def engine_setup(root: Path) -> dict[str, Any]:
    """PATH, a private PULUMI_HOME with our provider plugins and a file backend, in `root`;
    raises ToolchainMissing (with the command that builds it) when a piece is missing."""
    require((BIN / "pulumi").is_file(), f"no Pulumi CLI at {BIN / 'pulumi'}: run "
            "`VRRP_PULUMI_VERSION=v3.274.1 bash toolchain/install-pulumi-toolchain`")
    require((BIN / "pulumi-language-python").exists(),
            "no language host: run `toolchain/install-language-host`")
    env = engine_env(root, PASSPHRASE, drop=("PULUMI_", "OS_"))
    env.update(OS_CLIENT_CONFIG_FILE=str(CLOUDS_YAML), OS_CLOUD=CLOUD)
    for name, version in PLUGINS.items():
        binary = PLUGIN_HOME / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
        require(binary.is_file(), f"no {binary}: run `toolchain/providers/build`")
        subprocess.run([str(BIN / "pulumi"), "plugin", "install", "resource", name, version,
                        "--file", str(binary)], env=env, check=True, capture_output=True,
                       timeout=TIMEOUT)
    return {"root": root, "env": env}


def program_copy(root: Path, dirname: str) -> Path:
    """The repository's program, its venv made absolute (the copy has no .venv)."""
    project = root / dirname
    project.mkdir()
    for name in PROGRAM_FILES:
        shutil.copy2(PROGRAM_SOURCE / name, project / name)
    pulumi_yaml = project / "Pulumi.yaml"
    text = pulumi_yaml.read_text()
    assert "virtualenv: .venv" in text
    pulumi_yaml.write_text(text.replace("virtualenv: .venv", f"virtualenv: {venv_dir()}"))
    return project


def new_stack(engine: dict[str, Any], name: str) -> Stack:
    project = program_copy(engine["root"], f"project-{name}")
    stack = Stack(env=dict(engine["env"]), cwd=project, name=name)
    stack.pulumi("stack", "init", name)
    return stack
