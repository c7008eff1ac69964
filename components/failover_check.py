"""Smoke check and failover drill for a VRRP pair, run by pulumi-command and by the labs.

    python -m vrrp_pair.failover_check smoke --url http://VIP/ --deadline 600
    python -m vrrp_pair.failover_check drill --url http://VIP/ \\
        --member vrrp-node-1=PORT_ID --member vrrp-node-2=PORT_ID --switch openstack

The drill finds the master (each member's page names it; with `--settle S
--wait W`, the member that has answered every probe for S seconds, waiting up to W
seconds for one, as `pulumi up` runs it right after the pair boots), disables the
master's port (Neutron `admin_state_up=false` with `--switch openstack`, or any
shell command with `--switch command`, which is how the labs block a bridge
port), probes the address until another member answers, re-enables the port,
checks that it is enabled again (`--check-cmd` for `--switch command`) and
prints one JSON object. The same code runs in the labs and in `pulumi up`.

The port comes back on every way out the drill can catch (errors, SIGINT,
SIGTERM, SIGHUP, SIGQUIT: exit status 128 + the signal), and a guardian process
restores it if the drill dies without doing so (SIGKILL). If it cannot be
re-enabled the drill exits 2 naming the port and the command that restores it.

    python -m vrrp_pair.failover_check restore --member vrrp-node-1=PORT_ID ...

re-enables any of the given ports that is disabled (what `pulumi up` runs when it
finds a member port left disabled).
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import json
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from . import probe
from .drill_guard import GUARD_DEADLINE, Guardian, Interrupted, SignalGate, guard, say
from .port_switch import (
    RESTORE_DEADLINE,
    CommandSwitch,
    NeutronSwitch,
    PortSwitch,
    RestoreFailed,
    restore,
)

Clock = Callable[[], float]


def client_downtime(samples: Sequence[tuple[float, bool]]) -> float:
    """The downtime a client saw in these probes ((start time, answered), in time order):
    the longest stretch between two answered probes, or from the last answer to the last
    probe when they end unanswered (all of them when none was answered). The one
    definition the drill, the namespace lab and both benchmarks report, so their numbers
    measure the same thing."""
    answered = [at for at, ok in samples if ok]
    if not answered:
        return samples[-1][0] - samples[0][0] if samples else 0.0
    downtime = max((b - a for a, b in itertools.pairwise(answered)), default=0.0)
    if samples[-1][0] - answered[-1] > downtime:
        downtime = samples[-1][0] - answered[-1]  # still down at the end
    return downtime


@dataclass
class DrillResult:
    old_master: str
    new_master: str | None
    seconds_until_new_master: float | None
    downtime_seconds: float | None
    probes: int
    failed_probes: int
    port_restored: dict[str, Any] | None = None  # member, port_id, verified, detail


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


def _namespace() -> str:
    """The namespace VRRP_CHECK_NETNS names ("" for this process's own); checked to exist."""
    namespace = os.environ.get(NETNS_ENV, "")
    if namespace and not os.path.exists(f"/run/netns/{namespace}"):
        raise RuntimeError(f"{NETNS_ENV}={namespace}: no such network namespace "
                           f"(/run/netns/{namespace})")
    return namespace


def probe_once(url: str, timeout: float) -> str | None:
    """The member name the page reports, or None when nothing answers in time."""
    global _prober
    namespace = _namespace()
    if not namespace:
        return probe.once(url, timeout)
    if _prober is None:  # one thread that lives in the namespace sends every single probe
        _prober = ThreadPoolExecutor(max_workers=1, initializer=_enter_netns,
                                     initargs=(namespace,))
    return _prober.submit(probe.once, url, timeout).result()


class ProbeStream(Protocol):
    """What the drill probes with while the port goes down (vrrp_pair.probe.Prober)."""

    def start(self) -> Any: ...
    def stop(self) -> None: ...
    def snapshot(self) -> list[probe.Sample]: ...


def probe_stream(url: str, interval: float, timeout: float) -> ProbeStream:
    """A probe every `interval` seconds, each with its own `timeout`, from VRRP_CHECK_NETNS's
    namespace when it names one."""
    namespace = _namespace()
    return probe.Prober(url, interval, timeout,
                        enter=(lambda: _enter_netns(namespace)) if namespace else None)


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


def stable_master(url: str, members: Sequence[str], settle: float = 0.0, wait: float = 0.0,
                  interval: float = 0.5, clock: Clock = time.monotonic) -> str:
    """The member that has answered every probe for `settle` seconds, waiting up to
    `wait` seconds for one; with no wait, the member that answers one probe.

    Right after a pair boots (or after an earlier failover) the address can be silent
    for a moment or move between members while the election settles: disabling a
    port then would measure the settling, not a failover. A foreign answer (not one of
    `members`) is refused at once: the URL is not the pair's."""
    start = clock()
    leader: str | None = None
    since = start
    seen: list[str | None] = []
    while True:
        answered = probe_once(url, timeout=5.0)
        now = clock()
        seen = [*seen[-9:], answered]
        if answered is not None and answered not in members:
            raise RuntimeError(f"{url} answered {answered!r}, not one of {', '.join(members)}")
        if answered != leader:
            leader, since = answered, now
        if leader is not None and now - since >= settle:
            return leader
        if now - start >= wait:
            raise RuntimeError(
                f"{url}: no member answered steadily for {settle:g} s within {wait:g} s "
                f"(last answers, oldest first: {seen}); not one of {', '.join(members)} "
                "holds the address yet, so no port was disabled")
        time.sleep(interval)


def wait_until_booted(members: Sequence[str], booted: Callable[[str], bool | None],
                      wait: float, interval: float = 2.0,
                      clock: Clock = time.monotonic) -> list[str]:
    """Waits up to `wait` seconds until every member has finished booting (`booted` says
    True, or None where it cannot tell); returns the members still booting at the end.

    Right after `pulumi up` the floating IP serves as soon as one member is up, while the
    other may still be booting: a drill then would measure the rest of its boot, not a
    failover (seen on the local cloud: 11.6 s instead of about 3)."""
    start = clock()
    pending = list(members)
    while True:
        pending = [m for m in pending if booted(m) is False]
        if not pending or clock() - start >= wait:
            return pending
        say(f"failover drill: waiting for {', '.join(pending)} to finish booting "
            "(cloud-init's last line in the console log)")
        time.sleep(interval)


def drill(url: str, members: Sequence[str], switch: PortSwitch, timeout: float = 60.0,
          probe_interval: float = 0.01, probe_timeout: float = 0.25,
          clock: Clock = time.monotonic,
          guardian: Callable[[str], Guardian] | None = None,
          gate: SignalGate | None = None,
          restore_deadline: float = RESTORE_DEADLINE,
          settle: float = 0.0, wait: float = 0.0,
          prober: Callable[[str, float, float], ProbeStream] = probe_stream,
          booted: Callable[[str], bool | None] | None = None) -> DrillResult:
    """Fail the master's port, measure until another member answers, restore the port.

    First the master: the member that has answered steadily for `settle` seconds,
    waited for up to `wait` seconds (stable_master). Then a probe starts every
    `probe_interval` seconds, each on its own connection with its own `probe_timeout`
    (vrrp_pair.probe, as the labs probe), while the port is being disabled (the API call
    runs in a thread), so downtime is what a client sees: from the master's last answer
    to the first answer of another member. Whatever ends the probing, the port is
    re-enabled and seen enabled before this returns or raises (signals that arrive
    meanwhile wait in `gate`); `guardian(master)` starts a watchdog first. With `booted`,
    every member must first have finished booting (within the same `wait`; past it the
    drill goes on and says which member may still have been booting)."""
    started_waiting = clock()
    if booted is not None:
        still = wait_until_booted(members, booted, wait, clock=clock)
        if still:
            say(f"failover drill: {', '.join(still)} not seen to finish booting within "
                f"{wait:g} s; the downtime may include the rest of its boot")
    wait = max(0.0, wait - (clock() - started_waiting))
    old_master = stable_master(url, members, settle, wait, clock=clock)
    watchdog = guardian(old_master) if guardian else None
    gate = gate or SignalGate()
    anchor = probe.Sample(clock(), 0.0, old_master)  # stable_master's last answer
    started = anchor.start
    errors: list[BaseException] = []

    def disable() -> None:
        try:
            switch.disable(old_master)
        except BaseException as error:  # reported after the port is restored
            errors.append(error)

    say(f"failover drill: disabling {old_master}'s port {switch.port_id(old_master)}")
    stream = prober(url, probe_interval, probe_timeout)
    worker = threading.Thread(target=disable, daemon=True)
    seen: list[probe.Sample] = []
    new: probe.Sample | None = None
    try:
        stream.start()
        worker.start()
        while clock() - started < timeout and not errors:
            seen = stream.snapshot()
            new = next((s for s in seen if s.member and s.member != old_master), None)
            if new:
                break
            time.sleep(max(probe_interval, 0.005))
    finally:
        stream.stop()
        with gate.hold():
            if worker.ident is not None:
                worker.join()
            try:
                restored = restore(switch, old_master, deadline=restore_deadline)
            except RestoreFailed:
                if watchdog:
                    say(f"failover drill: a guardian (pid {watchdog.pid}) keeps trying for "
                        f"{GUARD_DEADLINE / 60:.0f} minutes; it logs to "
                        f"{watchdog.abandon()}")
                raise
            if watchdog:
                watchdog.release()
            how = {True: "verified", False: "NOT verified", None: "not verifiable"}
            say(f"failover drill: {old_master}'s port {restored.port_id} is enabled again "
                f"({how[restored.verified]}: {restored.detail})")
    if errors:
        raise RuntimeError(f"could not disable {old_master}'s port: {errors[0]}")
    # up to the first answer of the new master (later ones say nothing of the outage)
    counted = [anchor, *(s for s in seen if new is None or s.start <= new.start)]
    return DrillResult(
        old_master=old_master,
        new_master=new.member if new else None,
        seconds_until_new_master=(round(new.start + new.latency - started, 4)
                                  if new else None),
        downtime_seconds=(round(client_downtime([(s.start, s.ok) for s in counted]), 4)
                          if new else None),
        probes=len(counted),
        failed_probes=sum(1 for s in counted if not s.ok),
        port_restored=asdict(restored),
    )


def restore_disabled(switch: PortSwitch, members: Sequence[str]) -> dict[str, Any]:
    """Re-enable each member's port that is disabled; the others are left alone."""
    report: dict[str, Any] = {"checked": list(members), "restored": []}
    for member in members:
        state = switch.state(member)
        if state.enabled is False:
            say(f"{member}'s port {switch.port_id(member)} is disabled ({state.detail}); "
                "re-enabling it")
            report["restored"].append(asdict(restore(switch, member)))
    return report


def _parse_members(values: Sequence[str]) -> dict[str, str]:
    members: dict[str, str] = {}
    for value in values:
        name, _, port_id = value.partition("=")
        members[name] = port_id
    return members


def _switch_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--member", action="append", required=required, default=[],
                        metavar="NAME=PORT_ID")
    parser.add_argument("--switch", choices=("openstack", "command"), default="openstack")
    parser.add_argument("--disable-cmd", default="")
    parser.add_argument("--enable-cmd", default="")
    parser.add_argument("--check-cmd", default="",
                        help="exits 0 while {member}'s port is enabled (--switch command)")


