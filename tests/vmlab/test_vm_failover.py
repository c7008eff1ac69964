"""Real VMs booting the exact user-data VrrpPair renders; who serves the VIP when things fail.

Two labs, each booted once (TCG: minutes), scenarios in file order:
  * a pair with packageSource=mirror: the first-boot install path, offline, from the
    signed private apt repository in the lab namespace, on an image shaped like Debian's
    own bookworm images (deb822 apt sources, no sources.list) and without gpg; Apache
    stopped on the master; the recovered member does not take the VIP back (preemption
    never).
  * a pair with packageSource=preinstalled: the fast web check under systemd, Apache
    killed and hung on the master (drills), the master's port down (drill), the master
    powered off, the master returning (not preempting), the next master off.

Two emulated guests at a time, not three: on the 2-core CI host three TCG guests starved
(their gateway checks timed out every few seconds and one guest's agent stopped answering
for minutes), which failed tests for the host's sake, not the pair's. Three members are
covered by the namespace lab (real keepalived and Apache, no emulation).

Run: VMLAB=1 .venv/bin/python -m pytest -v -s tests/vmlab  (root; see tests/vmlab/README.md)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from components import render
from tests.vmlab import scenarios
from tests.vmlab.lab import MIRROR_ADDRESS, MIRROR_PORT, VIP, Lab, log

# deb822 sources as Debian's bookworm images ship them, and no gpg binary: the user-data
# must set the deb822 file aside and install the key without gpg.
MIRROR_IMAGE_VARIANT = "deb822+nogpg"
MAX_DOWNTIME = float(os.environ.get("VMLAB_MAX_DOWNTIME", "15"))
RESULTS: dict[str, Any] = {}


def _record(key: str, value: Any) -> None:
    RESULTS[key] = value
    path = os.environ.get("VMLAB_RESULTS")
    if path:
        with open(path, "w") as out:
            json.dump(RESULTS, out, indent=2, default=str)


def _tolerated(seen: dict[str, Any]) -> int:
    """Probes (0.5 s timeout) an emulated guest on a busy host may miss without an outage."""
    return max(2, int(seen["probes"]) // 20)


def _holders(lab: Lab) -> list[str]:
    """Members whose NIC holds the VIP right now (asked inside each running VM)."""
    held = []
    for vm in lab.vms:
        if vm.running:
            rc, out, _ = vm.exec(f"ip -o addr show to {VIP}", timeout=30)
            if rc == 0 and out.strip():
                held.append(vm.name)
    return held


def _one_server_eventually(lab: Lab, window: float = 10, deadline: float = 120
                           ) -> dict[str, Any]:
    """Probes in `window`-second windows until one member served all of one and holds the
    VIP alone; returns that window. Emulated guests stall for seconds at a time (their 1 s
    gateway checks time out), and a stalled member that misses adverts takes the VIP as
    VRRP says it must: how long the pair takes to settle is measured, not asserted."""
    end = time.monotonic() + deadline
    windows = []
    while True:
        seen = scenarios.stable_for(lab, window)
        windows.append(seen)
        holders = _holders(lab)
        if len(seen["members"]) == 1 and holders == seen["members"]:
            return {**seen, "windows_before": len(windows) - 1}
        if time.monotonic() > end:
            raise AssertionError(f"not one server after {deadline:.0f} s: {windows}, "
                                 f"VIP held by {holders}")


def _wait_backup(lab: Lab, name: str, deadline: float = 300) -> None:
    vm = lab.vm(name)
    end = time.monotonic() + deadline
    while lab.keepalived_state(vm) != "BACKUP":
        if time.monotonic() > end:
            raise AssertionError(f"{name} never reached BACKUP: {lab.keepalived_state(vm)}")
        time.sleep(2)


def _lab(request: pytest.FixtureRequest, source: str, members: int, variant: str = ""
         ) -> Iterator[tuple[Lab, dict[str, Any]]]:
    failed_before = request.session.testsfailed
    with Lab.create(package_source=source, member_count=members, variant=variant) as lab:
        yield lab, scenarios.boot(lab)
        lab.collect_logs()  # guest journals (keepalived, cloud-final) into the lab dir
        if request.session.testsfailed > failed_before:
            lab.keep_files = True


@pytest.fixture(scope="class")
def mirror_pair(request: pytest.FixtureRequest) -> Iterator[tuple[Lab, dict[str, Any]]]:
    yield from _lab(request, "mirror", 2, variant=MIRROR_IMAGE_VARIANT)


@pytest.fixture(scope="class")
def preinstalled_pair(request: pytest.FixtureRequest) -> Iterator[tuple[Lab, dict[str, Any]]]:
    yield from _lab(request, "preinstalled", 2)


def _journal_since(lab: Lab, name: str, unit: str, since: str) -> str:
    rc, out, err = lab.vm(name).exec(
        f"journalctl -u {unit} --since @{since} -o cat --no-pager", timeout=60)
    assert rc == 0, f"{name}: journalctl -u {unit}: {err}"
    return out


def _web_check_moves_the_vip(lab: Lab, scenario: Any, key: str) -> tuple[dict[str, Any], str]:
    """A drill on the master with a backup ready. Returns the drill's result and the time
    (guest clock, epoch seconds) just before it, for reading the old master's journals."""
    _wait_backup(lab, next(vm.name for vm in lab.vms if vm.name != lab.who_serves()))
    master = lab.who_serves()
    assert master, f"{lab.url} does not answer"
    rc, since, err = lab.vm(master).exec("date +%s", timeout=30)
    assert rc == 0, err
    result = scenario(lab)
    _record(key, result)
    assert result["old_master"] == master, result
    assert result["new_master"] not in (None, result["old_master"])
    assert result["downtime_seconds"] <= MAX_DOWNTIME, result
    return result, since.strip()


