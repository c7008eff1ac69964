"""Boot-to-VIP time and client-observed failover downtime in real VMs (the VM lab).

    sudo .venv/bin/python benchmarks/vm_failover.py [--sources preinstalled:3,mirror:2]
         [--failover-sources preinstalled] [--members 2] [--boots 3] [--runs 1]
         [--baseline-runs N] [--json results.json]

For each package source (`name`, or `name:boots` instead of `--boots`) it boots fresh
labs (QEMU/TCG, the exact rendered user-data) and times QEMU start -> VIP answering
from the client namespace (the component's smoke check) and -> cloud-init done on
every member. `preinstalled` is the baseline for `mirror` (the first-boot install
from the lab's apt repository).

On the labs of `--failover-sources` it repeats every scenario `--runs` times per
boot, timed from the client namespace:
  apache-stopped  Apache stopped on the master (failover_check drill)
  apache-killed   every Apache process of the master SIGKILLed (systemctl kill)
  apache-hung     every Apache process of the master SIGSTOPped, then resumed
  port-down       the master's tap down on the bridge (failover_check drill)
  power-off       QEMU of the master quits; then it boots again and its return
                  to BACKUP is timed as "rejoin"; whether it serves right after is counted

Baseline for the failover numbers, measured in the same run: the same rendered
keepalived/Apache settings in the network-namespace lab (no VM, no emulation;
benchmarks/failover_lab.py's `vm-settings` profile): port blocked, Apache stopped,
killed and hung, link down (the closest to a powered-off master: its adverts stop).

Also QEMU's peak resident memory per VM (guest RAM VMLAB_MEMORY, TCG cache
VMLAB_TB_SIZE). Prints min/median/max per row. Needs root; see tests/vmlab/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import failover_lab
from tests.vmlab import scenarios
from tests.vmlab.lab import MEMORY_MIB, TB_SIZE_MIB, Lab, log

# The namespace-lab scenario that stands in for each VM scenario.
BASELINE = {"port-down": "port blocked", "apache-stopped": "Apache stopped",
            "apache-killed": "Apache killed", "apache-hung": "Apache hung",
            "power-off": "link down"}
BASELINE_WATCH = 20.0  # seconds; a 3 s x 2 health check needs more than the lab's 8 s
# A powered-off member boots again in 140-170 s (emulated); 600 s bounds one that never
# rejoins (a member stuck in FAULT held the CI for the whole 1500 s DEADLINE once).
REJOIN_DEADLINE = 600.0


class Samples(dict[str, list[float]]):
    def add(self, key: str, value: float | None) -> None:
        self.setdefault(key, [])
        if value is not None:
            self[key].append(float(value))


def _settle(lab: Lab, deadline: float = 300) -> None:
    """Every running member back in MASTER/BACKUP (not FAULT) and the VIP answering."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        states = [lab.keepalived_state(vm) for vm in lab.vms if vm.running]
        if (all(s in ("MASTER", "BACKUP") for s in states) and states.count("MASTER") == 1
                and lab.who_serves()):
            return
        time.sleep(2)
    raise TimeoutError("lab did not settle")


def _wait_rejoined(lab: Lab, name: str, deadline: float) -> str:
    """The returning member's state once it holds one (MASTER or BACKUP, not FAULT or
    none): a member that never gets there is the failure, whichever state it ends in."""
    end = time.monotonic() + deadline
    while (state := lab.keepalived_state(lab.vm(name))) not in ("MASTER", "BACKUP"):
        if time.monotonic() > end:
            raise TimeoutError(f"{name} did not rejoin (state {state}) within {deadline:.0f} s")
        time.sleep(1)
    return state


