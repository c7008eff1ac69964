"""vrrp_pair.probe, the one prober of the drill, the namespace lab and both benchmarks,
against real sockets on 127.0.0.1: it keeps its pace while requests hang, reads an answer
that comes in pieces, and the drill measures a client's outage with it."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator

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
    def in_two_pieces(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
        time.sleep(0.1)
        conn.sendall(b"vrrp-node-2\n")

    url, server, listener = one_answer_server(in_two_pieces)
    try:
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


@pytest.mark.parametrize(("head", "body", "word"), [
    pytest.param(b"HTTP/1.0 200", b"vrrp-node-1\n", "vrrp-node-1", id="two-word status line"),
    pytest.param(b"HTTP/1.1 200 OK\r\nServer: x", b"  vrrp-node-2  up\n", "vrrp-node-2",
                 id="first word of the page"),
    pytest.param(b"HTTP/1.1 503", b"vrrp-node-1", "!status-503", id="not 200"),
    pytest.param(b"HTTP/1.1", b"vrrp-node-1", "!status-none", id="no status code"),
    pytest.param(b"HTTP/1.1\r\n200 OK", b"vrrp-node-1", "!status-none",
                 id="status code on the second line"),
    pytest.param(b"HTTP/1.1 200 OK", b" \n\t", "!empty", id="blank page"),
    pytest.param(b"HTTP/1.1 200 OK", b"\xff\xfe node", "\ufffd\ufffd", id="bytes not UTF-8"),
])
def test_an_answer_reads_as_the_first_word_of_a_200_page(head: bytes, body: bytes,
                                                        word: str) -> None:
    """What a probe reports of one answer: the page's first word, or why there is none."""
    assert probe._page_word(head, body) == word


@pytest.mark.parametrize(("url", "target"), [
    ("http://10.10.0.200", ("10.10.0.200", 80, "/")),
    ("http://vip.example:8080/health?member=1", ("vip.example", 8080, "/health?member=1")),
])
def test_a_url_gives_the_host_the_port_and_the_path_asked_for(
        url: str, target: tuple[str, int, str]) -> None:
    assert probe._target(url) == target


@pytest.mark.parametrize("url", ["http:///index.html", "https://10.10.0.200/", "10.10.0.200"])
def test_a_url_without_http_and_a_host_is_refused_by_name(url: str) -> None:
    with pytest.raises(ValueError, match=f"not an http:// URL with a host: {url!r}"):
        probe._target(url)
    assert asyncio_request(url).result == "!ValueError"  # a failed probe, not a crash