# --- packageSource=mirror: two members -------------------------------------------------

def _power_off_moves_the_vip(lab: Lab, key: str) -> dict[str, Any]:
    """Powers the master off, records the result under `key` and asserts another member
    took the VIP within MAX_DOWNTIME."""
    result = scenarios.power_off_master(lab)
    _record(key, result)
    assert result["new_master"] not in (None, result["old_master"])
    assert result["downtime_seconds"] <= MAX_DOWNTIME, result
    return result


class TestMirrorPair:
    """Class-scoped lab: torn down before the next class boots its own (two TCG
    guests at a time; module scope kept this pair running beside the next)."""

    def test_mirror_first_boot_installs_from_the_private_repository(
            self, mirror_pair: Any) -> None:
        lab, boot = mirror_pair
        _record("mirror_boot", {k: v for k, v in boot.items() if k != "cloud_init"})
        names = [vm.name for vm in lab.vms]
        assert boot["served_by"] in names
        for name, result in boot["cloud_init"].items():
            assert result["errors"] == [], f"{name}: cloud-init errors {result['errors']}"
        for vm in lab.vms:
            rc, out, err = vm.exec("dpkg-query -W -f '${Package} ${Status}\\n' keepalived apache2 "
                                   "curl iputils-ping; cat /etc/apt/sources.list; "
                                   f"head -1 {render.APT_MIRROR_KEYRING}; "
                                   "ls /etc/apt/sources.list.d/; command -v gpg || echo no-gpg",
                                   timeout=60)
            assert rc == 0, err
            assert out.count("install ok installed") == 4, out
            # The image's deb822 source (deb.debian.org, unreachable) was set aside, once.
            assert "debian.sources.disabled-by-vrrp-pair" in out.split(), out
            assert "debian.sources" not in out.split(), out
            assert "no-gpg" in out.split(), "the image variant should have no gpg\n" + out
            # Only the mirror, trusted through the key from aptMirrorKey (no gpg needed).
            assert (f"deb [signed-by={render.APT_MIRROR_KEYRING}] "
                    f"http://{MIRROR_ADDRESS}:{MIRROR_PORT}/ bookworm main") in out, out
            assert "BEGIN PGP PUBLIC KEY BLOCK" in out, "the key from aptMirrorKey is not installed"
        served = (lab.dir / "mirror.log").read_text().splitlines()
        for member in lab.members:
            fetched = [line for line in served if line.startswith(f"{member.address} ")
                       and "/pool/main/keepalived_" in line and '" 200 ' in line]
            assert fetched, f"{member.name} did not fetch keepalived from the lab repository"
        assert _holders(lab) == [boot["served_by"]]
        # The guest logs (the apt install makes them well over virtio-serial's 32 KiB per
        # write) came back whole through the lab agent.
        for vm in lab.vms:
            logs = (vm.dir / "guest-logs-1.txt").read_text()
            assert len(logs) > 32 * 1024 and "Cloud-init v." in logs, \
                f"{vm.name}: {len(logs)} chars"

    def test_mirror_apache_stopped_on_master_moves_the_vip(self, mirror_pair: Any) -> None:
        lab, _ = mirror_pair
        result = scenarios.apache_stopped(lab)
        _record("mirror_apache_stopped", result)
        assert result["new_master"] not in (None, result["old_master"])
        assert result["downtime_seconds"] <= MAX_DOWNTIME, result

    def test_mirror_recovered_master_does_not_preempt(self, mirror_pair: Any) -> None:
        """preemption=never: the old master's Apache is back (drill restarted it); it
        returns to BACKUP and the VIP stays where it is."""
        lab, _ = mirror_pair
        current = lab.who_serves()
        assert current
        old = next(vm.name for vm in lab.vms if vm.name != current)
        _wait_backup(lab, old)
        seen = scenarios.stable_for(lab, 15)
        _record("mirror_after_recovery", seen)
        assert seen["members"] == [current], seen
        assert seen["failed"] <= _tolerated(seen), seen
        assert _holders(lab) == [current]


