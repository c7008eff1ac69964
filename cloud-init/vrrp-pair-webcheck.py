#!/usr/bin/python3
"""vrrp-pair-webcheck: tells keepalived within a fraction of a second that Apache failed.

keepalived 2.2.7 runs a vrrp_script at most once a second, so this small daemon
does the fast part: it asks the local web server for its page every --interval
seconds and writes its verdict to --state, a file keepalived watches
(`track_file`, weight 0): "0" while Apache answers, "1" once it does not.

- A request that is refused, reset or answered with a status >= 400 fails at once;
  one that gets no answer within --timeout seconds fails then (a hung server:
  connections accepted but never answered).
- Apache's main process (the PID in --pidfile) is watched through a pidfd: its
  exit is a failure the moment it happens, with no request needed. The pidfile
  names this host's own Apache, never another process of the same name.
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


class Failure(Exception):
    """The web server failed a check; the message says how. `immediate`: no need
    to wait for --fall failures (Apache's main process is gone)."""

    def __init__(self, message: str, immediate: bool = False) -> None:
        super().__init__(message)
        self.immediate = immediate


class MainProcess:
    """Apache's main process, named by its pidfile, watched through a pidfd."""

    def __init__(self, pidfile: str) -> None:
        self.pidfile = pidfile
        self.pid: int | None = None
        self.fd: int | None = None

    def refresh(self) -> None:
        """Opens a pidfd on the process the pidfile names, when not watching one.

        No pidfile: nothing to watch (a clean stop removes it; HTTP decides).
        A pidfile whose process is gone (left behind by a kill): a failure."""
        if self.fd is not None or not self.pidfile:
            return
        try:
            with open(self.pidfile) as handle:
                pid = int(handle.read().strip() or "0")
        except (FileNotFoundError, ValueError):
            return
        if pid <= 0:
            return
        try:
            self.fd = os.pidfd_open(pid)
            self.pid = pid
        except ProcessLookupError:
            raise Failure(f"Apache's main process {pid} (from {self.pidfile}) is gone",
                          immediate=True) from None
        except (AttributeError, OSError):
            self.fd = None  # no pidfd support: the HTTP check alone decides

    def exited(self) -> Failure:
        pid = self.pid
        self.close()
        return Failure(f"Apache's main process {pid} exited", immediate=True)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd, self.pid = None, None


def check(host: str, port: int, path: str, timeout: float, main: MainProcess) -> None:
    """One GET on a fresh connection; raises Failure. Readiness is looked at before
    the clock, so a checker that was not scheduled for a while does not mistake its
    own delay for a slow server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    try:
        if main.fd is not None:
            selector.register(main.fd, selectors.EVENT_READ, "main")
        code = sock.connect_ex((host, port))
        if code not in (0, errno.EINPROGRESS):
            raise Failure(f"connect: {os.strerror(code)}")
        request = (f"GET {path} HTTP/1.0\r\nHost: {host}\r\n"
                   f"User-Agent: {USER_AGENT}\r\n\r\n").encode()
        selector.register(sock, selectors.EVENT_WRITE, "sock")
        connected = False
        reply = b""
        while True:
            events = selector.select(max(0.0, deadline - time.monotonic()))
            if not events:
                if time.monotonic() >= deadline:
                    raise Failure(f"no answer within {timeout:g} s")
                continue
            for key, _ in events:
                if key.data == "main":
                    raise main.exited()
            if not connected:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise Failure(f"connect: {os.strerror(code)}")
                try:
                    sock.sendall(request)  # a few dozen bytes: fits any send buffer
                except OSError as error:
                    raise Failure(f"send: {error.strerror}") from None
                connected = True
                selector.modify(sock, selectors.EVENT_READ, "sock")
                continue
            try:
                chunk = sock.recv(65536)
            except OSError as error:
                raise Failure(f"receive: {error.strerror}") from None
            reply += chunk
            if not chunk or b"\r\n" in reply:
                break
        status = reply.split(b"\r\n", 1)[0].split()
        if len(status) < 2 or not status[1].isdigit():
            raise Failure(f"no HTTP status line: {reply[:40]!r}")
        if int(status[1]) >= 400:
            raise Failure(f"HTTP status {int(status[1])}")
    finally:
        selector.close()
        sock.close()


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

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"web check: {args.url} every {args.interval:g} s, timeout {args.timeout:g} s, "
          f"fall {args.fall}, rise {args.rise}, main process from {args.pidfile or '-'}, "
          f"verdict in {args.state}", flush=True)
    next_check = time.monotonic()
    try:
        while True:
            try:
                main.refresh()
                check(host, port, path, args.timeout, main)
                verdict.record(True, "answered")
            except Failure as failure:
                verdict.record(False, str(failure), at_once=failure.immediate)
            next_check = max(next_check + args.interval, time.monotonic())
            # Sleep until the next request, but wake at once if the main process exits.
            while (wait := next_check - time.monotonic()) > 0:
                if main.fd is None:
                    time.sleep(wait)
                    break
                with selectors.DefaultSelector() as selector:
                    selector.register(main.fd, selectors.EVENT_READ)
                    if selector.select(wait):
                        verdict.record(False, str(main.exited()), at_once=True)
                        break
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
