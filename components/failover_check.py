"""Smoke check and failover drill for a VRRP pair, run by pulumi-command and by the labs.

    python -m components.failover_check smoke --url http://VIP/ --deadline 600
    python -m components.failover_check drill --url http://VIP/ \\
        --member vrrp-node-1=PORT_ID --member vrrp-node-2=PORT_ID --switch openstack

The drill finds the master (each member's page names it), disables the
master's port (Neutron `admin_state_up=false` with `--switch openstack`, or any
shell command with `--switch command`, which is how the labs block a bridge
port), probes the address until another member answers, re-enables the port and
prints one JSON object. The same code runs in the labs and in `pulumi up`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Protocol

Clock = Callable[[], float]


@dataclass
class Probe:
    at: float
    member: str | None  # None: no answer


@dataclass
class DrillResult:
    old_master: str
    new_master: str | None
    seconds_until_new_master: float | None
    downtime_seconds: float | None
    probes: int
    failed_probes: int


#: Names a network namespace (/run/netns/NAME) to send the probes from, when the
#: address is reachable only there (the local cloud's floating IPs: its client namespace).
#: The OpenStack API calls stay in this process's own namespace. Needs root.
NETNS_ENV = "VRRP_CHECK_NETNS"
_CLONE_NEWNET = 0x40000000
_prober: ThreadPoolExecutor | None = None


def _enter_netns(name: str) -> None:
    """Moves the calling thread (only) into the named network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{NETNS_ENV}={name}: setns: {os.strerror(errno)}")
    finally:
        os.close(fd)