def one_answer_server(answer: Callable[[socket.socket], None]) -> tuple[str, threading.Thread,
                                                                          socket.socket]:
    """A server on 127.0.0.1 that accepts one connection, reads the request and runs
    `answer` on it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            answer(conn)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", server, listener


def probe_one_answer(answer: Callable[[socket.socket], None]) -> str:
    url, server, listener = one_answer_server(answer)
    try:
        return asyncio_request(url).result
    finally:
        server.join(timeout=5)
        listener.close()


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_reset_connection_is_named() -> None:
    assert probe_one_answer(reset) == "!reset"


def test_the_page_is_what_follows_the_first_blank_line() -> None:
    assert probe_one_answer(lambda conn: conn.sendall(
        b"HTTP/1.0 200 OK\r\n\r\nvrrp-node-1\r\n\r\nvrrp-node-2\n")) == "vrrp-node-1"


def test_one_probe_gives_up_at_its_timeout(silent_server: str) -> None:
    started = time.monotonic()
    assert probe.once(silent_server, timeout=0.2) is None
    assert time.monotonic() - started < 2.0


def run_stream(url: str, seconds: float, interval: float, timeout: float = 0.25,
               max_in_flight: int = 64) -> tuple[list[probe.Sample], float]:
    """probe.stream for `seconds` (then stopped; its deadline is far): the samples and
    how long it took to return after the stop."""
    samples: list[probe.Sample] = []
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(probe.stream(url, interval, timeout, stop, samples.append,
                                             time.monotonic() + 60, max_in_flight))
    finally:
        loop.close()
    return samples, time.monotonic()


def test_a_stream_keeps_its_interval_and_ends_when_stopped() -> None:
    pages = MemberPages(lambda: "vrrp-node-1")
    try:
        started = time.monotonic()
        samples, ended = run_stream(pages.url, 0.5, interval=0.05)
    finally:
        pages.close()
    assert ended - started < 2.0, "stopped, it returns at once (its deadline is a minute off)"
    assert 6 <= len(samples) <= 14, len(samples)   # one every 50 ms
    assert {s.result for s in samples} == {"vrrp-node-1"}


def test_a_stream_holds_at_most_max_in_flight_and_waits_for_them(silent_server: str) -> None:
    """Requests that hang fill the flight (no new ones), and the stream's end waits for
    those in flight to time out and be reported."""
    samples, _ = run_stream(silent_server, 0.3, interval=0.01, timeout=0.4, max_in_flight=3)
    assert [s.result for s in samples] == ["!timeout"] * 3


def test_the_prober_reports_what_stopped_its_thread_and_stops_cleanly() -> None:
    def refuse() -> None:
        raise PermissionError("setns: operation not permitted")

    prober = probe.Prober("http://127.0.0.1:9/", enter=refuse).start()
    prober.stop()
    assert not prober._thread.is_alive()
    with pytest.raises(RuntimeError, match=r"the prober of http://127.0.0.1:9/ stopped: "
                                           r"setns: operation not permitted"):
        prober.snapshot()
    unstarted = probe.Prober("http://127.0.0.1:9/")
    unstarted.stop()   # never started: nothing to wait for, no error
    assert (unstarted.interval, unstarted.timeout) == (0.01, 0.25)
    assert unstarted._thread.daemon, "a prober never keeps a finished program alive"


def test_the_prober_passes_its_flight_limit_on(silent_server: str) -> None:
    with probe.Prober(silent_server, interval=0.01, timeout=0.5, max_in_flight=2) as prober:
        time.sleep(0.3)
    assert [s.result for s in prober.snapshot()] == ["!timeout"] * 2


def run_main(argv: list[str], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    """`python -m vrrp_pair.probe` in this process, its stdin a pipe left open (it stops
    when stdin closes): the lines it printed, split."""
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stdin", os.fdopen(read_end, "r"))
    try:
        assert probe.main(argv) == 0
    finally:
        os.close(write_end)
    return [line.split() for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("persistent", [False, True])
def test_the_command_line_prints_a_line_per_probe(
        persistent: bool, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pages = MemberPages(lambda: "vrrp-node-1", keep_alive=True)
    try:
        lines = run_main(["--url", pages.url, "--interval", "0.05", "--timeout", "1",
                          "--duration", "0.5", *(["--persistent"] if persistent else [])],
                         monkeypatch, capsys)
    finally:
        pages.close()
    assert 6 <= len(lines) <= 14, lines
    starts = [float(start) for start, _, _ in lines]
    assert starts == sorted(starts) and all(0 <= float(latency) < 1 for _, latency, _ in lines)
    # --persistent: every probe on the first connection (the server keeps it open)
    want = "vrrp-node-1@1" if persistent else "vrrp-node-1"
    assert {result for _, _, result in lines} == {want}


def test_the_persistent_client_opens_a_new_connection_after_a_failure(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A 503 closes the connection (HTTP/1.1 server); the next probe opens connection 2."""
    answers = iter(["vrrp-node-1", None, "vrrp-node-2"])
    pages = MemberPages(lambda: next(answers, "vrrp-node-2"), keep_alive=True)
    try:
        lines = run_main(["--url", pages.url, "--interval", "0.05", "--timeout", "1",
                          "--duration", "0.3", "--persistent"], monkeypatch, capsys)
    finally:
        pages.close()
    results = [result for _, _, result in lines]
    assert results[:3] == ["vrrp-node-1@1", "!status-503@1", "vrrp-node-2@2"], results
    assert set(results[3:]) <= {"vrrp-node-2@2"}, results


def test_a_persistent_connection_closed_by_the_server_is_named_eof() -> None:
    """The server answers nothing and closes: the keep-alive read ends early."""
    url, server, listener = one_answer_server(lambda conn: None)
    samples: list[probe.Sample] = []
    stop = threading.Event()

    def emit(sample: probe.Sample) -> None:
        samples.append(sample)
        stop.set()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(probe.persistent(url, 0.05, 1.0, stop, emit,
                                                 time.monotonic() + 10))
    finally:
        loop.close()
        server.join(timeout=5)
        listener.close()
    assert [s.result for s in samples] == ["!eof@1"]