# --- packageSource=preinstalled: two members -------------------------------------------

class TestPreinstalledPair:
    """Class-scoped lab, booted after the mirror pair is gone."""

    def test_preinstalled_boots_preinstalled_and_one_member_serves(
            self, preinstalled_pair: Any) -> None:
        lab, boot = preinstalled_pair
        _record("preinstalled_boot", {k: v for k, v in boot.items() if k != "cloud_init"})
        for name, result in boot["cloud_init"].items():
            assert result["errors"] == [], f"{name}: cloud-init errors {result['errors']}"
        assert not (lab.dir / "mirror.log").exists()
        assert _holders(lab) == [boot["served_by"]]

    def test_preinstalled_web_check_runs_under_systemd(
            self, preinstalled_pair: Any) -> None:
        """The rendered unit under the guest's systemd: active, as a dynamic user, its
        verdict in the runtime directory keepalived tracks, keepalived ordered after it."""
        lab, _ = preinstalled_pair
        for vm in lab.vms:
            rc, out, err = vm.exec(
                "systemctl is-active vrrp-pair-webcheck; "
                "ps -o uid= -p $(systemctl show -p MainPID --value vrrp-pair-webcheck); "
                f"cat {render.WEB_CHECK_STATE}; "
                "systemctl show -p After --value keepalived", timeout=60)
            assert rc == 0, err
            active, uid, verdict, after = [line.strip() for line in out.splitlines()]
            assert active == "active", out
            assert uid.isdigit() and int(uid) != 0, f"{vm.name}: the web check runs as {uid}"
            assert verdict == "0", f"{vm.name}: verdict {verdict!r}\n{out}"
            assert "vrrp-pair-webcheck.service" in after.split(), out

    def test_preinstalled_apache_killed_on_master_moves_the_vip(
            self, preinstalled_pair: Any) -> None:
        lab = preinstalled_pair[0]
        result, since = _web_check_moves_the_vip(lab, scenarios.apache_killed,
                                                 "preinstalled_apache_killed")
        journal = _journal_since(lab, result["old_master"], "vrrp-pair-webcheck", since)
        assert "FAILED: Apache's main process" in journal, journal

    def test_preinstalled_apache_hung_on_master_moves_the_vip(
            self, preinstalled_pair: Any) -> None:
        """The claim: a hung master loses the VIP. What named the hang is recorded, not
        asserted: in 1 of 4 emulated runs neither the fast web check ("no answer within") nor
        keepalived's backstop logged it after the drill (the VIP moved, 2 of 92 probes failed;
        unexplained, the journals are logged below when it happens). The web check's verdict on
        a hang is asserted in the namespace lab (tests/lab, real keepalived and Apache)."""
        lab = preinstalled_pair[0]
        result, since = _web_check_moves_the_vip(lab, scenarios.apache_hung,
                                                 "preinstalled_apache_hung")
        old = result["old_master"]
        web_check = _journal_since(lab, old, "vrrp-pair-webcheck", since)
        keepalived = _journal_since(lab, old, "keepalived", since)
        named_by = {"fast_web_check": "FAILED: no answer within" in web_check,
                    "backstop": ("VRRP_Script(check_member) timed_out" in keepalived
                                 or "VRRP_Script(check_member) failed" in keepalived)}
        _record("preinstalled_apache_hung_named_by", named_by)
        if not any(named_by.values()):
            log(f"{old}: nothing named the hang since @{since}; web check journal:\n{web_check}\n"
                f"keepalived journal:\n{keepalived}")
        assert old not in _holders(lab), f"{old} still holds the VIP after its Apache hung"

    def test_preinstalled_master_port_down_moves_the_vip(
            self, preinstalled_pair: Any) -> None:
        """The drill takes the master's port down (tap down on the bridge: the guest keeps its
        carrier, like Neutron admin_state_up=false) and restores it once another answers."""
        lab, _ = preinstalled_pair
        result = scenarios.nic_down(lab)
        assert result["new_master"] not in (None, result["old_master"])
        assert result["downtime_seconds"] <= MAX_DOWNTIME, result
        # Restored: the old master never left MASTER while cut off (split brain); VRRP resolves
        # it by priority, whatever the preemption setting. Exactly one member ends up serving.
        after = _one_server_eventually(lab)
        result["after_restore"] = after
        _record("preinstalled_port_down", result)
        log(f"after the port came back: {after}")

    def test_preinstalled_master_powered_off_moves_the_vip(
            self, preinstalled_pair: Any) -> None:
        lab, _ = preinstalled_pair
        result = _power_off_moves_the_vip(lab, "preinstalled_power_off")
        assert not lab.vm(result["old_master"]).running

    def test_preinstalled_master_returns_without_preempting(
            self, preinstalled_pair: Any) -> None:
        """The powered-off master boots again (same disk: cloud-init does not run again) and
        rejoins as BACKUP; then one member serves. Who serves is recorded, not asserted: in one
        CI run the returning guest, stalled while it booted, went BACKUP -> MASTER -> FAULT
        three times in 25 s (its gateway check timing out), as VRRP does when adverts are not
        heard. No preemption with healthy members is asserted in the namespace lab."""
        lab, _ = preinstalled_pair
        current = lab.who_serves()
        returning = next(vm for vm in lab.vms if not vm.running)
        started = time.monotonic()
        returning.boot()
        returning.wait_agent(scenarios.DEADLINE)
        _wait_backup(lab, returning.name, scenarios.DEADLINE)
        back = time.monotonic() - started
        settled = _one_server_eventually(lab, window=15, deadline=300)
        _record("preinstalled_master_returns",
                {"member": returning.name, "seconds_to_backup": round(back, 1),
                 "serving_before": current, "settled": settled})
        log(f"{returning.name} back as BACKUP after {back:.0f} s; then {settled}")

    def test_preinstalled_next_master_powered_off(
            self, preinstalled_pair: Any) -> None:
        lab, _ = preinstalled_pair
        _power_off_moves_the_vip(lab, "preinstalled_second_power_off")
