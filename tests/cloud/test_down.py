"""`scripts/local-cloud down` leaves nothing of the cloud on this machine.

Run after `scripts/local-cloud down` (scripts/test does): VRRP_CLOUD_DOWN=1 python -m
pytest tests/cloud/test_down.py. Nothing of what `up` made may remain: no process of
the cloud (every one carries the state dir or the cloud's name on its command line:
daemons, QEMU, haproxy, privsep helpers, gunicorn's renamed processes), no namespace
(the hypervisors', the public segment's, the client's, the metadata agents'
ovnmeta-*), no network device it made in this namespace, no state but the logs, and
the host's kernel samepage merging setting as it was before `up`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labs.cloud.pair import NS_PREFIX, STATE, namespaces

pytestmark = pytest.mark.cloud_down  # VRRP_CLOUD_DOWN=1 (tests/gate.py)

EPMD_PORT = os.environ.get("VRRP_LOCALCLOUD_EPMD_PORT", "24369")


def cloud_processes() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if (str(STATE) in cmdline or "vrrp-lc-" in cmdline
                or ("epmd" in cmdline and f"-port {EPMD_PORT}" in cmdline)):
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


def test_no_process_of_the_cloud_is_left() -> None:
    assert cloud_processes() == []


def test_no_namespace_of_the_cloud_is_left() -> None:
    left = [ns for ns in namespaces() if ns.startswith((f"{NS_PREFIX}-", "ovnmeta-"))]
    assert left == []


def test_no_network_device_of_the_cloud_in_this_namespace() -> None:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    made = [n for n in names if n.startswith(("tap", "ovs-", "br-int", "br-ex", "br-phy",
                                              "genev", "ul-", "pub-"))]
    assert made == []


def test_only_the_logs_are_left_of_the_state() -> None:
    left = sorted(p.name for p in STATE.iterdir()) if STATE.is_dir() else []
    assert left in ([], ["log"])


def test_samepage_merging_is_as_the_host_had_it() -> None:
    """`up` turned KSM on (and faster) for the hypervisors and kept the host's values; `down`
    put them back (and wrote what it put back into the logs)."""
    restored = STATE / "log" / "ksm-restored"
    assert restored.is_file(), f"no {restored}: down did not restore samepage merging"
    ksm = Path("/sys/kernel/mm/ksm")
    now = f"{(ksm / 'run').read_text().strip()} {(ksm / 'pages_to_scan').read_text().strip()}"
    assert now == restored.read_text().strip()
