"""The failover drill runs again only when its triggers change, through the real engine.

A Pulumi program declares the component's drill command (vrrp_pair.checks.check_command,
`failover_check drill --switch command`) against a web server on 127.0.0.1 that plays a
two-member pair: node-1 answers until its "port" file exists, then node-2. `pulumi up`
is then run from a second project directory, with another interpreter path (another venv
over the installed `vrrp_pair`), and with a changed trigger; only the last may disable a
port.
File backend, our command provider; nothing leaves this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.member_pages import MemberPages

from .test_dev_stack_preview import config_set, engine  # noqa: F401 (fixture)
from .test_language_host import BIN, Cli, venv_dir

PROGRAM = '''
import pulumi

from vrrp_pair.checks import check_command
from vrrp_pair.failover_check import command_line

config = pulumi.Config()
state = config.require("state")
drill = check_command(
    "drill",
    create=command_line("drill", [
        "--url", config.require("url"), "--timeout", "20",
        "--member", "vrrp-node-1=port-1", "--member", "vrrp-node-2=port-2",
        "--switch", "command",
        "--disable-cmd", f"echo {{member}} >> {state}/disabled && touch {state}/{{port_id}}",
        "--enable-cmd", f"rm -f {state}/{{port_id}}",
        "--check-cmd", f"test ! -e {state}/{{port_id}}"]),
    triggers=[config.require("generation")],
    opts=pulumi.ResourceOptions())
pulumi.export("drill", drill.stdout)
'''


class FakePair:
    """node-1 serves until state/port-1 exists; then node-2 (if backup_answers) or nobody."""

    def __init__(self, state: Path) -> None:
        self.backup_answers = True
        self.pages = MemberPages(lambda: self._answer(state))
        self.url = self.pages.url

    def _answer(self, state: Path) -> str | None:
        if not (state / "port-1").exists():
            return "vrrp-node-1"
        return "vrrp-node-2" if self.backup_answers else None


@pytest.fixture
def fake_pair(tmp_path: Path) -> Iterator[tuple[FakePair, Path]]:
    state = tmp_path / "ports"
    state.mkdir()
    pair = FakePair(state)
    yield pair, state
    pair.pages.close()


def checkout(root: Path, venv: Path) -> Path:
    """A project directory: the program only (the component is the venv's `vrrp_pair`)."""
    root.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({
        "name": "drilltest", "runtime": {"name": "python", "options": {
            "virtualenv": str(venv)}}}))
    (root / "__main__.py").write_text(PROGRAM)
    return root


def second_venv(root: Path) -> Path:
    """The same packages behind another interpreter path (sys.executable differs)."""
    venv = venv_dir()
    config = (venv / "pyvenv.cfg").read_text()
    home = next(line.split("=", 1)[1].strip() for line in config.splitlines()
                if line.startswith("home"))
    (root / "bin").mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(config)
    (root / "lib").symlink_to(venv / "lib")
    (root / "bin" / "python").symlink_to(Path(home) / "python3")
    return root


def disabled(state: Path) -> list[str]:
    log = state / "disabled"
    return log.read_text().split() if log.exists() else []


