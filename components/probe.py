"""The one HTTP probe: how the failover drill, the namespace lab and both benchmarks ask
"who serves this address?", so every downtime they report is measured the same way.

A probe is a GET on a fresh TCP connection with its own timeout; the answer is the first
word of the page (each member's page names it). The prober starts one every `interval`
seconds without waiting for earlier ones, so its resolution is the interval even while
requests time out. Each finished request is a Sample: when it started (CLOCK_MONOTONIC,
shared by every network namespace), how long it took, and the member or `!<how it
failed>`.

In a process, `Prober` runs in a thread of its own (entering a network namespace first
when given one; the failover drill's probes go from the local cloud's client namespace);
as a program, run inside a namespace by the namespace lab, it prints one line per
request:

    python -m vrrp_pair.probe --url http://VIP/ [--interval S] [--timeout S] [--persistent]
    <start monotonic seconds> <latency seconds> <member | !error>

With --persistent it is one long-lived client instead: HTTP/1.1 requests one after
another on the same keep-alive connection, every --interval seconds, each waiting up to
--timeout. A failed request is reported with how it failed (!reset, !eof, !timeout,
!refused, ...) and the client opens a new connection for the next one; a server's planned
close (Connection: close) is followed silently. The result carries the connection's
number: `<member>@<n>`, `!reset@<n>`. Stops after --duration seconds or when stdin closes.
Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BODY = 65536  # a member's page is one word; more is not a member's page


@dataclass(frozen=True)
class Sample:
    start: float    # time.monotonic() when the request started
    latency: float  # seconds until it answered or failed
    result: str     # the member that answered, or "!<how it failed>"

    @property
    def ok(self) -> bool:
        return not self.result.startswith("!")

    @property
    def member(self) -> str | None:
        return self.result if self.ok else None


def _target(url: str) -> tuple[str, int, str]:
    """Host, port and the path to ask for (with its query)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an http:// URL with a host: {url!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, path


def _page_word(head: bytes, body: bytes) -> str:
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        return "!status-" + (status[1].decode() if len(status) > 1 else "none")
    text = body.decode(errors="replace").strip()
    return text.split()[0] if text else "!empty"


async def _get(host: str, port: int, path: str, timeout: float) -> str:
    """One GET on a fresh connection, read to the server's close (HTTP/1.0)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while len(data) < MAX_BODY:  # the answer may come in more than one segment
            chunk = await reader.read(MAX_BODY - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return _page_word(head, body)


def _failure(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "!timeout"
    if isinstance(error, ConnectionRefusedError):
        return "!refused"
    if isinstance(error, ConnectionResetError):
        return "!reset"
    if isinstance(error, asyncio.IncompleteReadError):
        return "!eof"
    if isinstance(error, OSError):
        return f"!oserror-{error.errno}"
    return f"!{type(error).__name__}"


async def request(url: str, timeout: float) -> Sample:
    """One probe of `url`, failures included: it never raises for the network's reasons."""
    start = time.monotonic()
    try:
        host, port, path = _target(url)
        result = await asyncio.wait_for(_get(host, port, path, timeout), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
        result = _failure(error)
    return Sample(start, time.monotonic() - start, result)


def once(url: str, timeout: float) -> str | None:
    """The member that answers one probe, or None (in the calling thread's namespace).
    A loop of its own, never set as the thread's: a caller's event loop stays as it was."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(request(url, timeout)).member
    finally:
        loop.close()


async def _keepalive_get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         host: str, path: str) -> tuple[str, bool]:
    """One request on an open connection: (page's first word, server keeps it open)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if ":" in line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    word = _page_word(head, body)
    return word, not word.startswith("!status") and headers.get("connection") != "close"


async def persistent(url: str, interval: float, timeout: float, stop: threading.Event,
                     emit: Callable[[Sample], None], deadline: float) -> None:
    """One client on one long-lived connection (a new one only after a failure)."""
    host, port, path = _target(url)
    number = 0
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    next_start = time.monotonic()
    while time.monotonic() < deadline and not stop.is_set():
        start = time.monotonic()
        try:
            if connection is None:
                number += 1
                connection = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    timeout)
            result, keep = await asyncio.wait_for(_keepalive_get(*connection, host, path),
                                                  timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
            result, keep = _failure(error), False
        if not keep and connection is not None:
            connection[1].close()
            connection = None
        emit(Sample(start, time.monotonic() - start, f"{result}@{number}"))
        next_start = max(next_start + interval, time.monotonic())
        await asyncio.sleep(next_start - time.monotonic())
    if connection is not None:
        connection[1].close()


async def stream(url: str, interval: float, timeout: float, stop: threading.Event,
                 emit: Callable[[Sample], None], deadline: float,
                 max_in_flight: int = 64) -> None:
    """A probe every `interval` seconds, each on its own connection, until `stop` is set
    or the deadline passes; `emit` gets each Sample as its request ends."""
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        emit(await request(url, timeout))

    next_start = time.monotonic()
    while time.monotonic() < deadline and not stop.is_set():
        if len(tasks) < max_in_flight:
            task = asyncio.ensure_future(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        next_start += interval
        await asyncio.sleep(max(0.0, next_start - time.monotonic()))
    if tasks:
        await asyncio.wait(tasks, timeout=timeout + 1)


class Prober:
    """Probes `url` every `interval` seconds from a thread of its own until stopped;
    `enter` runs first in that thread (the drill passes one that enters a network
    namespace, so every probe goes from there)."""

    def __init__(self, url: str, interval: float = 0.01, timeout: float = 0.25,
                 enter: Callable[[], None] | None = None, max_in_flight: int = 64,
                 duration: float = 900.0) -> None:
        self.url, self.interval, self.timeout = url, interval, timeout
        self._enter, self._max_in_flight, self._duration = enter, max_in_flight, duration
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)

    def _emit(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)

    def _run(self) -> None:
        try:
            if self._enter:
                self._enter()
            asyncio.run(stream(self.url, self.interval, self.timeout, self._stop,
                               self._emit, time.monotonic() + self._duration,
                               self._max_in_flight))  # fmt: skip
        except BaseException as error:  # reported by snapshot(), in the caller's thread
            self._error = error

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=self.timeout + 5)

    def snapshot(self) -> list[Sample]:
        """Every finished request so far, by start time; raises what stopped the prober."""
        if self._error is not None:
            raise RuntimeError(f"the prober of {self.url} stopped: {self._error}") \
                from self._error
        with self._lock:
            return sorted(self._samples, key=lambda s: s.start)

    def __enter__(self) -> Prober:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _print(sample: Sample) -> None:
    sys.stdout.write(f"{sample.start:.6f} {sample.latency:.6f} {sample.result}\n")
    sys.stdout.flush()


def _stop_when_stdin_closes(stop: threading.Event) -> None:
    try:
        sys.stdin.buffer.read()
    finally:
        stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=0.25)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--persistent", action="store_true",
                        help="one client on a long-lived keep-alive connection")
    args = parser.parse_args(argv)
    stop = threading.Event()
    threading.Thread(target=_stop_when_stdin_closes, args=(stop,), daemon=True).start()
    deadline = time.monotonic() + min(args.duration, 900.0)
    if args.persistent:
        asyncio.run(persistent(args.url, args.interval, args.timeout, stop, _print, deadline))
    else:
        asyncio.run(stream(args.url, args.interval, args.timeout, stop, _print, deadline,
                           args.max_in_flight))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
