"""The drill's guard rails in this process (the drill tests run them in a child process, out
of mutation testing's sight): the signal gate's handlers and deferral, and guard()'s choice
between leaving the ports alone and restoring each of them."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from vrrp_pair import drill_guard
from vrrp_pair.drill_guard import (
    CATCHABLE,
    READY,
    RELEASE,
    Interrupted,
    SignalGate,
    guard,
    guardian_log,
)
from vrrp_pair.port_switch import PortState, restore


@pytest.fixture
def handlers() -> Iterator[None]:
    """guard() installs handlers of its own: the test process gets its own back."""
    saved = {signum: signal.getsignal(signum) for signum in CATCHABLE}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_interrupted_names_the_signal() -> None:
    error = Interrupted(signal.SIGTERM)
    assert str(error) == "interrupted by SIGTERM" and error.signum == signal.SIGTERM
    assert not isinstance(error, Exception)


def test_the_gate_handles_the_catchable_signals_only_while_entered(handlers: None) -> None:
    before = {signum: signal.getsignal(signum) for signum in CATCHABLE}
    gate = SignalGate()
    with gate:
        for signum in CATCHABLE:
            assert signal.getsignal(signum) == gate._handle
    assert {signum: signal.getsignal(signum) for signum in CATCHABLE} == before
    assert set(CATCHABLE) == {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}


def test_a_signal_outside_hold_raises_at_once() -> None:
    gate = SignalGate()
    with pytest.raises(Interrupted) as error:
        gate._handle(signal.SIGHUP, None)
    assert error.value.signum == signal.SIGHUP


def test_signals_inside_hold_wait_and_the_first_is_raised_after_it() -> None:
    gate = SignalGate()
    done = []
    with pytest.raises(Interrupted) as error, gate.hold():
        gate._handle(signal.SIGTERM, None)
        gate._handle(signal.SIGINT, None)
        done.append("held")
    assert done == ["held"] and error.value.signum == signal.SIGTERM
    # after hold: raised at once again
    with pytest.raises(Interrupted):
        gate._handle(signal.SIGINT, None)


def test_hold_without_signals_raises_nothing() -> None:
    gate = SignalGate()
    with gate.hold():
        pass
    with pytest.raises(ZeroDivisionError), gate.hold():  # its own errors pass through
        1 / 0  # noqa: B018


def test_the_guardian_logs_in_the_temporary_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drill_guard.tempfile, "gettempdir", lambda: "/some/tmp")
    assert guardian_log(4242) == "/some/tmp/vrrp-pair-drill-guardian-4242.log"


class _Switch:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.enabled: list[str] = []

    def port_id(self, member: str) -> str:
        return f"port-{member}"

    def disable(self, member: str) -> None:
        raise AssertionError("the guardian never disables")

    def enable(self, member: str) -> None:
        if member in self.failing:
            raise RuntimeError("api down")
        self.enabled.append(member)

    def state(self, member: str) -> PortState:
        return PortState(True, f"{member} up")

    def manual_restore(self, member: str) -> str:
        return f"enable {member}"


@pytest.fixture
def quick_restore(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """restore() as guard() calls it, on a clock that jumps a minute at each sleep."""
    deadlines: list[float] = []
    now = [0.0]

    def tick() -> float:
        now[0] += 60.0
        return now[0]

    def quick(switch: Any, member: str, deadline: float) -> Any:
        deadlines.append(deadline)
        return restore(switch, member, deadline=deadline, interval=0.0, clock=tick)

    monkeypatch.setattr(drill_guard, "restore", quick)
    return deadlines


def test_released_the_guardian_leaves_every_port_alone(
        handlers: None, quick_restore: list[float]) -> None:
    switch, ready = _Switch(), io.BytesIO()
    assert guard(lambda: switch, ["a", "b"], io.BytesIO(RELEASE), ready) == 0
    assert ready.getvalue() == READY and switch.enabled == [] and quick_restore == []


def test_closed_without_a_word_the_guardian_restores_every_port(
        handlers: None, quick_restore: list[float], capsys: pytest.CaptureFixture[str]) -> None:
    switch = _Switch()
    assert guard(lambda: switch, ["a", "b"], io.BytesIO(b""), io.BytesIO()) == 0
    assert switch.enabled == ["a", "b"] and quick_restore == [600.0, 600.0]
    err = capsys.readouterr().err
    assert ("failover drill guardian: the drill ended without restoring a's port port-a; "
            "restoring it") in err
    assert "failover drill guardian: b's port port-b is enabled again (b up)" in err


def test_a_port_the_guardian_cannot_restore_fails_it_after_trying_the_others(
        handlers: None, quick_restore: list[float], capsys: pytest.CaptureFixture[str]) -> None:
    switch = _Switch(failing={"a"})
    assert guard(lambda: switch, ["a", "b"], io.BytesIO(b"junk"), io.BytesIO()) == 2
    assert switch.enabled == ["b"]
    assert ("failover drill guardian: could not re-enable a's port port-a: RuntimeError: "
            "api down; restore it with: enable a") in capsys.readouterr().err


def test_the_guardian_handles_the_stop_signals(handlers: None, quick_restore: list[float]) -> None:
    guard(lambda: _Switch(), [], io.BytesIO(RELEASE), io.BytesIO())
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        assert callable(signal.getsignal(signum))
        assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.SIG_IGN,
                                                signal.default_int_handler)


class _Stream:
    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.text, self.flushed = error, "", False

    def write(self, text: str) -> int:
        if self.error:
            raise self.error
        self.text += text
        return len(text)

    def flush(self) -> None:
        self.flushed = True


def test_say_writes_a_flushed_line_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Stream()
    monkeypatch.setattr(drill_guard.sys, "stderr", stream)
    drill_guard.say("port restored")
    assert stream.text == "port restored\n" and stream.flushed


@pytest.mark.parametrize("error", [OSError(5, "EIO"), ValueError("I/O on closed file")])
def test_say_to_a_stderr_that_is_gone_is_no_error(monkeypatch: pytest.MonkeyPatch,
                                                  error: Exception) -> None:
    monkeypatch.setattr(drill_guard.sys, "stderr", _Stream(error))
    drill_guard.say("nobody listens")