def test_drill_reruns_only_when_its_triggers_change(
        engine: dict[str, str], tmp_path: Path,  # noqa: F811 (fixture)
        fake_pair: tuple[FakePair, Path]) -> None:
    pair, state = fake_pair
    first = Cli(env=engine, cwd=checkout(tmp_path / "checkout-a", venv_dir()))
    first.run("stack", "init", "dev")
    config_set(first, "dev", {"drilltest:url": pair.url, "drilltest:state": str(state),
                              "drilltest:generation": "1"})
    first.run("up", "--yes")
    assert disabled(state) == ["vrrp-node-1"]
    assert not (state / "port-1").exists(), "the drill restored the port"
    result = json.loads(first.run("stack", "output", "drill").stdout)
    assert result["new_master"] == "vrrp-node-2" and result["port_restored"]["verified"] is True

    # The same project in another directory, same stack.
    moved = checkout(tmp_path / "checkout-b", venv_dir())
    shutil.copy(first.cwd / "Pulumi.dev.yaml", moved / "Pulumi.dev.yaml")
    second = Cli(env=engine, cwd=moved)
    second.run("stack", "select", "dev")
    up = second.run("up", "--yes")
    assert disabled(state) == ["vrrp-node-1"], up.stdout
    assert json.loads(second.run("stack", "output", "drill").stdout) == result

    # Another interpreter path (a second virtualenv over the same packages).
    other = second_venv(tmp_path / "venv-b")
    (moved / "Pulumi.yaml").write_text((moved / "Pulumi.yaml").read_text().replace(
        str(venv_dir()), str(other)))
    up = second.run("up", "--yes")
    assert disabled(state) == ["vrrp-node-1"], up.stdout
    assert json.loads(second.run("stack", "output", "drill").stdout) == result
    assert second.run("preview", "--expect-no-changes").returncode == 0

    # A member or port change (the trigger): the drill runs again.
    config_set(second, "dev", {"drilltest:generation": "2"})
    second.run("up", "--yes")
    assert disabled(state) == ["vrrp-node-1", "vrrp-node-1"]
    second.run("destroy", "--yes")




def processes_with(action: str, path: str) -> list[int]:
    """`python -m vrrp_pair.failover_check <action>` processes that name `path` (this
    test's own temporary directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if "python" in Path(argv[0]).name and argv[1:4] == [
                    "-m", "vrrp_pair.failover_check", action] and path in " ".join(argv):
                found.append(int(entry.name))
    return found


def test_up_killed_hard_mid_drill_leaves_no_port_disabled(
        engine: dict[str, str], tmp_path: Path,  # noqa: F811 (fixture)
        fake_pair: tuple[FakePair, Path]) -> None:
    """SIGKILL to `pulumi up` (its process group) and to the drill itself while the
    master's port is disabled and no backup answers: the guardian, in a session of its
    own, restores the port. (Killing only `pulumi up` leaves the drill running: plugins
    and their commands are outside the CLI's process group; it restores the port itself
    when its probing times out.)"""
    pair, state = fake_pair
    pair.backup_answers = False
    cli = Cli(env=engine, cwd=checkout(tmp_path / "checkout", venv_dir()))
    cli.run("stack", "init", "killed")
    config_set(cli, "killed", {"drilltest:url": pair.url, "drilltest:state": str(state),
                            "drilltest:generation": "1"})
    up = subprocess.Popen([str(BIN / "pulumi"), "up", "--yes", "--non-interactive"],
                          cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (state / "port-1").exists():
        assert up.poll() is None and time.monotonic() < deadline, up.communicate()[0]
        time.sleep(0.05)
    (drill,) = processes_with("drill", str(state))
    (guardian,) = processes_with("guard", str(state))
    os.killpg(up.pid, signal.SIGKILL)
    os.kill(drill, signal.SIGKILL)
    killed = time.monotonic()
    up.wait(timeout=30)
    while (state / "port-1").exists():
        assert time.monotonic() - killed < 60, "port-1 is still disabled a minute later"
        time.sleep(0.05)
    print(f"\nport restored by the guardian {time.monotonic() - killed:.2f} s after SIGKILL")
    deadline = time.monotonic() + 30
    while processes_with("guard", str(state)):
        assert time.monotonic() < deadline, f"guardian {guardian} did not exit"
        time.sleep(0.1)

    # What the README says follows: the killed update still holds the stack's lock
    # (`pulumi cancel` releases it), and the next `up` creates the drill again (the
    # interrupted create is a pending operation) and runs it to the end.
    pair.backup_answers = True
    locked = cli.run("up", "--yes", check=False)
    assert locked.returncode != 0 and "pulumi cancel" in locked.stderr, locked.stderr
    cli.run("cancel", "--yes")
    again = cli.run("up", "--yes")
    assert "pending operations" in again.stdout and "interrupted while creating" in again.stdout
    assert disabled(state) == ["vrrp-node-1", "vrrp-node-1"] and not (state / "port-1").exists()
    assert json.loads(cli.run("stack", "output", "drill").stdout)["new_master"] == "vrrp-node-2"
