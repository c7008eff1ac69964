"""Failover benchmark in the namespace lab (needs root, keepalived, apache2, curl, iproute2).

    sudo .venv/bin/python -m benchmarks.failover_lab --runs 5

For each profile and scenario, builds a fresh lab (two members, one client),
lets member 1 become master, probes the VIP over HTTP from the client every
10 ms (each request on a new connection with a 250 ms timeout, started without
waiting for earlier ones) and injects the failure on the master. Reports:

- downtime: the longest gap the client saw between two answered requests;
- takeover: failure injection -> first request answered by another member;
- heal gap (port blocked only): the longest gap in the 7 s after the port is
  unblocked again (a stale ARP entry shows up here);
- long-lived connection: a second client keeps one HTTP/1.1 keep-alive
  connection to the VIP and sends a request on it every 0.1 s (each may wait
  3 s): when and how that connection breaks (reset, EOF, timeout), and when a
  request on its new connection is answered again (--long-lived-profiles).

Profiles:
- recipe:  the recipe's keepalived.conf (literal below): multicast VRRPv2,
           advert 1 s, no health check, state MASTER/BACKUP, priority 100/50;
- before:  the component's defaults before issue 12, the baseline: advert
           0.2 s, keepalived's whole-second web check only (webCheckInterval 0),
           no real-time scheduling (realtimeVrrp false);
- default: what the component renders with its defaults;
- fast:    the component with a short VRRPv3 advert (--fast-advert, 0.02 s);
- before-fast (only when asked for): `before` with the fast advert, the fast
           profile as it was before issue 12;
- vm-settings (only when asked for): the component with the timings the local cloud's
           emulated members get (scripts/localcloud/dev-stack.yaml: advert 1 s, health
           check every 3 s, fall 2, web check every 1 s with a 2 s timeout);
           benchmarks/cloud_failover.py runs it as its no-VM baseline.
The failure is injected at a random phase (0.5-1.5 s after the probe sees the
master) so that it is not correlated with the health check's 1 s timer.
Apache, the web page and (for default/fast) the health check come from the
component's rendered user-data in every profile.

--soak SECONDS instead runs the chosen profiles' pairs side by side in one lab
(one VRID each), every member's namespace running `stress-ng --cpu 0` (a CPU hog
per CPU, per member), and counts what should never happen without a failure:
elections won by a backup, FAULTs (a false web-check failure), failed requests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labs.namespace.lab import (
    Lab,
    LabError,
    LongLived,
    Member,
    with_keepalived_conf,
)
from labs.namespace.render import KEEPALIVED_CONF, MemberFiles, pair_spec, render_pairs

# The recipe's configuration, the baseline we improve on. {state} and
# {priority} differ per member.
RECIPE_KEEPALIVED_CONF = """\
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cr3t
    }}
    virtual_ipaddress {{
        {vip}
    }}
}}
"""

SCENARIOS: dict[str, Callable[[Member], None]] = {
    "port blocked": Member.block_port,
    "link down": Member.link_down,
    "keepalived killed": lambda m: m.kill_keepalived(signal.SIGKILL, group=True),
    "keepalived stopped": lambda m: m.kill_keepalived(signal.SIGTERM, group=False),
    "Apache stopped": Member.stop_apache,
    "Apache killed": Member.kill_apache,
    "Apache hung": Member.hang_apache,
}
DEFAULT_SCENARIOS = ("port blocked", "link down", "keepalived killed", "Apache stopped",
                     "Apache killed", "Apache hung")
# The recipe has no health check: its Apache scenarios only wait WATCH_CAP each.
RECIPE_SCENARIOS = ("port blocked", "link down", "keepalived killed", "Apache stopped")
PROFILES = ("recipe", "before", "default", "fast", "before-fast", "vm-settings")
WATCH_CAP = 8.0      # seconds to wait for a takeover before calling it "none"
HEAL_WATCH = 7.0     # seconds watched after an unblock
LONG_LIVED_INTERVAL = 0.1  # seconds between the long-lived client's requests
LONG_LIVED_TIMEOUT = 3.0   # seconds each of its requests may wait
LONG_LIVED_WATCH = LONG_LIVED_TIMEOUT + 1.5  # after the takeover, for its outcome


@dataclass
class Run:
    downtime: float
    takeover: float | None
    heal_gap: float | None = None
    dead_master_keeps_vip: bool = False
    spurious: int = 0  # extra elections won by the backup (flapping)
    flapped: bool = False  # the master had already changed before the failure
    long_lived: LongLived | None = None


@dataclass
class Cell:
    profile: str
    scenario: str
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# The defaults before issue 12, through settings: slower adverts, no fast web check and
# keepalived's VRRP process at normal priority (issue 12 made it real-time).
BEFORE_ARGS: dict[str, Any] = {"advert_interval": 0.2, "web_check_interval": 0,
                               "realtime_vrrp": False}


LOCAL_CLOUD_SETTINGS = Path(__file__).resolve().parent.parent / "scripts" / "localcloud" / \
    "dev-stack.yaml"
TIMING_KEYS = {"advertInterval": "advert_interval", "healthCheckInterval": "health_check_interval",
               "healthCheckFall": "health_check_fall", "webCheckInterval": "web_check_interval",
               "webCheckTimeout": "web_check_timeout"}


def local_cloud_timings() -> dict[str, Any]:
    """The keepalived and web-check timings scripts/deploy gives the dev stack on the
    local cloud (its emulated members)."""
    import yaml

    settings = yaml.safe_load("config:\n" + LOCAL_CLOUD_SETTINGS.read_text())["config"]
    return {arg: settings[f"vrrp-pair:{key}"] for key, arg in TIMING_KEYS.items()
            if f"vrrp-pair:{key}" in settings}


def profile_args(profile: str, fast_advert: float) -> dict[str, Any]:
    """Component arguments of a profile (the recipe's keepalived.conf is its own file)."""
    if profile == "vm-settings":
        return local_cloud_timings()
    return {
        "recipe": {}, "default": {},
        "before": BEFORE_ARGS,
        "before-fast": {**BEFORE_ARGS, "advert_interval": fast_advert},
        "fast": {"advert_interval": fast_advert},
    }[profile]


def adapt(profile: str, members: list[MemberFiles]) -> list[MemberFiles]:
    """Rendered members -> the profile's files: the recipe runs its own keepalived.conf
    (the literal above, not a rendering of any settings); every other profile is what the
    component renders from its settings."""
    if profile == "recipe":
        return [with_keepalived_conf(m, RECIPE_KEEPALIVED_CONF.format(
            state="MASTER" if i == 0 else "BACKUP", priority=100 if i == 0 else 50,
            vip=m.vip)) for i, m in enumerate(members)]
    return members


def profile_pairs(profiles: list[str], fast_advert: float) -> list[list[MemberFiles]]:
    """Each profile's pair, rendered in one program (distinct VRIDs and addresses,
    so they can share one lab)."""
    specs = [pair_spec(profile.replace("-", ""), i, **profile_args(profile, fast_advert))
             for i, profile in enumerate(profiles)]
    return [adapt(profile, members)
            for profile, members in zip(profiles, render_pairs(specs), strict=True)]


def profile_members(profile: str, fast_advert: float) -> list[MemberFiles]:
    (members,) = render_pairs([pair_spec(**profile_args(profile, fast_advert))])
    return adapt(profile, members)


def one_run(members: list[MemberFiles], scenario: str, watch_cap: float = WATCH_CAP,
            long_lived: bool = True) -> Run:
    with Lab([members]) as lab, contextlib.ExitStack() as probes:
        lab.start()
        old, new = lab.members
        probe = probes.enter_context(lab.probe())
        keeper = probes.enter_context(lab.probe(
            interval=LONG_LIVED_INTERVAL, timeout=LONG_LIVED_TIMEOUT,
            persistent=True)) if long_lived else None
        probe.wait_for(old.name, 0, 10)
        time.sleep(0.5 + random.random())
        t0 = time.monotonic()
        SCENARIOS[scenario](old)
        try:
            probe.wait_for(new.name, t0, watch_cap, settle=5)
            time.sleep(0.5)
            outage = probe.outage(t0)
        except LabError:
            outage = probe.outage(t0)
        spurious = new.keepalived_log().count("Entering MASTER STATE")
        spurious -= 1 if new.holds_vip() else 0
        run = Run(downtime=outage.downtime, takeover=outage.takeover,
                  dead_master_keeps_vip=outage.takeover is not None and old.holds_vip(),
                  spurious=max(spurious, 0), flapped=outage.before != old.name)
        if keeper is not None:
            run.long_lived = keeper.wait_long_lived(t0, LONG_LIVED_WATCH)
        if scenario == "port blocked" and outage.takeover is not None:
            t1 = time.monotonic()
            old.unblock_port()
            time.sleep(HEAL_WATCH)
            # From just before the unblock: the failover's own gap is not a heal gap.
            run.heal_gap = probe.outage(t1, lookback=0.1).downtime
        return run


def idle_check(members: list[MemberFiles], seconds: float) -> tuple[int, int, float]:
    """No failure: elections won by the backup, failed requests and the longest
    gap over `seconds` (flapping under CPU load shows up here)."""
    with Lab([members]) as lab:
        lab.start()
        backup = lab.members[1]
        with lab.probe() as probe:
            probe.wait_for(lab.members[0].name, 0, 10)
            t0 = time.monotonic()
            time.sleep(seconds)
            outage = probe.outage(t0)
        return (backup.keepalived_log().count("Entering MASTER STATE"), outage.failures,
                outage.downtime)


@dataclass
class SoakResult:
    profile: str
    advert: str
    seconds: float
    backup_elections: int     # MASTER entered by anyone but the pair's first master
    faults: int               # FAULT entered (a check failed with nothing broken)
    web_check_failures: int   # FAILED verdicts of the fast web check
    timer_warnings: int       # keepalived's "thread timer expired" (it ran late)
    requests: int
    failed_requests: int
    longest_gap: float


def _since(text: str, offset: int) -> str:
    return text[offset:]


def soak(profiles: list[str], fast_advert: float, seconds: float,
         stress: bool = True) -> tuple[list[SoakResult], str]:
    """All profiles' pairs side by side under CPU saturation, no failure injected.
    Returns the results and the load average seen at the end."""
    pairs = profile_pairs(profiles, fast_advert)
    with Lab(pairs) as lab, contextlib.ExitStack() as running:
        lab.start()
        first = {pair[0].pair: pair[0].name for pair in pairs}
        logs = {m.name: (len(m.keepalived_log()), len(m.web_check_log())) for m in lab.members}
        hogs: list[subprocess.Popen[bytes]] = []
        if stress:
            for m in lab.members:
                hogs.append(subprocess.Popen(
                    ["ip", "netns", "exec", m.ns, "stress-ng", "--cpu", "0", "--timeout",
                     f"{int(seconds) + 30}s", "--quiet"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True))
            running.callback(_stop_all, hogs)
        probes = {pair[0].pair: running.enter_context(
            lab.probe(pair[0].vip, interval=0.05, timeout=1.0)) for pair in pairs}
        for pair in pairs:
            probes[pair[0].pair].wait_for(first[pair[0].pair], 0, 30)
        t0 = time.monotonic()
        time.sleep(seconds)
        load = Path("/proc/loadavg").read_text().split()[0]
        outages = {name: probe.outage(t0) for name, probe in probes.items()}
        requests = {name: len(probe.completed_since(t0)) for name, probe in probes.items()}
        results = []
        for profile, pair in zip(profiles, pairs, strict=True):
            members = [lab.member(m.name) for m in pair]
            ka = {m.name: _since(m.keepalived_log(), logs[m.name][0]) for m in members}
            wc = {m.name: _since(m.web_check_log(), logs[m.name][1]) for m in members}
            name = pair[0].pair
            conf = pair[0].files[KEEPALIVED_CONF].content
            advert = next((line.split()[1] for line in conf.splitlines()
                           if line.split()[:1] == ["advert_int"]), "?")
            results.append(SoakResult(
                profile=profile, advert=advert, seconds=seconds,
                backup_elections=sum(ka[m.name].count("Entering MASTER STATE")
                                     for m in members if m.name != first[name]),
                faults=sum(text.count("Entering FAULT STATE") for text in ka.values()),
                web_check_failures=sum(text.count("FAILED") for text in wc.values()),
                timer_warnings=sum(text.count("thread timer expired") for text in ka.values()),
                requests=requests[name], failed_requests=outages[name].failures,
                longest_gap=outages[name].downtime))
        return results, load


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def print_soak(results: list[SoakResult], load: str, stress: bool) -> None:
    seconds = results[0].seconds if results else 0
    print(f"\nSteadiness: all pairs side by side for {seconds:.0f} s, no failure injected, "
          + ("every member running stress-ng --cpu 0" if stress else "no extra load")
          + f" (1-min load average at the end: {load} on {os.cpu_count()} CPUs); "
          "a request fails after 1 s\n")
    print("| profile | advert (s) | elections won by a backup | FAULTs | web check failures "
          "| keepalived ran late | requests failed / sent | longest gap (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.profile} | {r.advert} | {r.backup_elections} | {r.faults} | "
              f"{r.web_check_failures} | {r.timer_warnings} | {r.failed_requests} / "
              f"{r.requests} | {r.longest_gap:.3f} |", flush=True)


def _fmt(values: list[float | None], cap: float | None = None) -> str:
    if not values:
        return "-"
    if any(v is None for v in values):
        missing = sum(v is None for v in values)
        known = [v for v in values if v is not None]
        tail = f" ({missing}/{len(values)} none in {cap:.0f} s)" if cap else f" ({missing} none)"
        return (_fmt(list(known)) if known else "none") + tail
    nums = [float(v) for v in values if v is not None]
    return f"{min(nums):.3f} / {statistics.median(nums):.3f} / {max(nums):.3f}"


def _markdown(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
              + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def _good(cell: Cell) -> list[Run]:
    return [r for r in cell.runs if not r.flapped]


def print_table(cells: list[Cell], runs: int, fast_advert: float) -> None:
    print(f"\nClient-observed failover, {runs} runs each (the recipe fewer), seconds as "
          f"min / median / max (probe every 10 ms; fast advert {fast_advert} s)\n")
    rows: list[tuple[str, ...]] = [("profile", "scenario", "downtime", "backup answers after",
                                    "heal gap (unblock)", "notes")]
    for cell in cells:
        notes = []
        flapped = sum(r.flapped for r in cell.runs)
        if flapped:
            notes.append(f"{flapped} runs flapped before the failure (excluded)")
        good = _good(cell)
        keeps = sum(r.dead_master_keeps_vip for r in good)
        if keeps and cell.scenario.startswith("keepalived"):
            notes.append(f"dead master keeps VIP {keeps}/{len(good)}")
        spurious = sum(r.spurious for r in cell.runs)
        if spurious:
            notes.append(f"{spurious} spurious elections")
        if cell.errors:
            notes.append(f"{len(cell.errors)} errors")
        heal = [r.heal_gap for r in good if r.heal_gap is not None]
        rows.append((cell.profile, cell.scenario,
                     _fmt([r.downtime for r in good if r.takeover is not None]
                          + [None for r in good if r.takeover is None], WATCH_CAP),
                     _fmt([r.takeover for r in good], WATCH_CAP),
                     _fmt(list(heal)) if heal else "-", "; ".join(notes)))
    _markdown(rows)


def print_long_lived(cells: list[Cell]) -> None:
    """How the long-lived keep-alive connection ended, per profile and scenario."""
    if not any(r.long_lived for c in cells for r in c.runs):
        return
    print(f"\nLong-lived connection (one HTTP/1.1 keep-alive connection, a request every "
          f"{LONG_LIVED_INTERVAL:g} s, each waiting up to {LONG_LIVED_TIMEOUT:g} s); seconds "
          "after the failure, min / median / max\n")
    rows: list[tuple[str, ...]] = [("profile", "scenario", "old connection",
                                    "client learns after", "new connection answered after")]
    for cell in cells:
        seen = [r.long_lived for r in _good(cell) if r.long_lived is not None]
        if not seen:
            continue
        kinds: dict[str, int] = {}
        for outcome in seen:
            kinds[outcome.how] = kinds.get(outcome.how, 0) + 1
        how = ", ".join(f"{kind} {count}/{len(seen)}" for kind, count in sorted(kinds.items()))
        rows.append((cell.profile, cell.scenario, how,
                     _fmt([o.broke_after for o in seen if o.broke_after is not None]),
                     _fmt([o.served_again_after for o in seen], LONG_LIVED_WATCH)))
    _markdown(rows)


def print_before_after(cells: list[Cell], baseline: str = "before") -> None:
    """Max downtime per scenario: the baseline profile against the others."""
    by = {(c.profile, c.scenario): c for c in cells}
    others = [p for p in dict.fromkeys(c.profile for c in cells) if p not in (baseline,
                                                                            "recipe")]
    if (baseline not in {c.profile for c in cells}) or not others:
        return
    print(f"\nBefore (`{baseline}`: the defaults before issue 12) and after, same run: "
          "worst client downtime in seconds (max over runs)\n")
    rows: list[tuple[str, ...]] = [("scenario", baseline, *others)]
    for scenario in dict.fromkeys(c.scenario for c in cells):
        row = [scenario]
        for profile in (baseline, *others):
            cell = by.get((profile, scenario))
            good = _good(cell) if cell else []
            if not good:
                row.append("-")
            elif any(r.takeover is None for r in good):
                row.append(f"none in {WATCH_CAP:.0f} s")
            else:
                row.append(f"{max(r.downtime for r in good):.3f}")
        rows.append(tuple(row))
    _markdown(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--recipe-runs", type=int, default=3,
                        help="runs of the recipe baseline (its numbers barely move)")
    parser.add_argument("--profiles", default="recipe,before,default,fast",
                        help="comma-separated, from: " + ", ".join(PROFILES)
                        + " ('' for none: only the soak)")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help="comma-separated, from: " + ", ".join(SCENARIOS)
                        + f" (the recipe runs only {', '.join(RECIPE_SCENARIOS)})")
    parser.add_argument("--fast-advert", type=float, default=0.02)
    parser.add_argument("--long-lived-profiles", default="default",
                        help="profiles whose runs also carry the long-lived connection "
                        "client ('' for none)")
    parser.add_argument("--json", type=Path, help="also write the raw runs here")
    parser.add_argument("--idle-check", type=float, default=0.0, metavar="SECONDS",
                        help="instead: run each profile idle this long and count flaps")
    parser.add_argument("--soak", type=float, default=0.0, metavar="SECONDS",
                        help="also: all --soak-profiles side by side this long under "
                        "stress-ng, counting spurious elections")
    parser.add_argument("--soak-profiles", default="before,before-fast,default,fast")
    parser.add_argument("--no-stress", action="store_true", help="soak without stress-ng")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    soak_profiles = [p.strip() for p in args.soak_profiles.split(",") if p.strip()]
    long_lived = {p.strip() for p in args.long_lived_profiles.split(",") if p.strip()}
    unknown = [s for s in scenarios if s not in SCENARIOS]
    unknown += [p for p in [*profiles, *soak_profiles, *long_lived] if p not in PROFILES]
    if unknown:
        parser.error(f"unknown scenarios or profiles: {unknown}")

    # SIGTERM/SIGHUP unwind like Ctrl-C so every lab's finally block cleans up.
    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    if args.idle_check > 0:
        print(f"| profile | backup elections in {args.idle_check:.0f} s idle "
              "| failed requests | longest gap |\n|---|---|---|---|")
        for profile in profiles:
            elections, failures, gap = idle_check(
                profile_members(profile, args.fast_advert), args.idle_check)
            print(f"| {profile} | {elections} | {failures} | {gap:.3f} |", flush=True)
        return 0

    cells: list[Cell] = []
    soaked: tuple[list[SoakResult], str] | None = None
    try:
        for profile in profiles:
            members = profile_members(profile, args.fast_advert)
            for scenario in scenarios:
                if profile == "recipe" and scenario not in RECIPE_SCENARIOS:
                    continue
                cell = Cell(profile, scenario)
                cells.append(cell)
                for i in range(args.recipe_runs if profile == "recipe" else args.runs):
                    try:
                        run = one_run(members, scenario, long_lived=profile in long_lived)
                    except LabError as error:
                        cell.errors.append(str(error).splitlines()[0])
                        print(f"{profile:8} {scenario:18} run {i + 1}: error {cell.errors[-1]}",
                              file=sys.stderr, flush=True)
                        continue
                    cell.runs.append(run)
                    takeover = "none" if run.takeover is None else f"{run.takeover:.3f}"
                    heal = "" if run.heal_gap is None else f", heal gap {run.heal_gap:.3f}"
                    heal += ", FLAPPED before the failure" if run.flapped else ""
                    if run.long_lived is not None:
                        heal += f", long-lived: {run.long_lived.how}"
                    print(f"{profile:8} {scenario:18} run {i + 1}: downtime "
                          f"{run.downtime:.3f}, takeover {takeover}{heal}",
                          file=sys.stderr, flush=True)
        if args.soak > 0:
            soaked = soak(soak_profiles, args.fast_advert, args.soak, stress=not args.no_stress)
    except KeyboardInterrupt:
        print("interrupted; partial results", file=sys.stderr)
    if cells:
        print_table(cells, args.runs, args.fast_advert)
        print_before_after(cells)
        print_long_lived(cells)
    if soaked is not None:
        print_soak(*soaked, stress=not args.no_stress)
    if args.json:
        args.json.write_text(json.dumps({
            "cells": [asdict(c) for c in cells],
            "soak": [asdict(r) for r in soaked[0]] if soaked else []}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
