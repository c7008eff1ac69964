"""Boot-to-VIP time and client-observed failover downtime in real VMs (the VM lab).

    sudo .venv/bin/python benchmarks/vm_failover.py [--sources preinstalled,mirror]
         [--members 2] [--boots 1] [--runs 3] [--json results.json]

For each package source it boots `--boots` fresh labs (QEMU/TCG, the exact rendered
user-data) and times QEMU start -> VIP answering from the client namespace. On each
lab it repeats every scenario `--runs` times, measured from the client namespace:
  apache-stopped  Apache stopped on the master (failover_check drill)
  port-down       the master's tap down on the bridge (failover_check drill)
  power-off       QEMU of the master quits; then it boots again (its return to
                  BACKUP is timed as "rejoin") so the next run has all members
and prints min/median/max per scenario. Needs root; see tests/vmlab/README.md.
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

from tests.vmlab import scenarios
from tests.vmlab.lab import Lab, log


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


def _wait_backup(lab: Lab, name: str, deadline: float) -> None:
    end = time.monotonic() + deadline
    while lab.keepalived_state(lab.vm(name)) != "BACKUP":
        if time.monotonic() > end:
            raise TimeoutError(f"{name} did not return to BACKUP")
        time.sleep(1)


def bench_lab(source: str, members: int, runs: int, samples: dict[str, list[float]]) -> None:
    with Lab.create(package_source=source, member_count=members) as lab:
        boot = scenarios.boot(lab)
        samples.setdefault(f"{source}: boot-to-VIP", []).append(boot["boot_to_vip_seconds"])
        samples.setdefault(f"{source}: boot-to-cloud-init-done", []).append(
            boot["boot_to_all_done_seconds"])
        for run in range(runs):
            log(f"{source}: run {run + 1}/{runs}")
            for name, scenario in (("apache-stopped", scenarios.apache_stopped),
                                   ("port-down", scenarios.nic_down)):
                result = scenario(lab)
                if result.get("downtime_seconds") is not None:
                    samples.setdefault(f"{source}: {name} downtime", []).append(
                        result["downtime_seconds"])
                _settle(lab)
            result = scenarios.power_off_master(lab)
            if result["downtime_seconds"] is not None:
                samples.setdefault(f"{source}: power-off downtime", []).append(
                    result["downtime_seconds"])
            old = lab.vm(result["old_master"])
            started = time.monotonic()
            old.boot()
            old.wait_agent(scenarios.DEADLINE)
            _wait_backup(lab, old.name, scenarios.DEADLINE)
            samples.setdefault(f"{source}: rejoin as BACKUP after power-on", []).append(
                round(time.monotonic() - started, 1))
            _settle(lab)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", default="preinstalled,mirror")
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument("--boots", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}
    for source in args.sources.split(","):
        for _ in range(args.boots):
            bench_lab(source, args.members, args.runs, samples)
    print(f"\nVM failover benchmark: {args.members} members, TCG, "
          f"{args.boots} boot(s) x {args.runs} run(s) per source")
    print(f"{'scenario':<52} {'n':>3} {'min s':>8} {'median s':>9} {'max s':>8}")
    summary: dict[str, Any] = {}
    for key, values in samples.items():
        summary[key] = {"n": len(values), "min": min(values),
                        "median": statistics.median(values), "max": max(values),
                        "samples": values}
        print(f"{key:<52} {len(values):>3} {min(values):>8.2f} "
              f"{statistics.median(values):>9.2f} {max(values):>8.2f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
