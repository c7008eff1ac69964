"""Failover benchmark in the namespace lab (needs root, keepalived, apache2, curl, iproute2).

    sudo .venv/bin/python benchmarks/failover_lab.py --runs 5

For each profile and scenario, builds a fresh lab (two members, one client),
lets member 1 become master, probes the VIP over HTTP from the client every
10 ms (each request on a new connection with a 250 ms timeout, started without
waiting for earlier ones) and injects the failure on the master. Reports:

- downtime: the longest gap the client saw between two answered requests;
- takeover: failure injection -> first request answered by another member;
- heal gap (port blocked only): the longest gap in the 7 s after the port is
  unblocked again (a stale ARP entry shows up here).

Profiles:
- recipe:  the recipe's keepalived.conf (literal below): multicast VRRPv2,
           advert 1 s, no health check, state MASTER/BACKUP, priority 100/50;
- default: what the component renders with its defaults;
- fast:    the component with a short VRRPv3 advert (--fast-advert, 0.02 s);
- fast-rt (only when asked for): fast with `vrrp_rt_priority 50` (real-time
           scheduling of the VRRP process, against flapping under CPU load);
- default-garp1 (only when asked for): the default rendering with
           garp_master_refresh 1 instead of 5, to size the heal gap.
- vm-settings (only when asked for): the component with the timings the dev stack
           gets on the local cloud's emulated members (scripts/localcloud/dev-stack.yaml:
           advert 1 s, health check every 3 s, fall 2); benchmarks/cloud_failover.py
           runs it as its no-VM, no-cloud baseline.
The failure is injected at a random phase (0.5-1.5 s after the probe sees the
master) so that it is not correlated with the health check's 1 s timer.
Apache, the web page and (for default/fast) the health check come from the
component's rendered user-data in every profile.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.lab.lab import Lab, LabError, Member, with_keepalived_conf  # noqa: E402
from tests.lab.render import KEEPALIVED_CONF, MemberFiles, pair_spec, render_pairs  # noqa: E402

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
}
DEFAULT_SCENARIOS = ("port blocked", "link down", "keepalived killed", "Apache stopped")
WATCH_CAP = 8.0      # seconds to wait for a takeover before calling it "none"
HEAL_WATCH = 7.0     # seconds watched after an unblock


@dataclass
class Run:
    downtime: float
    takeover: float | None
    heal_gap: float | None = None
    dead_master_keeps_vip: bool = False
    spurious: int = 0  # extra elections won by the backup (flapping)
    flapped: bool = False  # the master had already changed before the failure


@dataclass
class Cell:
    profile: str
    scenario: str
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


LOCAL_CLOUD_SETTINGS = Path(__file__).resolve().parent.parent / "scripts" / "localcloud" / \
    "dev-stack.yaml"
TIMING_KEYS = {"advertInterval": "advert_interval", "healthCheckInterval": "health_check_interval",
               "healthCheckFall": "health_check_fall"}


def local_cloud_timings() -> dict[str, Any]:
    """The keepalived timings scripts/deploy gives the dev stack on the local cloud."""
    settings = yaml.safe_load("config:\n" + LOCAL_CLOUD_SETTINGS.read_text())["config"]
    return {arg: settings[f"vrrp-pair:{key}"] for key, arg in TIMING_KEYS.items()}


def profile_members(profile: str, fast_advert: float) -> list[MemberFiles]:
    if profile == "recipe":
        (members,) = render_pairs([pair_spec()])
        return [with_keepalived_conf(m, RECIPE_KEEPALIVED_CONF.format(
            state="MASTER" if i == 0 else "BACKUP", priority=100 if i == 0 else 50,
            vip=m.vip)) for i, m in enumerate(members)]
    if profile == "default":
        (members,) = render_pairs([pair_spec()])
        return members
    if profile == "default-garp1":
        (members,) = render_pairs([pair_spec()])
        return [with_keepalived_conf(m, m.files[KEEPALIVED_CONF].content.replace(
            "garp_master_refresh 5", "garp_master_refresh 1")) for m in members]
    if profile == "fast":
        (members,) = render_pairs([pair_spec(advert_interval=fast_advert)])
        return members
    if profile == "vm-settings":
        (members,) = render_pairs([pair_spec(**local_cloud_timings())])
        return members
    if profile == "fast-rt":
        (members,) = render_pairs([pair_spec(advert_interval=fast_advert)])
        return [with_keepalived_conf(m, m.files[KEEPALIVED_CONF].content.replace(
            "global_defs {\n", "global_defs {\n    vrrp_rt_priority 50\n", 1)) for m in members]
    raise ValueError(profile)


def one_run(members: list[MemberFiles], scenario: str, watch_cap: float = WATCH_CAP) -> Run:
    with Lab([members]) as lab:
        lab.start()
        old, new = lab.members
        with lab.probe() as probe:
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
            if scenario == "port blocked" and outage.takeover is not None:
                t1 = time.monotonic()
                old.unblock_port()
                time.sleep(HEAL_WATCH)
                run.heal_gap = probe.outage(t1).downtime
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


def print_table(cells: list[Cell], runs: int, fast_advert: float) -> None:
    print(f"\nClient-observed failover, {runs} runs each, seconds as min / median / max "
          f"(probe every 10 ms; fast advert {fast_advert} s)\n")
    header = ("profile", "scenario", "downtime", "backup answers after", "heal gap (unblock)",
              "notes")
    rows = [header]
    for cell in cells:
        notes = []
        flapped = sum(r.flapped for r in cell.runs)
        if flapped:
            notes.append(f"{flapped} runs flapped before the failure (excluded)")
        good = [r for r in cell.runs if not r.flapped]
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
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
              + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profiles", default="recipe,default,fast")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help="comma-separated, from: " + ", ".join(SCENARIOS))
    parser.add_argument("--fast-advert", type=float, default=0.02)
    parser.add_argument("--json", type=Path, help="also write the raw runs here")
    parser.add_argument("--idle-check", type=float, default=0.0, metavar="SECONDS",
                        help="instead: run each profile idle this long and count flaps")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {unknown}")

    # SIGTERM/SIGHUP unwind like Ctrl-C so every lab's finally block cleans up.
    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    if args.idle_check > 0:
        print(f"| profile | backup elections in {args.idle_check:.0f} s idle "
              "| failed requests | longest gap |\n|---|---|---|---|")
        for profile in args.profiles.split(","):
            elections, failures, gap = idle_check(
                profile_members(profile.strip(), args.fast_advert), args.idle_check)
            print(f"| {profile} | {elections} | {failures} | {gap:.3f} |", flush=True)
        return 0

    cells: list[Cell] = []
    try:
        for profile in args.profiles.split(","):
            members = profile_members(profile.strip(), args.fast_advert)
            for scenario in scenarios:
                cell = Cell(profile.strip(), scenario)
                cells.append(cell)
                for i in range(args.runs):
                    try:
                        run = one_run(members, scenario)
                    except LabError as error:
                        cell.errors.append(str(error).splitlines()[0])
                        print(f"{profile:8} {scenario:18} run {i + 1}: error {cell.errors[-1]}",
                              file=sys.stderr, flush=True)
                        continue
                    cell.runs.append(run)
                    takeover = "none" if run.takeover is None else f"{run.takeover:.3f}"
                    heal = "" if run.heal_gap is None else f", heal gap {run.heal_gap:.3f}"
                    heal += ", FLAPPED before the failure" if run.flapped else ""
                    print(f"{profile:8} {scenario:18} run {i + 1}: downtime "
                          f"{run.downtime:.3f}, takeover {takeover}{heal}",
                          file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted; partial results", file=sys.stderr)
    print_table(cells, args.runs, args.fast_advert)
    if args.json:
        args.json.write_text(json.dumps([asdict(c) for c in cells], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
