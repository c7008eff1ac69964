"""The failover drill runs again only when its triggers change, through the real engine.

A Pulumi program declares the component's drill command (components.checks.check_command,
`failover_check drill --switch command`) against a web server on 127.0.0.1 that plays a
two-member pair: node-1 answers until its "port" file exists, then node-2. `pulumi up`
is then run from a second checkout (another directory, so another PYTHONPATH), with
another interpreter path, and with a changed trigger; only the last may disable a port.
File backend, our command provider; nothing leaves this machine.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .test_dev_stack_preview import config_set, engine  # noqa: F401 (fixture)
from .test_language_host import REPO, Cli, venv_dir

PROGRAM = '''
import pulumi

from components.checks import check_command
from components.failover_check import command_line

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
    """node-1 serves until state/port-1 exists; node-2 serves all the time behind it."""

    def __init__(self, state: Path) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (b"vrrp-node-2\n" if (state / "port-1").exists() else b"vrrp-node-1\n")
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake_pair(tmp_path: Path) -> Iterator[tuple[FakePair, Path]]:
    state = tmp_path / "ports"
    state.mkdir()
    pair = FakePair(state)
    yield pair, state
    pair.server.shutdown()


def checkout(root: Path, venv: Path) -> Path:
    """A project directory with its own copy of components/ (its own PYTHONPATH)."""
    root.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({
        "name": "drilltest", "runtime": {"name": "python", "options": {
            "virtualenv": str(venv)}}}))
    (root / "__main__.py").write_text(PROGRAM)
    shutil.copytree(REPO / "components", root / "components",
                    ignore=shutil.ignore_patterns("__pycache__"))
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

    # Another checkout of the same project, same stack: PYTHONPATH differs.
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
