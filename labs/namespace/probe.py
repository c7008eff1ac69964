"""HTTP prober run inside the client namespace (stdlib only).

Starts one GET every --interval seconds, each on a fresh TCP connection with
its own --timeout, without waiting for earlier ones, so the resolution is the
interval even while requests time out. One line per request on stdout:

    <start monotonic seconds> <latency seconds> <body | !error>

With --persistent it is one long-lived client instead: HTTP/1.1 requests one
after another on the same keep-alive connection, every --interval seconds, each
waiting up to --timeout. A failed request is reported with how it failed
(!reset, !eof, !timeout, !refused, ...) and the client opens a new connection
for the next one; a server's planned close (Connection: close) is followed
silently. The result carries the connection's number: `<body>@<n>`, `!reset@<n>`.

CLOCK_MONOTONIC is shared by all namespaces, so the parent can compare these
times with its own. Stops after --duration seconds or when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from urllib.parse import urlsplit


async def _get(host: str, port: int, timeout: float) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(65536), timeout)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        return "!status-" + (status[1].decode() if len(status) > 1 else "none")
    text = body.decode(errors="replace").strip()
    return text.split()[0] if text else "!empty"


async def _attempt(host: str, port: int, timeout: float, out: list[str]) -> None:
    start = time.monotonic()
    try:
        result = await asyncio.wait_for(_get(host, port, timeout), timeout)
    except TimeoutError:
        result = "!timeout"
    except ConnectionRefusedError:
        result = "!refused"
    except OSError as error:
        result = f"!oserror-{error.errno}"
    out.append(f"{start:.6f} {time.monotonic() - start:.6f} {result}\n")


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


async def _keepalive_get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         host: str) -> tuple[str, bool]:
    """One request on an open connection: (body's first word, server keeps it open)."""
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = lines[0].split()
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if ":" in line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    if len(status) < 2 or status[1] != "200":
        return "!status-" + (status[1] if len(status) > 1 else "none"), False
    text = body.decode(errors="replace").strip()
    return (text.split()[0] if text else "!empty"), headers.get("connection") != "close"


async def persistent(host: str, port: int, interval: float, timeout: float,
                     deadline: float, closed: threading.Event) -> None:
    """One client on one long-lived connection (a new one only after a failure)."""
    number = 0
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    next_start = time.monotonic()
    while time.monotonic() < deadline and not closed.is_set():
        start = time.monotonic()
        try:
            if connection is None:
                number += 1
                connection = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    timeout)
            result, keep = await asyncio.wait_for(_keepalive_get(*connection, host), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            result, keep = _failure(error), False
        if not keep and connection is not None:
            connection[1].close()
            connection = None
        sys.stdout.write(f"{start:.6f} {time.monotonic() - start:.6f} {result}@{number}\n")
        sys.stdout.flush()
        next_start = max(next_start + interval, time.monotonic())
        await asyncio.sleep(next_start - time.monotonic())
    if connection is not None:
        connection[1].close()


def _watch_stdin(closed: threading.Event) -> None:
    try:
        sys.stdin.buffer.read()
    finally:
        closed.set()


async def run(url: str, interval: float, timeout: float, duration: float,
              max_in_flight: int, keepalive: bool = False) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    out: list[str] = []
    tasks: set[asyncio.Task[None]] = set()
    closed = threading.Event()
    threading.Thread(target=_watch_stdin, args=(closed,), daemon=True).start()
    deadline = time.monotonic() + duration
    if keepalive:
        await persistent(host, port, interval, timeout, deadline, closed)
        return
    next_start = time.monotonic()
    while time.monotonic() < deadline and not closed.is_set():
        if len(tasks) < max_in_flight:
            task = asyncio.ensure_future(_attempt(host, port, timeout, out))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if out:
            sys.stdout.write("".join(out))
            sys.stdout.flush()
            out.clear()
        next_start += interval
        await asyncio.sleep(max(0.0, next_start - time.monotonic()))
    if tasks:
        await asyncio.wait(tasks, timeout=timeout + 1)
    sys.stdout.write("".join(out))
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=0.25)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--persistent", action="store_true",
                        help="one client on a long-lived keep-alive connection")
    args = parser.parse_args(argv)
    asyncio.run(run(args.url, args.interval, args.timeout, min(args.duration, 900.0),
                    args.max_in_flight, args.persistent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
