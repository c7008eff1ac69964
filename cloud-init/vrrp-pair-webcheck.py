#!/usr/bin/python3
"""vrrp-pair-webcheck: tells keepalived within a fraction of a second that Apache failed.

keepalived 2.2.7 runs a vrrp_script at most once a second, so this small daemon
does the fast part: it asks the local web server for its page every --interval
seconds and writes its verdict to --state, a file keepalived watches
(`track_file`, weight 0): "0" while Apache answers, "1" once it does not.

- A request starts every --interval seconds on a fresh connection, whether or not
  earlier ones are answered. One that is refused, reset or answered with a status
  >= 400 fails at once. One that gets no answer within --timeout seconds fails
  then (a hung server: connections accepted, never answered), unless a request
  started after it has been answered meanwhile: Apache's graceful restart (daily,
  by logrotate) can leave a single connection unanswered while it serves the
  others, and that is no reason to move the VIP.
- Apache's main process (the PID in --pidfile) is watched through a pidfd: its
  exit is a failure the moment it happens, with no request needed. The pidfile
  names this host's own Apache, never another process of the same name.
- Apache rewrites its pidfile at a graceful restart (`apachectl graceful`, daily by
  logrotate) and takes new connections only up to a second later: for 2 s after
  that, a request that gets no answer does not count.
- --fall failed requests in a row mark the server failed, --rise good ones healthy
  again; the first verdict after start is written at once.
- On SIGTERM/SIGINT the state file is removed (keepalived reads a missing file as
  0: the checker then has no say, and keepalived's own whole-second check remains).

Standard library only (python3 is on every image that runs cloud-init).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import selectors
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

USER_AGENT = "vrrp-pair-webcheck"
REQUEST_CAP = 16  # requests outstanding at once (a hung server answers none)
RESTART_GRACE = 2.0  # seconds after a graceful restart of Apache (see MainProcess)


class Failure(Exception):
    """The web server failed a check; the message says how. `immediate`: no need
    to wait for --fall failures (Apache's main process is gone)."""

    def __init__(self, message: str, immediate: bool = False) -> None:
        super().__init__(message)
        self.immediate = immediate


class MainProcess:
    """Apache's main process, named by its pidfile, watched through a pidfd.

    Apache rewrites its pidfile (same PID, new file) at every graceful restart
    (`apachectl graceful`, as logrotate does daily). Until an old child exits, or for
    up to a second, no new child takes connections then: new connections wait. That
    is expected, so for RESTART_GRACE seconds after such a rewrite a request that
    gets no answer does not count (refusals, errors and an exit still do)."""

    def __init__(self, pidfile: str) -> None:
        self.pidfile = pidfile
        self.pid: int | None = None
        self.fd: int | None = None
        self.stamp: tuple[int, int] | None = None
        self.restarted_at = float("-inf")

    def _read(self) -> tuple[int, tuple[int, int]] | None:
        try:
            with open(self.pidfile) as handle:
                stat = os.fstat(handle.fileno())
                pid = int(handle.read().strip() or "0")
        except (FileNotFoundError, ValueError):
            return None
        return (pid, (stat.st_ino, stat.st_mtime_ns)) if pid > 0 else None

    def refresh(self) -> None:
        """Opens a pidfd on the process the pidfile names, when not watching one, and
        notes a graceful restart of the one it watches.

        No pidfile: nothing to watch (a clean stop removes it; HTTP decides).
        A pidfile whose process is gone (left behind by a kill): a failure."""
        if not self.pidfile:
            return
        seen = self._read()
        if seen is None:
            return
        pid, stamp = seen
        if self.fd is not None:
            if pid == self.pid and stamp != self.stamp:
                self.restarted_at = time.monotonic()
                print(f"web check: Apache restarted gracefully (pid {pid}); no answer is no "
                      f"failure for {RESTART_GRACE:g} s", flush=True)
            self.stamp = stamp
            return
        try:
            self.fd = os.pidfd_open(pid)
            self.pid, self.stamp = pid, stamp
        except ProcessLookupError:
            raise Failure(f"Apache's main process {pid} (from {self.pidfile}) is gone",
                          immediate=True) from None
        except (AttributeError, OSError):
            self.fd = None  # no pidfd support: the HTTP check alone decides

    def restarting(self) -> bool:
        return time.monotonic() - self.restarted_at < RESTART_GRACE

    def exited(self) -> Failure:
        pid = self.pid
        self.close()
        return Failure(f"Apache's main process {pid} exited", immediate=True)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd, self.pid = None, None


class Request:
    """One GET on a fresh non-blocking connection."""

    def __init__(self, host: str, port: int, path: str, started: float,
                 timeout: float) -> None:
        self.started, self.timeout = started, timeout
        self.deadline = started + timeout  # from the send once sent (see advance)
        self.reply = b""
        self.sent = False
        self.payload = (f"GET {path} HTTP/1.0\r\nHost: {host}\r\n"
                        f"User-Agent: {USER_AGENT}\r\n\r\n").encode()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
        self.sock.setblocking(False)
        code = self.sock.connect_ex((host, port))
        if code not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise Failure(f"connect: {os.strerror(code)}")

    def advance(self) -> bool:
        """Called when the socket is ready: True once the answer is complete and good;
        raises Failure for a bad one; False while more is to come."""
        if not self.sent:
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise Failure(f"connect: {os.strerror(code)}")
            try:
                self.sock.sendall(self.payload)  # a few dozen bytes: fit any buffer
            except OSError as error:
                raise Failure(f"send: {error.strerror}") from None
            self.sent = True
            # The server's time starts now: a checker that ran late (the connection
            # was accepted long ago) does not blame the server for its own delay.
            self.deadline = time.monotonic() + self.timeout
            return False
        # Read all that has arrived, up to the close: after a pause of the checker the
        # whole answer and the close wait in the buffer, and reading one chunk per turn
        # would leave the close for a later turn, after the deadline check.
        while True:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return False  # more is to come
            except OSError as error:
                raise Failure(f"receive: {error.strerror}") from None
            self.reply += chunk
            if not chunk or len(self.reply) > 65536:
                break  # the server closes when the (HTTP/1.0) answer is complete
        status = self.reply.split(b"\r\n", 1)[0].split()
        if len(status) < 2 or not status[1].isdigit():
            raise Failure(f"no HTTP status line: {self.reply[:40]!r}")
        if int(status[1]) >= 400:
            raise Failure(f"HTTP status {int(status[1])}")
        return True

    def close(self) -> None:
        self.sock.close()


class Prober:
    """Starts a request every interval and turns what happens into results.

    Readiness is looked at before the clock, and a request's timeout runs from its
    send, so a checker that was not scheduled for a while does not mistake its own
    delay for a slow server."""

    def __init__(self, host: str, port: int, path: str, interval: float, timeout: float,
                 main: MainProcess) -> None:
        self.host, self.port, self.path = host, port, path
        self.interval, self.timeout, self.main = interval, timeout, main
        self.selector = selectors.DefaultSelector()
        self.requests: list[Request] = []
        self.next_start = time.monotonic()
        self.last_good_start = float("-inf")  # start time of the latest answered request
        self.watched_fd: int | None = None

    def results(self) -> list[tuple[bool, str, bool]]:
        """Waits for something to happen; returns (ok, reason, immediate) results."""
        self._watch_main()
        now = time.monotonic()
        if now >= self.next_start:
            self.next_start = max(self.next_start + self.interval, now)
            try:
                self.main.refresh()
                self._watch_main()
                if len(self.requests) < REQUEST_CAP:
                    request = Request(self.host, self.port, self.path, now, self.timeout)
                    self.requests.append(request)
                    self.selector.register(request.sock, selectors.EVENT_WRITE, request)
            except Failure as failure:
                return [(False, str(failure), failure.immediate)]
        waits = [self.next_start] + [r.deadline for r in self.requests]
        out = self._handle(self.selector.select(max(0.0, min(waits) - time.monotonic())))
        now = time.monotonic()
        if any(now >= r.deadline for r in self.requests):
            # Readiness once more, after the clock: the checker may have been paused
            # between the select and the clock while the answers came in.
            out.extend(self._handle(self.selector.select(0)))
        late = [r for r in self.requests if now >= r.deadline]
        if late:
            with contextlib.suppress(Failure):
                self.main.refresh()  # a graceful restart just now explains the wait
        for request in late:
            self._drop(request)
            # Not a failure if a request started since has been answered (this one
            # connection was stuck), or while Apache restarts gracefully.
            if self.last_good_start < request.started and not self.main.restarting():
                out.append((False, f"no answer within {self.timeout:g} s", False))
        return out

    def _handle(self, events: list[tuple[selectors.SelectorKey, int]]
                ) -> list[tuple[bool, str, bool]]:
        out: list[tuple[bool, str, bool]] = []
        for key, _ in events:
            if key.data == "main":
                exited = self.main.exited()
                self._watch_main()
                out.append((False, str(exited), True))
            elif key.data in self.requests:
                out.extend(self._advance(key.data))
        return out

    def _advance(self, request: Request) -> list[tuple[bool, str, bool]]:
        try:
            if not request.advance():
                if request.sent:
                    self.selector.modify(request.sock, selectors.EVENT_READ, request)
                return []
            self.last_good_start = max(self.last_good_start, request.started)
            result = (True, "answered", False)
        except Failure as failure:
            result = (False, str(failure), False)
        self._drop(request)
        return [result]

    def _watch_main(self) -> None:
        if self.watched_fd == self.main.fd:
            return
        if self.watched_fd is not None:
            self.selector.unregister(self.watched_fd)
        if self.main.fd is not None:
            self.selector.register(self.main.fd, selectors.EVENT_READ, "main")
        self.watched_fd = self.main.fd

    def _drop(self, request: Request) -> None:
        self.requests.remove(request)
        self.selector.unregister(request.sock)
        request.close()


class Verdict:
    """Counts results in a row and writes the state file when the verdict changes."""

    def __init__(self, state: str, fall: int, rise: int) -> None:
        self.state, self.fall, self.rise = state, fall, rise
        self.healthy: bool | None = None
        self.streak = 0

    def record(self, ok: bool, reason: str, at_once: bool = False) -> None:
        if self.healthy is None or at_once:
            self._set(ok, reason)
            return
        if ok == self.healthy:
            self.streak = 0
            return
        self.streak += 1
        if self.streak >= (self.rise if ok else self.fall):
            self._set(ok, reason)

    def _set(self, ok: bool, reason: str) -> None:
        self.streak = 0
        if ok == self.healthy:
            return
        self.healthy = ok
        temporary = f"{self.state}.tmp"
        with open(temporary, "w") as handle:
            handle.write("0\n" if ok else "1\n")
        os.replace(temporary, self.state)  # keepalived reads it on IN_MOVED_TO
        print(f"web check: {'healthy' if ok else 'FAILED'}: {reason}", flush=True)

    def withdraw(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.state)


def run(args: argparse.Namespace) -> int:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    main = MainProcess(args.pidfile)
    verdict = Verdict(args.state, args.fall, args.rise)
    prober = Prober(host, port, path, args.interval, args.timeout, main)

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"web check: {args.url} every {args.interval:g} s, timeout {args.timeout:g} s, "
          f"fall {args.fall}, rise {args.rise}, main process from {args.pidfile or '-'}, "
          f"verdict in {args.state}", flush=True)
    try:
        while True:
            for ok, reason, immediate in prober.results():
                verdict.record(ok, reason, at_once=immediate)
    finally:
        verdict.withdraw()
        main.close()


def seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text}: expected seconds above 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--url", required=True, help="page to ask, e.g. http://127.0.0.1:80/")
    parser.add_argument("--interval", type=seconds, default=0.1)
    parser.add_argument("--timeout", type=seconds, default=0.25)
    parser.add_argument("--fall", type=int, default=1)
    parser.add_argument("--rise", type=int, default=2)
    parser.add_argument("--pidfile", default="", help="Apache's pidfile ('' to not watch it)")
    parser.add_argument("--state", required=True, help="file keepalived tracks")
    args = parser.parse_args(argv)
    if args.fall < 1 or args.rise < 1:
        parser.error("--fall and --rise must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
