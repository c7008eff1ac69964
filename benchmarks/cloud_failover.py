"""The dev stack on the local cloud's real data plane: `pulumi up` to serving, failover
through Neutron, memory; with the namespace lab's baseline measured in the same run.

    scripts/local-cloud up && eval "$(scripts/local-cloud env)"
    sudo .venv/bin/python -m benchmarks.cloud_failover [--ups 2] [--runs 3] [--json out.json]

Boot: `--ups` times `pulumi up` of a fresh dev stack (Pulumi.dev.yaml plus
scripts/localcloud/dev-stack.yaml, the failover drill off) from nothing to the floating
IP serving, split into stages seen from outside while it runs: servers ACTIVE (Nova),
cloud-init done on both (the "Cloud-init ... finished" line in Nova's console log),
floating IP serving (from the client namespace); "cloud ready" is what
`scripts/local-cloud up` took before (its own measurement, once).

Failover, `--runs` times each on the first stack, timed from the client namespace by
components/failover_check.py's drill (the code `pulumi up` runs):
  port down      admin_state_up=false on the master's port (the recipe's test)
  Apache stopped `systemctl stop apache2` on the master over SSH (2 s after the
                 session ended)
  hard reboot    `openstack server reboot --hard` of the master; then its return
                 as BACKUP (keepalived active, the VIP stays) is timed as "rejoin"
Baseline: the same keepalived/Apache settings in the namespace lab (no VM, no cloud;
benchmarks/failover_lab.py): port blocked, Apache stopped, link down.

Memory: RSS and PSS of the cloud's processes (the process groups scripts/local-cloud started
and every process naming its state dir: haproxy daemonizes out of them)
and peak RSS of each member's QEMU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from vrrp_pair import failover_check, port_switch

from benchmarks import failover_lab
from labs.cloud import pair as cloud
from labs.cloud import stack as e2e

BASELINE = {"port down": "port blocked", "Apache stopped": "Apache stopped",
            "hard reboot": "link down"}
BASELINE_WATCH = 20.0
UP_DEADLINE = 1500.0   # seconds: emulated members on a loaded 2-core machine
VIP = "10.10.0.200"


def log(text: str) -> None:
    print(f"[cloud-bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


class Samples(dict[str, list[float]]):
    def add(self, key: str, value: float | None) -> None:
        self.setdefault(key, [])
        if value is not None:
            self[key].append(float(value))


def dev_stack(engine: dict[str, Any], name: str, drill: bool) -> e2e.Stack:
    stack = e2e.new_stack(engine, name)
    cloud.stack_config(stack, {"failoverDrill": drill})
    stack.env["VRRP_CHECK_NETNS"] = cloud.CLIENT_NS
    return stack


def cloud_init_finished(conn: Any, server: Any) -> bool:
    """The product's test (the drill waits for it): cloud-init's last line on the console."""
    output = conn.compute.get_server_console_output(server).get("output", "")
    return port_switch.cloud_init_finished(output or "")


class BootWatch:
    """What can be seen of a `pulumi up` from outside, looked at once a second."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.started = time.monotonic()
        self.stages: dict[str, float] = {}
        self.servers: list[Any] = []
        self.fip = ""

    def look(self) -> None:
        """One look; an API call that fails (the cloud is busy booting two VMs) is
        logged and tried again at the next look."""
        try:
            self._look(time.monotonic() - self.started)
        except Exception as error:  # transient: see the docstring
            log(f"watching the boot: {error!r}")

    def _look(self, now: float) -> None:
        compute, network = self.conn.compute, self.conn.network
        if "active" not in self.stages:
            self.servers = [s for s in compute.servers() if s.name.startswith("vrrp-node-")]
            if len(self.servers) == 2 and all(s.status == "ACTIVE" for s in self.servers):
                self.stages["active"] = now
        if "active" in self.stages and "cloud-init" not in self.stages and all(
                cloud_init_finished(self.conn, s) for s in self.servers):
            self.stages["cloud-init"] = now
        if not self.fip:
            self.fip = next((ip.floating_ip_address for ip in network.ips()
                             if ip.fixed_ip_address == VIP), "")
        if self.fip and "serving" not in self.stages and cloud.who_serves(self.fip, timeout=1):
            self.stages["serving"] = now