def failover_runs(lab: Lab, runs: int, samples: Samples, label: str) -> None:
    for run in range(runs):
        log(f"{label}: run {run + 1}/{runs}")
        for name, scenario in (("apache-stopped", scenarios.apache_stopped),
                               ("apache-killed", scenarios.apache_killed),
                               ("apache-hung", scenarios.apache_hung),
                               ("port-down", scenarios.nic_down)):
            samples.add(f"{label}: {name} downtime (s)", scenario(lab).get("downtime_seconds"))
            _settle(lab)
        result = scenarios.power_off_master(lab)
        samples.add(f"{label}: power-off downtime (s)", result["downtime_seconds"])
        old = lab.vm(result["old_master"])
        started = time.monotonic()
        old.boot()
        old.wait_agent(scenarios.DEADLINE)
        state = _wait_rejoined(lab, old.name, REJOIN_DEADLINE)
        samples.add(f"{label}: rejoin after power-on (s)", time.monotonic() - started)
        samples.add(f"{label}: rejoined as BACKUP (0/1)", 1.0 if state == "BACKUP" else 0.0)
        # Counted, not raised: a guest stalled while it boots can miss adverts and take the
        # VIP, as VRRP says (tests/vmlab); no preemption is asserted in the namespace lab.
        samples.add(f"{label}: returning member serves right after rejoin (0/1)",
                    1.0 if lab.who_serves() == old.name else 0.0)
        _settle(lab)


def bench_lab(source: str, members: int, runs: int, samples: Samples) -> None:
    with Lab.create(package_source=source, member_count=members) as lab:
        boot = scenarios.boot(lab)
        samples.add(f"{source}: boot-to-VIP (s)", boot["boot_to_vip_seconds"])
        samples.add(f"{source}: boot-to-cloud-init-done (s)", boot["boot_to_all_done_seconds"])
        failover_runs(lab, runs, samples, source)
        for vm in lab.vms:
            samples.add(f"{source}: QEMU peak RSS per VM (MiB)", vm.peak_rss_mib())


def baseline(runs: int, samples: Samples) -> None:
    """The VM lab's keepalived/Apache settings in network namespaces: what the VMs add."""
    members = failover_lab.profile_members("vm-settings", 0.0)
    for vm_scenario, lab_scenario in BASELINE.items():
        for run in range(runs):
            result = failover_lab.one_run(members, lab_scenario, watch_cap=BASELINE_WATCH,
                                          long_lived=False)
            log(f"baseline {lab_scenario} run {run + 1}/{runs}: takeover {result.takeover}")
            samples.add(f"baseline, namespaces, no VM: {vm_scenario} downtime (s)",
                        result.downtime if result.takeover is not None else None)


def print_table(samples: Samples, title: str) -> dict[str, Any]:
    print(f"\n{title}\n")
    rows = [("measurement", "n", "min", "median", "max")]
    summary: dict[str, Any] = {}
    for key, values in samples.items():
        if values:
            summary[key] = {"n": len(values), "min": min(values), "max": max(values),
                            "median": statistics.median(values), "samples": values}
            rows.append((key, str(len(values)), f"{min(values):.2f}",
                         f"{statistics.median(values):.2f}", f"{max(values):.2f}"))
        else:
            summary[key] = {"n": 0, "samples": []}
            rows.append((key, "0", "-", "-", "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sources", default="preinstalled:3,mirror:2",
                        help="package sources, each optionally :boots (else --boots)")
    parser.add_argument("--failover-sources", default="preinstalled",
                        help="sources whose labs also run the failover scenarios")
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="failover runs per boot")
    parser.add_argument("--baseline-runs", type=int,
                        help="namespace-lab runs per scenario (default: as many as "
                        "the VM failover runs)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    boots = {name: int(count or args.boots) for name, _, count in
             (s.partition(":") for s in args.sources.split(",") if s)}
    sources = list(boots)
    failover_sources = {s for s in args.failover_sources.split(",") if s}
    started = time.monotonic()
    samples = Samples()
    for source in sources:
        for boot in range(boots[source]):
            log(f"{source}: boot {boot + 1}/{boots[source]}")
            bench_lab(source, args.members,
                      args.runs if source in failover_sources else 0, samples)
    baseline_runs = args.baseline_runs
    if baseline_runs is None:
        baseline_runs = sum(boots[s] for s in failover_sources & set(sources)) * args.runs
    baseline(baseline_runs, samples)
    summary = print_table(
        samples, f"VM failover benchmark: {args.members} members, QEMU TCG (guest "
        f"{MEMORY_MIB} MiB, tb-size {TB_SIZE_MIB} MiB), boots "
        f"{args.sources}, {args.runs} failover run(s) per boot on "
        f"{','.join(sorted(failover_sources & set(sources))) or 'none'}; "
        f"{baseline_runs} baseline run(s); {time.monotonic() - started:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
