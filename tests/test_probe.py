"""vrrp_pair.probe, the one prober of the drill, the namespace lab and both benchmarks,
against real sockets on 127.0.0.1: it keeps its pace while requests hang, reads an answer
that comes in pieces, and the drill measures a client's outage with it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from vrrp_pair import failover_check, probe
from vrrp_pair.port_switch import PortState

from tests.member_pages import MemberPages


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (the kernel does, from the backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()


def test_the_prober_keeps_its_pace_while_requests_hang(silent_server: str) -> None:
    """A probe every 20 ms although each waits 0.25 s for nothing: the resolution is the
    interval, not the timeout (a client waiting for each answer would start 4 in 1 s)."""
    with probe.Prober(silent_server, interval=0.02, timeout=0.25) as prober:
        time.sleep(1.0)
    samples = prober.snapshot()
    assert samples and all(s.result == "!timeout" for s in samples), samples[:3]
    assert all(0.2 <= s.latency < 1.0 for s in samples)
    started_in_first_half_second = [s for s in samples if s.start - samples[0].start < 0.5]
    assert len(started_in_first_half_second) >= 12, len(started_in_first_half_second)
    assert [s.start for s in samples] == sorted(s.start for s in samples)


def test_an_answer_in_two_pieces_is_read_whole() -> None:
    """Headers first, the page 100 ms later (reading one chunk saw an empty page)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
            time.sleep(0.1)
            conn.sendall(b"vrrp-node-2\n")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        assert probe.once(url, timeout=2.0) == "vrrp-node-2"
    finally:
        server.join(timeout=5)
        listener.close()


def test_errors_are_named_and_not_an_answer() -> None:
    pages = MemberPages(lambda: None)  # 503
    try:
        sample = asyncio_request(pages.url)
        assert sample.result == "!status-503" and sample.member is None and not sample.ok
    finally:
        pages.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    assert asyncio_request(f"http://127.0.0.1:{port}/").result == "!refused"


def asyncio_request(url: str) -> probe.Sample:
    loop = asyncio.new_event_loop()  # not asyncio.run: it unsets this thread's loop
    try:
        return loop.run_until_complete(probe.request(url, timeout=1.0))
    finally:
        loop.close()


class GoesDownThenMoves:
    """The VIP as a client sees it: node-1 answers; disabling its port makes the address
    fail every request (503) for `gap` seconds, then node-2 answers."""

    def __init__(self, gap: float) -> None:
        self.answer: str | None = "vrrp-node-1"
        self.gap = gap
        self.enabled = 0
        self.pages = MemberPages(lambda: self.answer)

    def port_id(self, member: str) -> str:
        return f"{member}-port"

    def disable(self, member: str) -> None:
        self.answer = None
        threading.Timer(self.gap, setattr, (self, "answer", "vrrp-node-2")).start()

    def enable(self, member: str) -> None:
        self.enabled += 1

    def state(self, member: str) -> PortState:
        return PortState(self.enabled > 0, f"enabled {self.enabled} time(s)")

    def manual_restore(self, member: str) -> str:
        return f"enable {member}"


def test_the_drill_measures_the_outage_with_the_real_prober() -> None:
    vip = GoesDownThenMoves(gap=0.6)
    try:
        result = failover_check.drill(vip.pages.url, ["vrrp-node-1", "vrrp-node-2"], vip,
                                      timeout=10, probe_interval=0.01, probe_timeout=0.25)
    finally:
        vip.pages.close()
    assert (result.old_master, result.new_master) == ("vrrp-node-1", "vrrp-node-2")
    assert vip.enabled == 1
    assert result.downtime_seconds is not None and 0.55 <= result.downtime_seconds < 1.5, result
    assert result.seconds_until_new_master is not None
    assert result.seconds_until_new_master >= result.downtime_seconds - 0.05, result
    # a probe every 10 ms through the outage, each failing on its own
    assert result.failed_probes >= 20, result


def test_probing_leaves_the_callers_event_loop_alone() -> None:
    """The drill runs beside Pulumi's asyncio code in tests and benchmarks: a probe must
    not close or unset the calling thread's event loop (checked in a thread of its own,
    so this test leaves the main thread's loop alone too)."""
    seen: list[object] = []

    def caller() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            probe.once("http://127.0.0.1:9/", timeout=0.2)
            seen.extend([asyncio.get_event_loop() is loop, loop.is_closed()])
        finally:
            loop.close()

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(timeout=10)
    assert seen == [True, False]
