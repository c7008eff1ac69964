"""The failover drill never leaves a port disabled: errors, signals, SIGKILL.

In-process tests drive `drill()` with a scripted switch and real signals sent to
this process. The CLI tests run `python -m vrrp_pair.failover_check drill
--switch command` as a real process against a web server on 127.0.0.1 whose
member page goes away while a "port" file says the port is disabled (disable:
create the file, enable: remove it, check: the file is absent), then signal or
SIGKILL the drill and look at the file. The namespace lab does the same with a
real keepalived pair (tests/lab/test_drill_safety_lab.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vrrp_pair import failover_check
from vrrp_pair.drill_guard import Interrupted, SignalGate, guardian_log
from vrrp_pair.port_switch import PortState, RestoreFailed, restore

from tests.member_pages import MemberPages
from tests.scripted_prober import scripted


class Switch:
    """Records calls; `on_enable` runs inside enable (to send a signal mid-restore)."""

    def __init__(self, fail_enables: int = 0, on_disable: object = None,
                 on_enable: object = None) -> None:
        self.calls: list[str] = []
        self.fail_enables = fail_enables
        self.on_disable, self.on_enable = on_disable, on_enable
        self.down = False

    def port_id(self, member: str) -> str:
        return "port-1"

    def disable(self, member: str) -> None:
        self.calls.append("disable")
        self.down = True
        if callable(self.on_disable):
            self.on_disable()

    def enable(self, member: str) -> None:
        self.calls.append("enable")
        if callable(self.on_enable):
            self.on_enable()
        if self.fail_enables:
            self.fail_enables -= 1
            raise ConnectionError("API unavailable")
        self.down = False

    def state(self, member: str) -> PortState:
        return PortState(not self.down, f"down={self.down}")

    def manual_restore(self, member: str) -> str:
        return "openstack port set --enable port-1"


def _answers(switch: Switch) -> object:
    return lambda url, timeout: None if switch.down else "vrrp-node-1"


def test_restore_retries_the_api_and_verifies() -> None:
    switch = Switch(fail_enables=2)
    switch.down = True
    restored = restore(switch, "vrrp-node-1", deadline=10, interval=0.01)
    assert switch.calls == ["enable"] * 3 and not switch.down
    assert restored.verified is True and restored.port_id == "port-1"


def test_restore_that_cannot_succeed_names_the_port_and_the_command() -> None:
    switch = Switch(fail_enables=10**6)
    switch.down = True
    with pytest.raises(RestoreFailed, match=r"vrrp-node-1's port port-1: ConnectionError: API "
                       r"unavailable; restore it with: openstack port set --enable port-1"):
        restore(switch, "vrrp-node-1", deadline=0.05, interval=0.01)


def test_an_error_while_probing_still_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    switch = Switch()
    calls = iter(["vrrp-node-1"])

    def probe(url: str, timeout: float) -> str | None:
        answer = next(calls, None)
        if answer is None:
            raise OSError("the client's own network went away")
        return answer

    monkeypatch.setattr(failover_check, "probe_once", probe)
    with pytest.raises(OSError):
        failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], switch, timeout=5,
                             prober=scripted())
    assert switch.calls == ["disable", "enable"] and not switch.down


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT])
def test_a_signal_mid_drill_restores_then_interrupts(monkeypatch: pytest.MonkeyPatch,
                                                      signum: int) -> None:
    switch = Switch(on_disable=lambda: threading.Timer(
        0.1, os.kill, (os.getpid(), signum)).start())
    monkeypatch.setattr(failover_check, "probe_once", _answers(switch))
    with SignalGate() as gate, pytest.raises(Interrupted) as stopped:
        failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], switch,
                             timeout=30, probe_interval=0.01, gate=gate, prober=scripted())
    assert stopped.value.signum == signum
    assert switch.calls == ["disable", "enable"] and not switch.down


def test_a_second_signal_during_the_restore_waits_for_it(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """Ctrl-C twice: the second one arrives inside enable(); the restore completes and
    is verified before the drill stops."""
    switch = Switch(on_disable=lambda: threading.Timer(
        0.1, os.kill, (os.getpid(), signal.SIGINT)).start(),
        on_enable=lambda: os.kill(os.getpid(), signal.SIGINT))
    monkeypatch.setattr(failover_check, "probe_once", _answers(switch))
    with SignalGate() as gate, pytest.raises(Interrupted):
        failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], switch,
                             timeout=30, gate=gate, prober=scripted())
    assert switch.calls == ["disable", "enable"] and not switch.down


# ---- the CLI as a real process ------------------------------------------------------------------


class Pair:
    """node-1's page on 127.0.0.1 while its "port" file is absent; nobody else answers."""

    def __init__(self, directory: Path) -> None:
        self.port_file = directory / "vrrp-node-1.disabled"
        self.pages = MemberPages(lambda: None if self.port_file.exists() else "vrrp-node-1")
        self.url = self.pages.url

    def drill(self, timeout: float = 60) -> subprocess.Popen[str]:
        """The drill: no other member ever answers, so it probes until stopped."""
        return subprocess.Popen(
            [sys.executable, "-m", "vrrp_pair.failover_check", "drill", "--url", self.url,
             "--member", "vrrp-node-1=port-1", "--member", "vrrp-node-2=port-2",
             "--switch", "command", "--timeout", str(timeout), "--probe-interval", "0.05",
             "--disable-cmd", f"touch {self.port_file}", "--enable-cmd", f"rm -f {self.port_file}",
             "--check-cmd", f"test ! -e {self.port_file}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_disabled(self, process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the drill never disabled the port"
            time.sleep(0.02)
        time.sleep(0.2)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    served = Pair(tmp_path)
    yield served
    served.pages.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_cli_drill_killed_by_a_signal_restores_and_says_so(pair: Pair, signum: int) -> None:
    process = pair.drill()
    pair.wait_disabled(process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert not pair.port_file.exists()
    assert "vrrp-node-1's port port-1 is enabled again (verified" in err, err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert out == ""


def test_cli_drill_killed_hard_is_restored_by_its_guardian(pair: Pair) -> None:
    process = pair.drill()
    pair.wait_disabled(process)
    process.kill()  # SIGKILL: nothing in the drill runs any more
    process.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while pair.port_file.exists():
        assert time.monotonic() < deadline, "the guardian did not restore the port"
        time.sleep(0.05)


def test_cli_drill_that_cannot_restore_fails_with_the_port_and_command(pair: Pair,
                                                                       tmp_path: Path) -> None:
    """The enable command fails every time: exit 2, the port ID and the restore command
    in the error (what `pulumi up` then shows), within the restore deadline."""
    process = subprocess.run(
        [sys.executable, "-m", "vrrp_pair.failover_check", "drill", "--restore-deadline", "2",
         "--url", pair.url, "--member", "vrrp-node-1=port-1",
         "--member", "vrrp-node-2=port-2", "--switch", "command", "--timeout", "1",
         "--disable-cmd", f"touch {pair.port_file}", "--enable-cmd", "false",
         "--check-cmd", f"test ! -e {pair.port_file}"],
        capture_output=True, text=True, timeout=120)
    assert process.returncode == 2, process.stderr
    assert ("could not re-enable vrrp-node-1's port port-1: CalledProcessError" in
            process.stderr), process.stderr
    assert "restore it with: false" in process.stderr
    guardian = int(process.stderr.split("a guardian (pid ", 1)[1].split(")", 1)[0])
    os.kill(guardian, signal.SIGKILL)  # it would retry `false` for ten minutes
    Path(guardian_log(guardian)).unlink(missing_ok=True)
    pair.port_file.unlink()


def test_cli_restore_enables_only_disabled_ports(pair: Pair) -> None:
    pair.port_file.touch()
    result = subprocess.run(
        [sys.executable, "-m", "vrrp_pair.failover_check", "restore",
         "--member", "vrrp-node-1=port-1", "--switch", "command",
         "--enable-cmd", f"rm -f {pair.port_file}", "--check-cmd", f"test ! -e {pair.port_file}"],
        capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(result.stdout)
    assert [r["member"] for r in report["restored"]] == ["vrrp-node-1"]
    assert report["restored"][0]["verified"] is True and not pair.port_file.exists()
    again = subprocess.run(
        [sys.executable, "-m", "vrrp_pair.failover_check", "restore",
         "--member", "vrrp-node-1=port-1", "--switch", "command",
         "--enable-cmd", "false", "--check-cmd", f"test ! -e {pair.port_file}"],
        capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(again.stdout)["restored"] == []


@pytest.mark.parametrize("samples,expected", [
    ([(0.0, True), (1.0, False), (2.5, True), (3.0, True)], 2.5),  # the gap between answers
    ([(0.0, True), (0.5, True), (1.0, False), (4.0, False)], 3.5),  # still down at the end
    ([(0.0, False), (2.0, False)], 2.0),  # nothing answered: all of it
    ([(0.0, True), (0.1, True)], 0.1),
    ([], 0.0),
    # from the first to the last probe, not from zero nor to the one before last
    ([(1.0, False), (2.0, False), (5.0, False)], 4.0),
    # silence before the first answer is no stretch between answers
    ([(1.0, False), (4.0, True)], 0.0),
    # still down: from the last answer (not an earlier one) to the last probe
    ([(1.0, True), (1.5, True), (2.0, True), (4.5, False), (5.0, False)], 3.0),
    # a gap longer than the silence at the end wins
    ([(1.0, True), (4.0, True), (4.5, False)], 3.0),
], ids=["gap", "down-at-end", "none-answered", "steady", "empty", "none-answered-from-first",
        "answered-only-last", "down-at-end-after-answers", "gap-beats-end"])
def test_client_downtime_is_the_longest_unanswered_stretch(
        samples: list[tuple[float, bool]], expected: float) -> None:
    assert failover_check.client_downtime(samples) == pytest.approx(expected)