def timed_up(stack: e2e.Stack, conn: Any, samples: Samples) -> None:
    """`pulumi up` in a thread; its stages watched from outside."""
    watch = BootWatch(conn)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(stack.pulumi(
        "up", "--yes", "--skip-preview", *cloud.UP_ONE_AT_A_TIME, check=False)), daemon=True)
    worker.start()
    try:
        while "serving" not in watch.stages:
            if not worker.is_alive() and (not result or result[0].returncode != 0):
                break
            if time.monotonic() - watch.started > UP_DEADLINE:
                raise TimeoutError(f"{stack.name}: not serving {UP_DEADLINE:.0f} s after "
                                   f"`pulumi up` started (stages seen: {watch.stages})")
            watch.look()
            time.sleep(1)
    finally:
        worker.join()   # never leave `pulumi up` running: its stack would stay locked
    up = result[0] if result else None
    if up is None or up.returncode != 0:
        detail = f"\n{up.stdout[-5000:]}\n{up.stderr[-3000:]}" if up else ""
        raise RuntimeError(f"{stack.name}: pulumi up failed{detail}")
    stages = watch.stages
    samples.add("boot: pulumi up start -> both servers ACTIVE (s)", stages.get("active"))
    samples.add("boot: -> cloud-init done on both (s)", stages.get("cloud-init"))
    samples.add("boot: -> floating IP serving (s)", stages.get("serving"))
    samples.add("boot: pulumi up, whole (s)", time.monotonic() - watch.started)
    log(f"{stack.name}: stages {stages}, up {time.monotonic() - watch.started:.1f} s")


class Action(failover_check.NeutronSwitch):
    """A failure as the drill's port switch: disable() breaks the master, enable() mends."""

    def __init__(self, kind: str, pair: dict[str, Any], conn: Any) -> None:
        self.kind, self.pair, self.conn = kind, pair, conn
        self._ports = pair["ports"]
        self._network = conn.network

    def disable(self, member: str) -> None:
        if self.kind == "port down":
            super().disable(member)
        elif self.kind == "Apache stopped":
            res = cloud.ssh(self.pair["fip"],
                            f"sudo {cloud.AFTER_SESSION} /usr/bin/systemctl stop apache2")
            if res.returncode != 0:
                raise RuntimeError(res.stderr)
        else:
            self.conn.compute.reboot_server(self.pair["servers"][member], "HARD")

    def enable(self, member: str) -> None:
        if self.kind == "port down":
            super().enable(member)
        elif self.kind == "Apache stopped":
            cloud.ssh(self.pair["ips"][member], "sudo systemctl start apache2",
                      via=self.pair["fip"])


def wait_rejoined(pair: dict[str, Any], conn: Any, member: str, deadline: float = 600) -> None:
    cloud.wait_for(f"{member} ACTIVE", lambda: conn.compute.get_server(
        pair["servers"][member]).status == "ACTIVE", deadline, interval=2)
    cloud.wait_for(f"{member} keepalived active", lambda: cloud.ssh(
        pair["ips"][member], "systemctl is-active keepalived", via=pair["fip"],
        timeout=30).stdout.strip() == "active", deadline, interval=2)


def settle(pair: dict[str, Any], conn: Any) -> None:
    """Both members up, exactly one holds the VIP, the floating IP answers; past the
    deadline the error says what was last seen and ends each member's console."""
    seen: dict[str, Any] = {}

    def settled() -> bool:
        seen["holds the VIP"] = {name: cloud.holds_vip(ip, VIP, pair["fip"])
                                 for name, ip in pair["ips"].items()}
        seen["serves"] = cloud.who_serves(pair["fip"])
        return sorted(map(str, seen["holds the VIP"].values())) == ["False", "True"] and bool(
            seen["serves"])
    try:
        cloud.wait_for("the pair settles", settled, 300, interval=3)
    except AssertionError as error:
        consoles = "".join(
            f"\n--- {name}'s console, last lines:\n"
            + conn.compute.get_server_console_output(server, length=15).get("output", "")
            for name, server in pair["servers"].items())
        raise AssertionError(f"{error}; last seen: {seen}{consoles}") from None


def failovers(stack: e2e.Stack, conn: Any, runs: int, samples: Samples) -> None:
    out = stack.outputs()
    pair = {"fip": out["floatingIpAddress"],
            "ips": dict(zip(out["memberNames"], out["memberIps"], strict=True)),
            "ports": dict(zip(out["memberNames"], out["memberPortIds"], strict=True)),
            "servers": dict(zip(out["memberNames"], out["instanceIds"], strict=True))}
    url = f"http://{pair['fip']}/"
    for run in range(runs):
        for kind in BASELINE:
            settle(pair, conn)
            result = failover_check.drill(url, list(pair["ports"]), Action(kind, pair, conn),
                                          timeout=120, probe_interval=0.01, probe_timeout=0.5)
            log(f"{kind} run {run + 1}/{runs}: {result}")
            samples.add(f"cloud: {kind}, downtime (s)", result.downtime_seconds)
            if kind == "hard reboot":
                started = time.monotonic()
                wait_rejoined(pair, conn, result.old_master)
                samples.add("cloud: hard-rebooted master -> keepalived back (s)",
                            time.monotonic() - started)
                if cloud.holds_vip(pair["ips"][result.old_master], VIP, pair["fip"]):
                    raise AssertionError(f"{result.old_master} took the VIP back")