def _probe_here(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read(256).decode(errors="replace").strip() or None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def probe_once(url: str, timeout: float) -> str | None:
    """The member name the page reports, or None when nothing answers in time."""
    global _prober
    namespace = os.environ.get(NETNS_ENV, "")
    if not namespace:
        return _probe_here(url, timeout)
    if _prober is None:  # one thread that lives in the namespace sends every probe
        if not os.path.exists(f"/run/netns/{namespace}"):
            raise RuntimeError(f"{NETNS_ENV}={namespace}: no such network namespace "
                               f"(/run/netns/{namespace})")
        _prober = ThreadPoolExecutor(max_workers=1, initializer=_enter_netns,
                                     initargs=(namespace,))
    return _prober.submit(_probe_here, url, timeout).result()


class PortSwitch(Protocol):
    """Turns a member's network port off and on again."""

    def disable(self, member: str) -> None: ...
    def enable(self, member: str) -> None: ...


class CommandSwitch:
    """Runs shell templates with {member} and {port_id}: the labs' bridge-port block."""

    def __init__(self, disable: str, enable: str, ports: dict[str, str]) -> None:
        self._disable, self._enable, self._ports = disable, enable, ports

    def _run(self, template: str, member: str) -> None:
        command = template.format(member=member, port_id=self._ports.get(member, ""))
        subprocess.run(command, shell=True, check=True)

    def disable(self, member: str) -> None:
        self._run(self._disable, member)

    def enable(self, member: str) -> None:
        self._run(self._enable, member)


class NeutronSwitch:
    """`admin_state_up=false` on the member's Neutron port: the recipe's failover test."""

    def __init__(self, ports: dict[str, str]) -> None:
        import openstack  # openstacksdk; reads OS_CLOUD / clouds.yaml / OS_* like the CLI

        self._ports = ports
        self._network = openstack.connect().network

    def disable(self, member: str) -> None:
        self._network.update_port(self._ports[member], admin_state_up=False)

    def enable(self, member: str) -> None:
        self._network.update_port(self._ports[member], admin_state_up=True)


def wait_until_serving(url: str, deadline: float, interval: float = 1.0,
                       clock: Clock = time.monotonic) -> tuple[str, float]:
    """First member to answer and how long it took; raises TimeoutError at the deadline."""
    start = clock()
    while True:
        member = probe_once(url, timeout=min(5.0, max(interval, 0.5)))
        if member:
            return member, clock() - start
        if clock() - start >= deadline:
            raise TimeoutError(f"{url} did not serve within {deadline:.0f} s")
        time.sleep(interval)


def drill(url: str, members: Sequence[str], switch: PortSwitch, timeout: float = 60.0,
          probe_interval: float = 0.01, probe_timeout: float = 0.25,
          clock: Clock = time.monotonic) -> DrillResult:
    """Fail the master's port, measure until another member answers, restore the port.

    The client keeps probing while the port is being disabled (the API call runs
    in a thread), so downtime is what a client sees: from the master's last
    answer to the first answer of another member."""
    answered = probe_once(url, timeout=5.0)
    if answered is None or answered not in members:
        raise RuntimeError(f"{url} answered {answered!r}, not one of {', '.join(members)}")
    old_master: str = answered
    probes = [Probe(clock(), old_master)]
    started = clock()
    errors: list[BaseException] = []

    def disable() -> None:
        try:
            switch.disable(old_master)
        except BaseException as error:  # reported after the port is restored
            errors.append(error)

    worker = threading.Thread(target=disable, daemon=True)
    worker.start()
    new_master: str | None = None
    try:
        while clock() - started < timeout and not errors:
            member = probe_once(url, timeout=probe_timeout)
            probes.append(Probe(clock(), member))
            if member and member != old_master:
                new_master = member
                break
            time.sleep(probe_interval)
    finally:
        worker.join()
        switch.enable(old_master)
    if errors:
        raise RuntimeError(f"could not disable {old_master}'s port: {errors[0]}")
    last_old = max((p.at for p in probes if p.member == old_master), default=started)
    return DrillResult(
        old_master=old_master,
        new_master=new_master,
        seconds_until_new_master=round(probes[-1].at - started, 4) if new_master else None,
        downtime_seconds=round(probes[-1].at - last_old, 4) if new_master else None,
        probes=len(probes),
        failed_probes=sum(1 for p in probes if p.member is None),
    )


def _parse_members(values: Sequence[str]) -> dict[str, str]:
    members: dict[str, str] = {}
    for value in values:
        name, _, port_id = value.partition("=")
        members[name] = port_id
    return members


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="failover_check", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    smoke = sub.add_parser("smoke", help="wait until the URL serves a member's page")
    smoke.add_argument("--url", required=True)
    smoke.add_argument("--deadline", type=float, default=600.0)
    smoke.add_argument("--interval", type=float, default=2.0)
    run = sub.add_parser("drill", help="fail the master's port and measure the failover")
    run.add_argument("--url", required=True)
    run.add_argument("--member", action="append", required=True, metavar="NAME=PORT_ID")
    run.add_argument("--switch", choices=("openstack", "command"), default="openstack")
    run.add_argument("--disable-cmd", default="")
    run.add_argument("--enable-cmd", default="")
    run.add_argument("--timeout", type=float, default=60.0)
    run.add_argument("--probe-interval", type=float, default=0.01)
    run.add_argument("--probe-timeout", type=float, default=0.25)
    args = parser.parse_args(argv)

    if args.action == "smoke":
        try:
            member, seconds = wait_until_serving(args.url, args.deadline, args.interval)
        except TimeoutError as error:
            print(f"smoke check failed: {error}", file=sys.stderr)
            return 1
        print(json.dumps({"url": args.url, "served_by": member,
                          "seconds_to_first_answer": round(seconds, 3)}))
        return 0

    ports = _parse_members(args.member)
    switch: PortSwitch
    if args.switch == "command":
        if not args.disable_cmd or not args.enable_cmd:
            parser.error("--switch command needs --disable-cmd and --enable-cmd")
        switch = CommandSwitch(args.disable_cmd, args.enable_cmd, ports)
    else:
        switch = NeutronSwitch(ports)
    result = drill(args.url, list(ports), switch, args.timeout, args.probe_interval,
                   args.probe_timeout)
    print(json.dumps(asdict(result)))
    if result.new_master is None:
        print(f"failover drill failed: no other member answered within {args.timeout} s "
              f"after {result.old_master}'s port went down", file=sys.stderr)
        return 1
    return 0


def command_line(action: str, options: Sequence[str]) -> str:
    """The shell command pulumi-command runs: this module, with this Python."""
    return " ".join(shlex.quote(part) for part in
                    [sys.executable, "-m", "components.failover_check", action, *options])


if __name__ == "__main__":
    sys.exit(main())