# `python -m` runs this module from the installed package (no PYTHONPATH needed).
MODULE = f"{__package__}.failover_check"


def _make_switch(args: argparse.Namespace, ports: dict[str, str]) -> PortSwitch:
    if args.switch == "command":
        return CommandSwitch(args.disable_cmd, args.enable_cmd, ports, args.check_cmd)
    return NeutronSwitch(ports)


def _guard_argv(args: argparse.Namespace, member: str, port_id: str) -> list[str]:
    """The guardian: this module, this Python, the drill's switch, one member."""
    return [sys.executable, "-m", MODULE, "guard",
            "--member", f"{member}={port_id}", "--switch", args.switch,
            "--enable-cmd", args.enable_cmd, "--check-cmd", args.check_cmd]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="failover_check", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    smoke = sub.add_parser("smoke", help="wait until the URL serves a member's page")
    smoke.add_argument("--url", required=True)
    smoke.add_argument("--deadline", type=float, default=600.0)
    smoke.add_argument("--interval", type=float, default=2.0)
    run = sub.add_parser("drill", help="fail the master's port and measure the failover")
    run.add_argument("--url", required=True)
    _switch_options(run)
    run.add_argument("--timeout", type=float, default=60.0)
    run.add_argument("--probe-interval", type=float, default=0.01)
    run.add_argument("--probe-timeout", type=float, default=0.25)
    run.add_argument("--restore-deadline", type=float, default=RESTORE_DEADLINE,
                     help="seconds to get the port enabled again before failing")
    run.add_argument("--settle", type=float, default=0.0,
                     help="seconds the master must have answered every probe before its "
                          "port is disabled (default 0: one answer)")
    run.add_argument("--wait", type=float, default=0.0,
                     help="seconds to wait for such a master before giving up, disabling "
                          "nothing (default 0: no waiting)")
    _switch_options(sub.add_parser("restore", help="re-enable member ports left disabled"),
                    required=False)
    _switch_options(sub.add_parser("guard", help="(internal) restore a port unless released "
                                                 "on stdin"))
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
    if args.switch == "command" and (not args.enable_cmd or (
            args.action == "drill" and not args.disable_cmd)):
        parser.error("--switch command needs --disable-cmd and --enable-cmd")
    if args.action == "guard":
        return guard(lambda: _make_switch(args, ports), list(ports), sys.stdin.buffer,
                     sys.stdout.buffer)
    if args.action == "restore" and not ports:
        print(json.dumps({"checked": [], "restored": []}))
        return 0
    switch = _make_switch(args, ports)
    if args.action == "restore":
        try:
            print(json.dumps(restore_disabled(switch, list(ports))))
        except RestoreFailed as failure:
            say(f"port repair failed: {failure}")
            return 2
        return 0

    with SignalGate() as gate:
        try:
            result = drill(args.url, list(ports), switch, args.timeout, args.probe_interval,
                           args.probe_timeout,
                           guardian=lambda master: Guardian(_guard_argv(args, master,
                                                                        ports[master])),
                           gate=gate, restore_deadline=args.restore_deadline,
                           settle=args.settle, wait=args.wait,
                           booted=switch.booted if isinstance(switch, NeutronSwitch) else None)
        except Interrupted as stop:
            say(f"failover drill {stop}")
            return 128 + stop.signum
        except RestoreFailed as failure:
            say(f"failover drill FAILED: {failure}")
            return 2
    print(json.dumps(asdict(result)))
    if result.new_master is None:
        print(f"failover drill failed: no other member answered within {args.timeout} s "
              f"after {result.old_master}'s port went down", file=sys.stderr)
        return 1
    return 0


def command_line(action: str, options: Sequence[str]) -> str:
    """The shell command pulumi-command runs: this module, with this Python."""
    return " ".join(shlex.quote(part) for part in
                    [sys.executable, "-m", MODULE, action, *options])


if __name__ == "__main__":
    sys.exit(main())
