"""Keeps an interrupted failover drill from leaving the master's port disabled.

Two layers, because a drill can be stopped in two ways:

* a signal it can catch (Ctrl-C, a cancelled `pulumi up`, `kill`): SignalGate turns
  SIGINT, SIGTERM, SIGHUP and SIGQUIT into an Interrupted exception, so the drill's
  `finally` re-enables the port; while it does, further signals are held back;
* one it cannot (SIGKILL, the OOM killer): before the port goes down the drill starts
  a Guardian, a watchdog in its own session that holds a pipe from the drill. When
  the pipe closes without the drill saying "restored", the guardian restores the
  port itself.

Neither survives the machine itself going away: then the next `pulumi up` (or
refresh) finds the port disabled and repairs it (components/checks.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType, TracebackType
from typing import IO

from .port_switch import PortSwitch, RestoreFailed, restore

CATCHABLE = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
RELEASE = b"restored\n"
ABANDON = b"abandoned\n"
READY = b"ready\n"
GUARD_DEADLINE = 600.0


def say(message: str) -> None:
    """A line on stderr; a closed stderr (the caller is gone) is not an error here."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """A catchable signal stopped the drill (BaseException: `except Exception` keeps out)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class SignalGate:
    """While entered, catchable signals raise Interrupted; `hold()` defers them."""

    def __init__(self) -> None:
        self._held: list[int] = []
        self._holding = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalGate:
        if threading.current_thread() is threading.main_thread():
            for signum in CATCHABLE:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._holding:
            self._held.append(signum)
        else:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Signals arriving inside are raised (the first of them) only after it."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._held:
            raise Interrupted(self._held[0])


class Guardian:
    """The watchdog process: restores the port unless released (see guard())."""

    def __init__(self, argv: Sequence[str], ready_timeout: float = 60.0) -> None:
        self._process = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, start_new_session=True)
        assert self._process.stdout is not None
        ready = _read_line(self._process.stdout, ready_timeout)
        if ready != READY:
            self._process.kill()
            raise RuntimeError("the guardian that would restore the port did not start "
                               f"(it said {ready!r}); nothing was disabled")

    @property
    def pid(self) -> int:
        return self._process.pid

    def release(self) -> None:
        """The drill restored the port itself: the guardian exits."""
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):
            self._process.stdin.write(RELEASE)
            self._process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)

    def abandon(self) -> str:
        """The drill could not restore the port: the guardian keeps trying on its own,
        off the drill's stderr (so whoever reads it, `pulumi up`, is not held up).
        Returns where it logs."""
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):
            self._process.stdin.write(ABANDON)
            self._process.stdin.close()
        return guardian_log(self._process.pid)


def guardian_log(pid: int) -> str:
    return os.path.join(tempfile.gettempdir(), f"vrrp-pair-drill-guardian-{pid}.log")


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else b""


def guard(make_switch: Callable[[], PortSwitch], members: Sequence[str],
          control: IO[bytes], ready: IO[bytes]) -> int:
    """The guardian's side: wait for the drill to close `control`; unless it wrote
    RELEASE first, restore every member's port. A catchable signal restores at once."""
    switch = make_switch()  # fails here, before the drill disables anything
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    ready.write(READY)
    ready.flush()
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(control.read()), daemon=True)
    reader.start()
    while reader.is_alive() and not stop.is_set():
        reader.join(0.2)
    if received and received[0] == RELEASE:
        return 0
    if received and received[0] == ABANDON:
        log = os.open(guardian_log(os.getpid()), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, sys.stderr.fileno())
    status = 0
    for member in members:
        say(f"failover drill guardian: the drill ended without restoring {member}'s port "
            f"{switch.port_id(member)}; restoring it")
        try:
            restored = restore(switch, member, deadline=GUARD_DEADLINE)
        except RestoreFailed as failure:
            say(f"failover drill guardian: {failure}")
            status = 2
            continue
        say(f"failover drill guardian: {member}'s port {restored.port_id} is enabled again "
            f"({restored.detail})")
    return status
