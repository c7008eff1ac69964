"""The port switches and `restore`, in this process (the drill tests run them through the
CLI in a child process, out of mutation testing's sight): the labs' command switch with real
shell commands, the Neutron switch against a stand-in for openstacksdk, and `restore` on a
scripted switch and clock, at and around its deadline."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from vrrp_pair import port_switch
from vrrp_pair.port_switch import (
    CommandSwitch,
    NeutronSwitch,
    PortState,
    Restored,
    RestoreFailed,
    restore,
)


def test_command_switch_runs_its_templates_with_quoted_words(tmp_path: Path) -> None:
    log = tmp_path / "log"
    switch = CommandSwitch(f"echo off {{member}} {{port_id}} >> {log}",
                           f"echo on {{member}} {{port_id}} >> {log}",
                           {"node 1": "port;1"})
    switch.disable("node 1")
    switch.enable("node 1")
    assert log.read_text() == "off node 1 port;1\non node 1 port;1\n"
    assert switch.port_id("node 1") == "port;1"
    assert switch.port_id("unknown") == ""
    assert switch.manual_restore("node 1") == f"echo on 'node 1' 'port;1' >> {log}"


def test_command_switch_failures_raise() -> None:
    switch = CommandSwitch("exit 3", "exit 4", {"m": "p"})
    with pytest.raises(subprocess.CalledProcessError) as disabled:
        switch.disable("m")
    assert disabled.value.returncode == 3
    with pytest.raises(subprocess.CalledProcessError) as enabled:
        switch.enable("m")
    assert enabled.value.returncode == 4


def test_command_switch_state_is_its_check_command_s_exit_status(tmp_path: Path) -> None:
    flag = tmp_path / "enabled"
    switch = CommandSwitch("true", "true", {"m": "p"}, check=f"test -e {flag}")
    assert switch.state("m") == PortState(False, "check command exited 1")
    flag.touch()
    assert switch.state("m") == PortState(True, "check command exited 0")
    quiet = CommandSwitch("true", "true", {"m": "p"}, check="echo noise; exit 7")
    assert quiet.state("m") == PortState(False, "check command exited 7")
    per_member = CommandSwitch("true", "true", {"m 1": "p"}, check=f"test -e {tmp_path}/{{member}}")
    assert per_member.state("m 1").enabled is False
    (tmp_path / "m 1").touch()
    assert per_member.state("m 1") == PortState(True, "check command exited 0")


def test_command_switch_without_a_check_cannot_tell() -> None:
    assert (CommandSwitch("true", "true", {"m": "p"}).state("m")
            == PortState(None, "no --check-cmd to verify with"))


class _Port:
    def __init__(self, up: bool, status: str) -> None:
        self.is_admin_state_up, self.status = up, status


class _Network:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.up = True

    def update_port(self, port_id: str, admin_state_up: bool) -> None:
        self.calls.append((port_id, admin_state_up))
        self.up = admin_state_up

    def get_port(self, port_id: str) -> _Port:
        assert port_id == "port-1", port_id
        return _Port(self.up, "ACTIVE" if self.up else "DOWN")


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> _Network:
    fake = _Network()
    sdk = types.ModuleType("openstack")
    sdk.connect = lambda: types.SimpleNamespace(network=fake)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "openstack", sdk)
    return fake


def test_neutron_switch_sets_admin_state_up(network: _Network) -> None:
    switch = NeutronSwitch({"m1": "port-1", "m2": "port 2"})
    switch.disable("m1")
    assert network.calls == [("port-1", False)]
    assert switch.state("m1") == PortState(False, "admin_state_up=False, status=DOWN")
    switch.enable("m1")
    assert network.calls == [("port-1", False), ("port-1", True)]
    assert switch.state("m1") == PortState(True, "admin_state_up=True, status=ACTIVE")
    assert switch.port_id("m2") == "port 2"
    assert switch.manual_restore("m2") == "openstack port set --enable 'port 2'"
    with pytest.raises(KeyError):
        switch.port_id("m3")


class _Scripted:
    """A switch whose enable() raises or passes, and whose state() answers, as scripted."""

    def __init__(self, enables: list[Exception | None], states: list[Any]) -> None:
        self.enables, self.states = enables, states
        self.enabled = 0

    def port_id(self, member: str) -> str:
        return f"{member}-port"

    def disable(self, member: str) -> None:
        raise AssertionError("restore never disables")

    def enable(self, member: str) -> None:
        error = self.enables.pop(0) if self.enables else None
        if error:
            raise error
        self.enabled += 1

    def state(self, member: str) -> PortState:
        answer = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, PortState)
        return answer

    def manual_restore(self, member: str) -> str:
        return f"enable {member}"


class _Clock:
    """Time moves only when restore sleeps."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        monkeypatch.setattr(port_switch.time, "sleep", self.sleep)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_restore_retries_enable_then_waits_for_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    switch = _Scripted([RuntimeError("api down"), OSError("again"), None],
                       [PortState(False, "down"), PortState(True, "up now")])
    restored = restore(switch, "m1", deadline=10.0, interval=2.0, clock=clock)
    assert restored == Restored("m1", "m1-port", True, "up now")
    assert switch.enabled == 1
    assert clock.sleeps == [2.0, 2.0, 2.0]  # two failed enables, one disabled state


def test_restore_of_a_switch_that_cannot_tell_is_unverified(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    switch = _Scripted([], [PortState(None, "cannot tell")])
    assert (restore(switch, "m1", clock=clock)
            == Restored("m1", "m1-port", None, "cannot tell"))
    assert clock.sleeps == []


def test_restore_gives_up_on_enable_at_the_deadline_with_the_manual_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    switch = _Scripted([RuntimeError("boom")] * 10, [PortState(True, "up")])
    with pytest.raises(RestoreFailed) as error:
        restore(switch, "m1", deadline=3.0, interval=1.0, clock=clock)
    assert str(error.value) == ("could not re-enable m1's port m1-port: RuntimeError: boom; "
                                "restore it with: enable m1")
    assert (error.value.member, error.value.port_id, error.value.command) == (
        "m1", "m1-port", "enable m1")
    # tried at 0, 1, 2 and 3 s: the last try is at the deadline itself
    assert clock.sleeps == [1.0, 1.0, 1.0] and clock.now == 103.0


def test_restore_gives_up_on_a_port_never_seen_enabled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    switch = _Scripted([], [PortState(False, "admin_state_up=False")])
    with pytest.raises(RestoreFailed) as error:
        restore(switch, "m1", deadline=2.0, interval=1.0, clock=clock)
    assert str(error.value) == (
        "could not re-enable m1's port m1-port: still not enabled after 2 s "
        "(admin_state_up=False); restore it with: enable m1")
    assert clock.sleeps == [1.0, 1.0]


def test_restore_keeps_reading_a_port_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    switch = _Scripted([], [OSError("timed out")])
    with pytest.raises(RestoreFailed) as error:
        restore(switch, "m1", deadline=1.0, interval=1.0, clock=clock)
    assert "(could not read the port: OSError: timed out)" in str(error.value)
    recovering = _Scripted([], [OSError("timed out"), PortState(True, "up")])
    assert restore(recovering, "m1", deadline=5.0, interval=1.0, clock=clock).verified is True


def test_restore_retries_once_a_second_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    switch = _Scripted([RuntimeError("busy"), None], [PortState(True, "up")])
    restore(switch, "m1", clock=clock)
    assert clock.sleeps == [1.0]
