"""The drill's and the smoke check's logic in this process, on scripted probes and a clock
that moves only when they sleep (the CLI tests run them in a child process, out of mutation
testing's sight): who counts as the steady master, when waiting ends, what a drill reports,
which ports a repair touches, and the CLI's answers; probes against a loopback web server."""

from __future__ import annotations

import argparse
import http.server
import json
import shlex
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from vrrp_pair import failover_check
from vrrp_pair.failover_check import (
    DrillResult,
    _guard_argv,
    _make_switch,
    _parse_members,
    command_line,
    drill,
    main,
    probe_once,
    restore_disabled,
    stable_master,
    wait_until_serving,
)
from vrrp_pair.port_switch import CommandSwitch, NeutronSwitch, PortState, Restored
from vrrp_pair.probe import once

from tests.scripted_prober import scripted

URL = "http://vip/"


class _Clock:
    """Time moves only when the code under test sleeps; it starts at 1000 s, as a monotonic
    clock does not start at zero (elapsed times are differences)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(failover_check.time, "sleep", self.sleep)

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class _Probes:
    """probe_once answering from a script (its last answer repeats); records timeouts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: list[str | None]) -> None:
        self.answers = answers
        self.timeouts: list[float] = []
        monkeypatch.setattr(failover_check, "probe_once", self)

    def __call__(self, url: str, timeout: float) -> str | None:
        assert url == URL
        self.timeouts.append(timeout)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_with_no_settle_the_first_answer_is_the_master(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    probes = _Probes(monkeypatch, ["b"])
    assert stable_master(URL, ["a", "b"], clock=clock) == "b"
    assert probes.timeouts == [5.0]


def test_the_master_is_the_one_that_answered_for_settle_seconds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    probes = _Probes(monkeypatch, [None, "b", "a", "a", "a", "b"])
    assert stable_master(URL, ["a", "b"], settle=1.0, wait=10.0, interval=0.5,
                         clock=clock) == "a"
    assert clock.now == 1002.0 and len(probes.timeouts) == 5


def test_a_foreign_answer_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    _Probes(monkeypatch, ["a", "someone-else"])
    with pytest.raises(RuntimeError) as error:
        stable_master(URL, ["a", "b"], settle=5.0, wait=10.0, interval=1.0, clock=clock)
    assert str(error.value) == "http://vip/ answered 'someone-else', not one of a, b"
    assert clock.now == 1001.0


def test_no_steady_master_within_the_wait_disables_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    _Probes(monkeypatch, ["a", "b", None] * 5)
    with pytest.raises(RuntimeError) as error:
        stable_master(URL, ["a", "b"], settle=1.5, wait=6.0, interval=0.5, clock=clock)
    # 13 probes (0 to 6 s): the last ten, oldest first
    assert str(error.value) == (
        "http://vip/: no member answered steadily for 1.5 s within 6 s (last answers, oldest "
        "first: ['a', 'b', None, 'a', 'b', None, 'a', 'b', None, 'a']); not one of a, b holds "
        "the address yet, so no port was disabled")
    assert clock.now == 1006.0


def test_a_master_steady_exactly_at_the_wait_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    _Probes(monkeypatch, ["a"])
    assert stable_master(URL, ["a"], settle=2.0, wait=2.0, interval=1.0, clock=clock) == "a"
    assert clock.now == 1002.0


def test_smoke_waits_for_the_first_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    probes = _Probes(monkeypatch, [None, None, "m1"])
    assert wait_until_serving(URL, 10.0, interval=2.0, clock=clock) == ("m1", 4.0)
    assert probes.timeouts == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("interval,timeout", [(0.1, 0.5), (0.5, 0.5), (3.0, 3.0), (9.0, 5.0)])
def test_smoke_probe_timeout_is_the_interval_within_half_a_second_and_five(
        monkeypatch: pytest.MonkeyPatch, interval: float, timeout: float) -> None:
    clock = _Clock(monkeypatch)
    probes = _Probes(monkeypatch, ["m1"])
    wait_until_serving(URL, 10.0, interval=interval, clock=clock)
    assert probes.timeouts == [timeout]


def test_smoke_gives_up_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    probes = _Probes(monkeypatch, [None])
    with pytest.raises(TimeoutError) as error:
        wait_until_serving(URL, 4.0, interval=2.0, clock=clock)
    assert str(error.value) == "http://vip/ did not serve within 4 s"
    assert len(probes.timeouts) == 3 and clock.now == 1004.0  # at 0, 2 and 4 s


class _Switch:
    def __init__(self, disabled: set[str] | None = None, fail_disable: bool = False) -> None:
        self.disabled = disabled or set()
        self.fail_disable = fail_disable
        self.calls: list[str] = []

    def port_id(self, member: str) -> str:
        return f"port-{member}"

    def disable(self, member: str) -> None:
        self.calls.append(f"disable {member}")
        if self.fail_disable:
            raise RuntimeError("quota")
        self.disabled.add(member)

    def enable(self, member: str) -> None:
        self.calls.append(f"enable {member}")
        self.disabled.discard(member)

    def state(self, member: str) -> PortState:
        return PortState(member not in self.disabled, f"{member} checked")

    def manual_restore(self, member: str) -> str:
        return f"enable {member}"


def test_a_drill_reports_the_failover_as_the_client_saw_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    _Probes(monkeypatch, ["a", None, None, "b"])
    switch = _Switch()
    result = drill(URL, ["a", "b"], switch, timeout=10.0, probe_interval=0.25, clock=clock,
                   prober=scripted(clock))
    assert result == DrillResult(
        old_master="a", new_master="b", seconds_until_new_master=0.5, downtime_seconds=0.5,
        probes=4, failed_probes=2,
        port_restored=asdict(Restored("a", "port-a", True, "a checked")))
    assert switch.calls == ["disable a", "enable a"] and not switch.disabled


def test_a_drill_without_a_new_master_says_so_and_restores(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    _Probes(monkeypatch, ["a", None, "a", None])
    switch = _Switch()
    result = drill(URL, ["a", "b"], switch, timeout=1.0, probe_interval=0.25, clock=clock,
                   prober=scripted(clock))
    assert (result.new_master, result.seconds_until_new_master, result.downtime_seconds) == (
        None, None, None)
    # the master's answer, then probes at 0, 0.25, 0.5 and 0.75 s: None, a, None, None
    assert result.probes == 5 and result.failed_probes == 3
    assert switch.calls == ["disable a", "enable a"]


def test_a_port_that_cannot_be_disabled_ends_the_drill(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock(monkeypatch)
    _Probes(monkeypatch, ["a"])
    switch = _Switch(fail_disable=True)
    with pytest.raises(RuntimeError) as error:
        drill(URL, ["a", "b"], switch, timeout=10.0, clock=clock, prober=scripted(clock))
    assert str(error.value) == "could not disable a's port: quota"
    assert switch.calls == ["disable a", "enable a"]


def test_repair_enables_only_the_disabled_ports() -> None:
    switch = _Switch(disabled={"b"})
    assert restore_disabled(switch, ["a", "b", "c"]) == {
        "checked": ["a", "b", "c"],
        "restored": [{"member": "b", "port_id": "port-b", "verified": True,
                      "detail": "b checked"}]}
    assert switch.calls == ["enable b"]


def test_members_are_name_equals_port() -> None:
    assert _parse_members(["a=p1", "b=p=2", "c"]) == {"a": "p1", "b": "p=2", "c": ""}
    assert _parse_members([]) == {}


def test_the_command_lines_name_this_module_and_this_python() -> None:
    assert command_line("smoke", ["--url", "http://x/ y"]) == (
        f"{shlex.quote(sys.executable)} -m vrrp_pair.failover_check smoke --url 'http://x/ y'")
    args = argparse.Namespace(switch="command", enable_cmd="on {member}", check_cmd="chk")
    assert _guard_argv(args, "a", "p1") == [
        sys.executable, "-m", "vrrp_pair.failover_check", "guard", "--member", "a=p1",
        "--switch", "command", "--enable-cmd", "on {member}", "--check-cmd", "chk"]


def test_the_switch_is_the_one_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    args = argparse.Namespace(switch="command", disable_cmd="off", enable_cmd="on",
                              check_cmd="chk")
    switch = _make_switch(args, {"a": "p1"})
    assert isinstance(switch, CommandSwitch)
    assert switch.manual_restore("a") == "on" and switch.port_id("a") == "p1"
    sdk = types.ModuleType("openstack")
    sdk.connect = lambda: types.SimpleNamespace(network=None)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "openstack", sdk)
    neutron = _make_switch(argparse.Namespace(switch="openstack"), {"a": "p1"})
    assert isinstance(neutron, NeutronSwitch) and neutron.port_id("a") == "p1"


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        bodies = {"/": b"  vrrp-node-1 \n", "/empty": b"\n", "/long": b"x" * 300}
        body = bodies.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"vrrp-node-2")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_probe_reads_the_member_s_name(site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(failover_check.NETNS_ENV, raising=False)
    assert once(f"{site}/", 2.0) == "vrrp-node-1"
    assert probe_once(f"{site}/", 2.0) == "vrrp-node-1"
    assert once(f"{site}/empty", 2.0) is None
    assert once(f"{site}/long", 2.0) == "x" * 300  # the page's first word, whole
    assert once(f"{site}/missing", 2.0) is None  # an error page is no answer
    assert once("not a url", 2.0) is None


def test_a_probe_in_a_missing_namespace_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(failover_check.NETNS_ENV, "no-such-netns-here")
    monkeypatch.setattr(failover_check, "_prober", None)
    with pytest.raises(RuntimeError) as error:
        probe_once("http://127.0.0.1:9/", 1.0)
    assert str(error.value) == ("VRRP_CHECK_NETNS=no-such-netns-here: no such network "
                                "namespace (/run/netns/no-such-netns-here)")


def test_cli_smoke_prints_who_served(site: str, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(failover_check.NETNS_ENV, raising=False)
    assert main(["smoke", "--url", f"{site}/", "--deadline", "5", "--interval", "0.1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["url"] == f"{site}/" and report["served_by"] == "vrrp-node-1"
    assert 0 <= report["seconds_to_first_answer"] < 5


def test_cli_smoke_fails_at_its_deadline(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(failover_check.NETNS_ENV, raising=False)
    _Clock(monkeypatch)
    _Probes(monkeypatch, [None])
    assert main(["smoke", "--url", URL, "--deadline", "0"]) == 1
    assert capsys.readouterr().err == "smoke check failed: http://vip/ did not serve within 0 s\n"


def test_cli_restore_without_members_checks_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restore"]) == 0
    assert json.loads(capsys.readouterr().out) == {"checked": [], "restored": []}


def test_cli_restore_enables_a_disabled_port(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    flag = tmp_path / "enabled"
    argv = ["restore", "--member", "a=p1", "--switch", "command",
            "--enable-cmd", f"touch {flag}", "--check-cmd", f"test -e {flag}"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"checked": ["a"], "restored": [
        {"member": "a", "port_id": "p1", "verified": True, "detail": "check command exited 0"}]}
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"checked": ["a"], "restored": []}


@pytest.mark.parametrize("argv", [
    ["drill", "--url", URL, "--member", "a=p", "--switch", "command", "--enable-cmd", "on"],
    ["drill", "--url", URL, "--member", "a=p", "--switch", "command", "--disable-cmd", "off"],
    ["restore", "--member", "a=p", "--switch", "command"],
    ["guard", "--member", "a=p", "--switch", "command", "--disable-cmd", "off"],
], ids=["drill-no-disable", "drill-no-enable", "restore-no-enable", "guard-no-enable"])
def test_cli_command_switch_needs_its_commands(argv: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "--switch command needs --disable-cmd and --enable-cmd" in capsys.readouterr().err
