"""The fast web check (cloud-init/vrrp-pair-webcheck.py), run for real against a web
server on loopback: its verdict file is what keepalived tracks.

The server is Python's http.server in a process of its own (its PID in a pidfile, as
Apache's is), stopped (SIGSTOP: a hang), resumed and killed. The namespace lab runs the
same script against the real Apache (tests/lab)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import REPO_TEMPLATES

SCRIPT = REPO_TEMPLATES / "vrrp-pair-webcheck.py"
INTERVAL, TIMEOUT = 0.05, 0.3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
    return time.monotonic() - start


class Site:
    """A web server on 127.0.0.1 with a pidfile, and a checker watching it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "www").mkdir()
        (root / "www" / "index.html").write_text("node\n")
        self.port = _free_port()
        self.pidfile = root / "apache2.pid"
        self.state = root / "web-health"
        self.log = root / "webcheck.log"
        self.server: subprocess.Popen[bytes] | None = None
        self.checker: subprocess.Popen[bytes] | None = None

    def start_server(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port),
             "--directory", str(self.root / "www")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.pidfile.write_text(f"{self.server.pid}\n")
        _wait(self._listening, 10, "the server to listen")

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def start_checker(self, *extra: str, path: str = "/") -> None:
        self.checker = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--url", f"http://127.0.0.1:{self.port}{path}",
             "--interval", str(INTERVAL), "--timeout", str(TIMEOUT), "--pidfile",
             str(self.pidfile), "--state", str(self.state), *extra],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    def verdict(self) -> str | None:
        try:
            return self.state.read_text().strip()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        for proc in (self.checker, self.server):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    try:
        yield site
    finally:
        site.close()


def test_healthy_then_hung_then_resumed(site: Site) -> None:
    site.start_server()
    site.start_checker()
    _wait(lambda: site.verdict() == "0", 10, "the first verdict: healthy")
    assert site.server is not None
    os.killpg(site.server.pid, signal.SIGSTOP)  # connections queue, nobody answers
    took = _wait(lambda: site.verdict() == "1", 10, "the hang to be seen")
    assert took < INTERVAL + TIMEOUT + 2.0, took  # generous: a busy CI machine
    os.killpg(site.server.pid, signal.SIGCONT)
    _wait(lambda: site.verdict() == "0", 10, "healthy again after rise 2")
    log = site.log.read_text()
    assert f"no answer within {TIMEOUT:g} s" in log, log


def test_main_process_exit_is_seen_through_its_pidfd(site: Site) -> None:
    """Killed between two requests: the pidfd reports the exit, no request needed."""
    site.start_server()
    site.start_checker("--interval", "30")  # requests far apart: only the pidfd can tell
    _wait(lambda: site.verdict() == "0", 10, "healthy")
    time.sleep(0.5)
    assert site.server is not None
    os.killpg(site.server.pid, signal.SIGKILL)
    took = _wait(lambda: site.verdict() == "1", 5, "the exit to be seen")
    assert took < 2.0, took  # the next request is 30 s away: only the pidfd is that fast
    assert f"main process {site.server.pid} exited" in site.log.read_text()


def test_a_stale_pidfile_is_a_failure_and_a_missing_one_leaves_it_to_http(site: Site) -> None:
    site.start_server()
    assert site.server is not None
    os.killpg(site.server.pid, signal.SIGKILL)
    site.server.wait(timeout=10)
    site.start_checker()  # pidfile left behind by the kill
    _wait(lambda: site.verdict() == "1", 10, "a failure")
    assert "is gone" in site.log.read_text()
    site.pidfile.unlink()
    site.start_server()  # writes a new pidfile
    _wait(lambda: site.verdict() == "0", 10, "healthy with the new server")


def test_an_error_status_fails_and_sigterm_withdraws_the_verdict(site: Site) -> None:
    site.start_server()
    site.start_checker(path="/missing")
    _wait(lambda: site.verdict() == "1", 10, "a 404 to fail")
    assert "HTTP status 404" in site.log.read_text()
    assert site.checker is not None
    site.checker.send_signal(signal.SIGTERM)
    assert site.checker.wait(timeout=10) == 0
    assert site.verdict() is None, "a stopped checker leaves no verdict behind"


def test_refused_connections_fail_within_one_interval(site: Site) -> None:
    site.start_checker("--pidfile", "")  # nothing listens; no pidfile to watch
    _wait(lambda: site.verdict() == "1", 10, "refused to fail")
    assert "Connection refused" in site.log.read_text()


def test_one_unanswered_connection_among_answered_ones_is_no_failure(tmp_path: Path) -> None:
    """Apache's graceful restart can leave one connection unanswered while it serves
    the next ones (seen in the lab): the verdict stays healthy. All unanswered is a hang."""
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        count = 0
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            count += 1
            if count in (5, 9):
                held.append(conn)  # accepted, never answered
                continue
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nnode\n")
            conn.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    state, log = tmp_path / "web-health", tmp_path / "webcheck.log"
    checker = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--url", f"http://127.0.0.1:{port}/", "--interval",
         str(INTERVAL), "--timeout", str(TIMEOUT), "--state", str(state)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: state.exists(), 10, "the first verdict")
        time.sleep(1.5)
        assert len(held) == 2, "the server held two connections"
        assert state.read_text().strip() == "0", log.read_text()
        assert "FAILED" not in log.read_text()
    finally:
        os.killpg(checker.pid, signal.SIGKILL)
        checker.wait(timeout=10)
        stop.set()
        server.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_rewritten_pidfile_is_a_graceful_restart_and_its_wait_is_not_counted(
        site: Site) -> None:
    """Apache rewrites its pidfile (same PID) at a graceful restart and may take a
    second to take new connections: for 2 s no answer is no failure; a hang that
    outlasts that is one."""
    site.start_server()
    site.start_checker()
    _wait(lambda: site.verdict() == "0", 10, "healthy")
    assert site.server is not None
    os.killpg(site.server.pid, signal.SIGSTOP)
    rewritten = site.root / "apache2.pid.new"
    rewritten.write_text(f"{site.server.pid}\n")
    rewritten.replace(site.pidfile)  # a new file with the same PID, as Apache writes it
    started = time.monotonic()
    time.sleep(1.0)
    assert site.verdict() == "0", site.log.read_text()
    took = _wait(lambda: site.verdict() == "1", 10, "the hang to count after the grace")
    assert 1.5 < time.monotonic() - started < 2.0 + TIMEOUT + 1.5, took
    assert "Apache restarted gracefully" in site.log.read_text()


def test_a_checker_that_was_not_scheduled_does_not_blame_the_server(site: Site) -> None:
    """The checker itself stopped for longer than its timeout (as a starved process
    would be), the server fine: its late requests are not failures."""
    site.start_server()
    site.start_checker()
    _wait(lambda: site.verdict() == "0", 10, "healthy")
    assert site.checker is not None
    for _ in range(5):
        os.killpg(site.checker.pid, signal.SIGSTOP)
        time.sleep(TIMEOUT * 2)
        os.killpg(site.checker.pid, signal.SIGCONT)
        time.sleep(0.2)
    assert site.verdict() == "0" and "FAILED" not in site.log.read_text(), site.log.read_text()
