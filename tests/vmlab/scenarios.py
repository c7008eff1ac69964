"""Failover scenarios on a running VM lab, shared by the tests and the benchmark.

Each returns a dict with who served before and after and the client-observed
downtime in seconds (probes from the client namespace)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from typing import Any

from tests.vmlab.lab import PYTHON, ROOT, Lab, Prober, downtime, log

DEADLINE = float(os.environ.get("VMLAB_DEADLINE", "1500"))


def _in_client(lab: Lab, *argv: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(["ip", "netns", "exec", lab.cli_ns, *argv], cwd=ROOT, env=env,
                          text=True, capture_output=True, timeout=timeout, check=False)


def boot(lab: Lab) -> dict[str, Any]:
    """Boots every member; the component's smoke check (failover_check smoke) runs in the
    client namespace until the VIP answers. Then cloud-init must have finished cleanly."""
    start = lab.boot_all()
    try:
        proc = _in_client(lab, PYTHON, "-m", "components.failover_check", "smoke",
                          "--url", lab.url, "--deadline", str(DEADLINE), "--interval", "1",
                          timeout=DEADLINE + 60)
        if proc.returncode != 0:
            raise AssertionError(f"smoke check failed: {proc.stderr.strip()}")
        smoke = json.loads(proc.stdout)
        serving = time.monotonic() - start
        results = {vm.name: lab.wait_member_ready(vm, DEADLINE) for vm in lab.vms}
        ready = time.monotonic() - start
    except BaseException:
        lab.collect_logs()
        raise
    lab.collect_logs()
    log(f"{lab.package_source}: VIP served by {smoke['served_by']} {serving:.1f} s after "
        f"QEMU start; cloud-init done on all after {ready:.1f} s")
    return {"served_by": smoke["served_by"], "boot_to_vip_seconds": round(serving, 1),
            "boot_to_all_done_seconds": round(ready, 1), "cloud_init": results}


def drill(lab: Lab, disable: str, enable: str, timeout: float = 120) -> dict[str, Any]:
    """The component's failover drill (failover_check drill --switch command), run from
    the client namespace; {member} and {port_id} (the member's tap) are filled in by it."""
    members = [f"--member={vm.name}={vm.member.tap}" for vm in lab.vms if vm.running]
    proc = _in_client(lab, PYTHON, "-m", "components.failover_check", "drill",
                      "--url", lab.url, *members, "--switch", "command",
                      "--disable-cmd", disable, "--enable-cmd", enable,
                      "--timeout", str(timeout), "--probe-timeout", "0.5",
                      timeout=timeout + 120)
    if proc.returncode != 0:
        raise AssertionError(f"drill failed ({proc.returncode}): {proc.stdout} {proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    log(f"drill: {result}")
    return result


def ctl(lab: Lab, action: str, *args: str) -> str:
    """A shell command (template) that runs tests.vmlab.ctl against this lab."""
    return " ".join(shlex.quote(part) for part in
                    [PYTHON, "-m", "tests.vmlab.ctl", str(lab.dir), action, *args])


def nic_down(lab: Lab) -> dict[str, Any]:
    """The master's port stops forwarding (host side of its tap down: the guest keeps
    its carrier, like Neutron admin_state_up=false), and is restored once another
    member answers."""
    return drill(lab, f"ip -n {lab.lab_ns} link set {{port_id}} down",
                 f"ip -n {lab.lab_ns} link set {{port_id}} up")


def apache_stopped(lab: Lab) -> dict[str, Any]:
    """Apache stopped on the master (inside the VM); restarted once another member answers."""
    return drill(lab, ctl(lab, "exec", "{member}", "systemctl stop apache2"),
                 ctl(lab, "exec", "{member}", "systemctl start apache2"))


def apache_killed(lab: Lab) -> dict[str, Any]:
    """Every Apache process of the master SIGKILLed (`systemctl kill -s KILL`, as the
    OOM killer might): the web check's pidfd sees the main process exit. systemd
    restarts Apache (Restart=on-abort); the drill's start is a no-op then."""
    return drill(lab, ctl(lab, "exec", "{member}", "systemctl kill -s KILL apache2"),
                 ctl(lab, "exec", "{member}", "systemctl start apache2"))


def apache_hung(lab: Lab) -> dict[str, Any]:
    """Every Apache process of the master stopped (SIGSTOP): connections are accepted
    and never answered, until the web check's timeout. Resumed once another answers."""
    return drill(lab, ctl(lab, "exec", "{member}", "systemctl kill -s STOP apache2"),
                 ctl(lab, "exec", "{member}", "systemctl kill -s CONT apache2"))


def power_off_master(lab: Lab, settle: float = 60.0) -> dict[str, Any]:
    """Pulls the master's plug; measures until another member answers."""
    with Prober(lab, lab.url) as prober:
        old = _wait_answer(lab, prober)
        t0 = time.monotonic()
        lab.vm(old).power_off()
        seconds, new = _wait_other(prober, t0, old, settle)
    result = {"old_master": old, "new_master": new, "downtime_seconds": seconds}
    log(f"power off: {result}")
    return result


def stable_for(lab: Lab, seconds: float) -> dict[str, Any]:
    """Probes for `seconds`: who answered, how many probes failed."""
    with Prober(lab, lab.url) as prober:
        time.sleep(seconds)
    probes = prober.probes()
    return {"members": sorted({p.member for p in probes if p.member}),
            "probes": len(probes), "failed": sum(1 for p in probes if p.member is None)}


def _wait_answer(lab: Lab, prober: Prober, deadline: float = 30.0) -> str:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        answered = [p.member for p in prober.probes() if p.member]
        if answered:
            return answered[-1]
        time.sleep(0.1)
    raise AssertionError(f"{lab.url} does not answer")


def _wait_other(prober: Prober, t0: float, old: str, deadline: float
                ) -> tuple[float | None, str | None]:
    end = t0 + deadline
    while time.monotonic() < end:
        seconds, new = downtime(prober.probes(), t0, old)
        if new:
            return round(seconds or 0.0, 3), new
        time.sleep(0.2)
    return None, None
