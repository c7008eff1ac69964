"""The dev stack on the local cloud's real data plane, seen as a user sees it.

Everything that touches the pair goes through paths a user has: HTTP and SSH from the
cloud's client namespace (on the external network `public`, where floating IPs answer),
SSH to a member's own address through the master (ProxyJump, allowed by
`sshAllowedCidrs`), and the OpenStack APIs. Used by tests/cloud and
benchmarks/cloud_failover.py.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from labs.cloud.location import STATE

REPO = Path(__file__).resolve().parents[2]
CLIENT_NS = os.environ.get("VRRP_CHECK_NETNS", "vrrp-lc-client")
SSH_KEY = Path(os.environ.get("VRRP_LOCALCLOUD_SSH_KEY", str(STATE / "ssh" / "id_ed25519")))
SSH_USER = "debian"  # the default user of Debian's cloud-init
NS_PREFIX = "vrrp-lc"
DEV_STACK_OVERRIDES = REPO / "scripts" / "localcloud" / "dev-stack.yaml"
# `pulumi up` one resource at a time on the local cloud: its two hypervisors are exactly as
# many hosts as the anti-affine members, and two boots that Nova schedules at once can both
# pick the same host; its late anti-affinity check then refuses both, both retry on the
# other host, and the second one has no host left (ERROR). One after the other, the second
# member's scheduling already sees the first one's host.
UP_ONE_AT_A_TIME = ("--parallel", "1")
# Prefix that runs a command on a member 2 s after the SSH session that starts it has
# ended: a fault that moves the VIP would otherwise hang that session (its packets then
# reach the new master, whose conntrack drops them). AccuracySec: a timer's default
# accuracy is one minute, and the transient timer fired 20 to 45 s late.
AFTER_SESSION = "systemd-run --quiet --on-active=2 --timer-property=AccuracySec=100ms"


def data_plane_up() -> bool:
    """The local cloud runs with its data plane (scripts/local-cloud, libvirt mode)."""
    return Path("/run/netns", CLIENT_NS).exists() and SSH_KEY.is_file()


def in_client(*argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Runs argv in the client namespace; past `timeout` it is killed and reported as
    exit status 124 (as timeout(1) does), so a poll can go on: an SSH hop to a member
    that is still booting can hang past its ConnectTimeout."""
    command = ["ip", "netns", "exec", CLIENT_NS, *argv]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        stderr = _text(expired.stderr) + f"\ntimed out after {timeout:g} s"
        return subprocess.CompletedProcess(command, 124, _text(expired.stdout), stderr)


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def who_serves(address: str, timeout: float = 2.0) -> str | None:
    """The member name the page at the address reports, from the client namespace."""
    res = in_client("curl", "-s", "-m", str(timeout), f"http://{address}/", timeout=timeout + 5)
    if res.returncode != 0:
        return None
    return res.stdout.strip() or None


def wait_for(what: str, check: Callable[[], object], deadline: float,
             interval: float = 1.0) -> object:
    """check()'s first truthy result; AssertionError naming `what` at the deadline."""
    end = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {deadline:.0f} s (last: {last!r})")


def ssh(address: str, command: str, via: str | None = None,
        timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Runs a command on a member as the image's default user, from the client namespace;
    `via` (the floating IP) is the jump host for a member's own address."""
    options = ["-i", str(SSH_KEY), "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
               "-o", "ConnectTimeout=10", "-o", "BatchMode=yes"]
    argv = ["ssh", *options]
    if via:
        jump = " ".join(["ssh", *options, "-W", "%h:%p", f"{SSH_USER}@{via}"])
        argv += ["-o", f"ProxyCommand={jump}"]
    argv += [f"{SSH_USER}@{address}", command]
    return in_client(*argv, timeout=timeout)


def holds_vip(member_ip: str, vip: str, fip: str) -> bool | None:
    """Whether the member has the VIP configured (None: could not ask it)."""
    res = ssh(member_ip, "ip -o -4 addr show", via=fip, timeout=40)
    if res.returncode != 0:
        return None
    return f" {vip}/" in res.stdout


def hypervisor_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return sorted(line.split()[0] for line in out.splitlines()
                  if line.startswith(f"{NS_PREFIX}-hv"))


def taps() -> dict[str, list[str]]:
    """tap devices (VM NICs) per hypervisor namespace."""
    found: dict[str, list[str]] = {}
    for ns in hypervisor_namespaces():
        out = subprocess.run(["ip", "-n", ns, "-o", "link", "show"], capture_output=True,
                             text=True, check=True).stdout
        found[ns] = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
                     if line.split(":")[1].strip().startswith("tap")]
    return found


def ovn_nb(*args: str) -> str:
    sock = STATE / "dataplane" / "ovn" / "ovnnb_db.sock"
    return subprocess.run(["ovn-nbctl", f"--db=unix:{sock}", *args], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def stack_config(stack: Any, extra: dict[str, Any] | None = None) -> None:
    """Pulumi.<stack>.yaml = the dev stack + what scripts/deploy adds on the local cloud,
    SSH also from the pair's own subnet (the master is the jump host to the other), and
    `extra` (keys without the project prefix). `stack`: tests.e2e's Stack."""
    text = (stack.cwd / "Pulumi.dev.yaml").read_text() + DEV_STACK_OVERRIDES.read_text()
    config = yaml.safe_load(text)["config"]
    config.update({f"vrrp-pair:{key}": value for key, value in (extra or {}).items()})
    subnet = config["vrrp-pair:subnetCidr"]
    config["vrrp-pair:sshAllowedCidrs"] = [*config["vrrp-pair:sshAllowedCidrs"], subnet]
    (stack.cwd / f"Pulumi.{stack.name}.yaml").write_text(yaml.safe_dump({"config": config}))