def baseline(runs: int, samples: Samples) -> None:
    members = failover_lab.profile_members("vm-settings", 0.0)
    for lab_scenario in BASELINE.values():
        for run in range(runs):
            result = failover_lab.one_run(members, lab_scenario, watch_cap=BASELINE_WATCH)
            log(f"baseline {lab_scenario} run {run + 1}/{runs}: takeover {result.takeover}")
            samples.add(f"baseline, namespaces: {lab_scenario}, downtime (s)",
                        result.downtime if result.takeover is not None else None)


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mib(pid: int) -> float:
    """Proportional set size: shared pages split among their users (RSS counts them in
    every process, so a sum of RSS overstates what the processes take together)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cloud_pids() -> set[int]:
    """Every process of the cloud: the process groups scripts/local-cloud started, and
    every process naming the state dir on its command line (the metadata proxies' haproxy
    and the QEMUs daemonize out of those groups)."""
    pids: set[int] = set()
    for pidfile in (cloud.STATE / "run").glob("*.pid"):
        try:
            fields = pidfile.read_text().split()
        except OSError:
            continue
        if len(fields) != 2:   # not ours ("PID STARTTIME"): a daemon's own pid file
            continue
        group = subprocess.run(["pgrep", "-g", fields[0]], capture_output=True,
                               text=True).stdout.split()
        pids.update(int(p) for p in group or [fields[0]])
    marker = str(cloud.STATE) + "/"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                        errors="replace"):
                    pids.add(int(proc.name))
            except OSError:
                continue
    return pids


def memory(samples: Samples) -> None:
    qemu_pids = set()
    qemu = []
    for pidfile in (cloud.STATE / "dataplane").glob("hv*/libvirt/run/qemu/instance-*.pid"):
        pid = int(pidfile.read_text().strip())
        qemu_pids.add(pid)
        qemu.append((rss_mib(pid), rss_mib(pid, "VmHWM"), pss_mib(pid)))
    pids = cloud_pids() - qemu_pids
    total = sum(rss_mib(p) for p in pids)
    pss = sum(pss_mib(p) for p in pids)
    samples.add("memory: the cloud's processes, sum of RSS (MiB)", total)
    samples.add("memory: the cloud's processes, sum of PSS (MiB)", pss)
    for now, peak, _ in qemu:
        samples.add("memory: QEMU per member, RSS now (MiB)", now)
        samples.add("memory: QEMU per member, peak RSS (MiB)", peak)
    samples.add("memory: cloud + members, sum of RSS (MiB)", total + sum(q[0] for q in qemu))
    samples.add("memory: cloud + members, sum of PSS (MiB)", pss + sum(q[2] for q in qemu))


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
    parser.add_argument("--ups", type=int, default=2, help="fresh `pulumi up`s timed")
    parser.add_argument("--runs", type=int, default=3, help="failover runs per scenario")
    parser.add_argument("--baseline-runs", type=int, help="default: --runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not cloud.data_plane_up():
        print("the local cloud's data plane is not up: scripts/local-cloud up", file=sys.stderr)
        return 2
    started = time.monotonic()
    samples = Samples()
    up_file = cloud.STATE / "up-seconds"
    if up_file.is_file():
        samples.add("boot: cloud ready (scripts/local-cloud up) (s)", float(up_file.read_text()))
    conn = e2e.connect()
    with tempfile.TemporaryDirectory(prefix="cloud-bench-") as root:
        engine = e2e.engine_setup(Path(root))
        for up in range(args.ups):
            stack = dev_stack(engine, f"bench{up}", drill=False)
            try:
                timed_up(stack, conn, samples)
                if up == 0:
                    memory(samples)
                    failovers(stack, conn, args.runs, samples)
            finally:
                stack.destroy()
    baseline(args.baseline_runs or args.runs, samples)
    summary = print_table(samples, (
        f"Dev stack on the local cloud (ML2/OVN, libvirt QEMU TCG, 2 members, m1.small): "
        f"{args.ups} up(s), {args.runs} failover run(s) per scenario, namespace baseline; "
        f"{time.monotonic() - started:.0f} s in all"))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
