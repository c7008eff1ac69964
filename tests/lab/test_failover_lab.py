"""Failover scenarios with the real keepalived and Apache, from the rendered user-data.

Each test asserts who serves the VIP as the client sees it over HTTP. Time
bounds are generous (shared CI machines); the benchmark measures the real numbers.
Needs root; skipped without it except under CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from labs.namespace.lab import Lab, Member, sh, wait_until
from labs.namespace.render import CHECK_SCRIPT, GATEWAY_SCRIPT, pair_spec

N1, N2, N3 = "vrrp-node-1", "vrrp-node-2", "vrrp-node-3"
TAKEOVER = 5.0          # seconds until the backup answers (expected ~0.4 s by default)
MAX_DOWNTIME = 3.0      # longest client gap around a master loss (expected < 0.5 s)
# Apache killed or hung, with the fast web check: expected ~0.1 s and ~0.35 s; the
# whole-second check alone took up to 1 s and 1.9 s. Generous for a busy CI host, but
# below what keepalived's own check could do.
FAST_WEB_FAILURE = 0.9
GARP_BOUND = 3.0        # garp_master_refresh 1 s + slack: nobody stays on a stale MAC longer
SETTLE = 3.0            # seconds a result must hold to count as settled


def settled_single_holder(lab: Lab, name: str, vip: str | None = None) -> None:
    """Exactly `name` holds the VIP, the client's ARP entry points at it and the
    client is served by it, steadily."""
    lab.wait_vip_holder(vip or lab.members[0].vip, name, TAKEOVER + GARP_BOUND)
    lab.wait_serving(vip, name, GARP_BOUND + 2, stable=SETTLE)
    member = lab.member(name)
    neighbour = lab.client_neighbour(member.vip)
    assert lab.mac_of(member) in neighbour, (neighbour, lab.mac_of(member))


def single_holder(lab: Lab, when: str) -> str:
    def one() -> str | None:
        holders = lab.vip_holders()
        return holders[0] if len(holders) == 1 else None

    return wait_until(one, TAKEOVER, f"a single VIP holder {when}", diagnose=lab.diagnose)


def fail_master(lab: Lab, action: Callable[[Member], None], old: str, new: str) -> float:
    """Runs `action` on `old` while probing; asserts `new` takes over in time.
    Returns the client-observed downtime."""
    with lab.probe() as probe:
        probe.wait_for(old, 0, 10)
        t0 = time.monotonic()
        action(lab.member(old))
        probe.wait_for(new, t0, TAKEOVER + 5)
        time.sleep(0.5)
        outage = probe.outage(t0)
    assert outage.before == old
    assert outage.takeover is not None and outage.takeover < TAKEOVER, outage
    assert outage.downtime < MAX_DOWNTIME, outage
    return outage.downtime


def gap_after(lab: Lab, action: Callable[[], None], watch: float) -> tuple[float, str | None]:
    """Runs `action` while probing for `watch` seconds; returns the longest gap
    between answers and who answered last."""
    with lab.probe() as probe:
        probe.wait_first_sample()
        t0 = time.monotonic()
        action()
        time.sleep(watch)
        outage = probe.outage(t0)
    return outage.downtime, outage.served_by


# ---- port blocked at the switch (Neutron admin_state_up=false) -------------

def test_master_port_blocked_backup_takes_over_then_unblock_leaves_one_master(make_lab):
    lab = make_lab(pair_spec())
    fail_master(lab, Member.block_port, N1, N2)
    lab.wait_serving(None, N2, 5, stable=SETTLE)

    gap, last = gap_after(lab, lab.member(N1).unblock_port, watch=GARP_BOUND + 1)
    assert gap < GARP_BOUND, f"client stuck {gap:.2f}s after the unblock"
    holder = single_holder(lab, "after the unblock")
    assert last == holder
    settled_single_holder(lab, holder)


def test_unblock_keeps_new_master_when_preemption_is_never(make_lab):
    """Two masters meeting after an unblock resolve by priority (nopreempt only
    stops a BACKUP), so the isolated master must have given up first: the
    gateway check puts it in FAULT, and it comes back as BACKUP."""
    lab = make_lab(pair_spec())
    fail_master(lab, Member.block_port, N1, N2)
    old = lab.member(N1)
    wait_until(lambda: not old.holds_vip() or None, TAKEOVER + 5,
               "the isolated master to give up the VIP (FAULT)", diagnose=lab.diagnose)
    old.unblock_port()
    time.sleep(3)
    settled_single_holder(lab, N2)


@pytest.mark.xfail(strict=True, reason=(
    "without the gateway check nothing tells the isolated master it is cut off; after "
    "the unblock the two masters resolve by priority and the old one takes the VIP back"))
def test_unblock_without_gateway_check_returns_to_the_old_master(make_lab):
    lab = make_lab(pair_spec(gateway_check=False))
    fail_master(lab, Member.block_port, N1, N2)
    time.sleep(4)
    lab.member(N1).unblock_port()
    time.sleep(3)
    settled_single_holder(lab, N2)


def test_unblock_with_preemption_always_returns_to_the_first_member(make_lab):
    lab = make_lab(pair_spec(preemption="always"))
    fail_master(lab, Member.block_port, N1, N2)
    lab.member(N1).unblock_port()
    settled_single_holder(lab, N1)


# ---- master's link down -----------------------------------------------------

def test_master_link_down_backup_takes_over_and_never_preempts_after_link_up(make_lab):
    lab = make_lab(pair_spec())
    fail_master(lab, Member.link_down, N1, N2)
    assert not lab.member(N1).holds_vip(), "a member with its link down goes FAULT"
    lab.member(N1).link_up()
    time.sleep(3)  # plenty of adverts: the higher-priority member is back as BACKUP
    settled_single_holder(lab, N2)
    assert "Entering BACKUP STATE" in lab.member(N1).keepalived_log().rsplit("FAULT", 1)[-1]


def test_master_link_down_and_up_with_preemption_always_takes_back(make_lab):
    lab = make_lab(pair_spec(preemption="always"))
    fail_master(lab, Member.link_down, N1, N2)
    lab.member(N1).link_up()
    settled_single_holder(lab, N1)


# ---- keepalived killed on the master -----------------------------------------

def test_keepalived_group_sigkill_backup_wins_but_dead_master_keeps_the_vip(make_lab):
    """SIGKILL of the whole process group gives keepalived no chance to remove
    the VIP: the dead master keeps the address (its Apache still answers).
    The backup takes over after the master-down interval and wins the ARP
    entry with its gratuitous ARPs; garp_master_refresh re-wins it whenever
    the dead master answers an ARP request first."""
    lab = make_lab(pair_spec())
    dead = lab.member(N1)
    with lab.probe() as probe:
        probe.wait_for(N1, 0, 10)
        t0 = time.monotonic()
        dead.kill_keepalived(signal.SIGKILL, group=True)
        first = probe.wait_for(N2, t0, TAKEOVER + 5)
        assert first.start - t0 < TAKEOVER
    assert not dead.keepalived_running()
    assert lab.member(N2).holds_vip()
    # The finding: the duplicate stays on the dead master.
    assert dead.holds_vip(), "keepalived released the VIP after SIGKILL (behaviour changed?)"
    lab.wait_serving(None, N2, 5, stable=SETTLE)
    assert lab.mac_of(lab.member(N2)) in lab.client_neighbour(dead.vip)

    # A fresh ARP resolution may be answered by the dead master first; the next
    # periodic GARP of the live master must bring the client back.
    sh("ip", "-n", lab.client, "neigh", "flush", "dev", "eth0")
    lab.fetch()
    lab.wait_serving(None, N2, GARP_BOUND + 1, stable=1.0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_keepalived_parent_killed_releases_the_vip(make_lab, sig):
    """Signal to the parent only: the VRRP child stops cleanly (priority-0
    advert, VIP removed), so the backup takes over quickly and alone."""
    lab = make_lab(pair_spec())
    fail_master(lab, lambda m: m.kill_keepalived(sig, group=False), N1, N2)
    settled_single_holder(lab, N2)
    assert not lab.member(N1).holds_vip()


# ---- Apache stopped on the master --------------------------------------------

def test_apache_stopped_on_master_health_check_moves_the_vip(make_lab):
    lab = make_lab(pair_spec())
    fail_master(lab, Member.stop_apache, N1, N2)
    settled_single_holder(lab, N2)
    assert "Entering FAULT STATE" in lab.member(N1).keepalived_log()
    # Apache back: N1 leaves FAULT as BACKUP and (preemption never) stays there.
    lab.member(N1).start_apache()
    time.sleep(4)  # rise 2 at interval 1, plus adverts
    settled_single_holder(lab, N2)


def test_apache_killed_on_master_is_seen_through_its_pidfd_and_moves_the_vip(make_lab):
    """SIGKILL to every Apache process of the master: the web check's pidfd on
    Apache's main process reports the exit without waiting for a request."""
    lab = make_lab(pair_spec())
    downtime = fail_master(lab, Member.kill_apache, N1, N2)
    assert downtime < FAST_WEB_FAILURE, downtime
    log = lab.member(N1).web_check_log()
    assert "web check: FAILED: Apache's main process" in log, log
    settled_single_holder(lab, N2)


def test_apache_hung_on_master_moves_the_vip_and_it_returns_as_backup(make_lab):
    """SIGSTOP of the master's Apache: connections are accepted, never answered.
    keepalived's own check needs its 1 s timeout; the fast check its 0.25 s."""
    lab = make_lab(pair_spec())
    downtime = fail_master(lab, Member.hang_apache, N1, N2)
    assert downtime < FAST_WEB_FAILURE, downtime
    old = lab.member(N1)
    assert "web check: FAILED: no answer within 0.25 s" in old.web_check_log()
    assert "Entering FAULT STATE" in old.keepalived_log()
    old.resume_apache()
    wait_until(lambda: old.web_check_verdict() == "0", 10, "the web check to pass again")
    wait_until(lambda: "Entering BACKUP STATE" in old.keepalived_log().rsplit("FAULT", 1)[-1],
               10, f"{N1} to leave FAULT as BACKUP", diagnose=lab.diagnose)
    settled_single_holder(lab, N2)


def test_each_web_check_watches_its_own_apache(make_lab):
    """The lab's members share one PID namespace, so every member's Apache is an
    `apache2` process to all of them: the web check follows its own pidfile. The
    backup's Apache killed puts the backup in FAULT and leaves the master alone."""
    lab = make_lab(pair_spec())
    master, backup = lab.member(N1), lab.member(N2)
    with lab.probe() as probe:
        probe.wait_for(N1, 0, 10)
        t0 = time.monotonic()
        backup.kill_apache()
        wait_until(lambda: "Entering FAULT STATE" in backup.keepalived_log(), 5,
                   f"{N2} to go to FAULT", diagnose=lab.diagnose)
        time.sleep(1)
        outage = probe.outage(t0)
    assert outage.failures == 0 and outage.served_by == N1, outage
    assert backup.web_check_verdict() == "1" and master.web_check_verdict() == "0"
    assert "FAILED" not in master.web_check_log()
    assert lab.vip_holders() == [N1]


def test_a_graceful_apache_restart_moves_nothing(make_lab):
    """logrotate reloads Apache every day (graceful restart: the main process stays
    and rewrites its pidfile, its children are replaced). Apache's event MPM then
    starts new children only once an old one exits, or a second later: new
    connections may wait up to about a second (seen here with any steady traffic, and
    not a reason to move the VIP). The web check sees the rewritten pidfile and does
    not count that wait: no FAULT, no failover, the master keeps serving."""
    lab = make_lab(pair_spec())
    master = lab.member(N1)
    with lab.probe() as probe:
        probe.wait_for(N1, 0, 10)
        t0 = time.monotonic()
        for _ in range(3):
            master.reload_apache()
            time.sleep(3)
        outage = probe.outage(t0)
    assert outage.takeover is None and outage.served_by == N1, outage
    assert outage.downtime < 2.0, outage  # Apache's own wait, about a second at most
    log = master.web_check_log()
    assert log.count("Apache restarted gracefully") == 3, log
    assert "FAILED" not in log, log
    assert "FAULT" not in master.keepalived_log()
    assert lab.vip_holders() == [N1]


def test_a_stopped_web_check_leaves_keepalived_s_own_check_in_charge(make_lab):
    """The checker stopped (SIGTERM) withdraws its verdict: nothing moves. Apache
    stopped then is still caught, by keepalived's whole-second check."""
    lab = make_lab(pair_spec())
    n1 = lab.member(N1)
    assert n1.webcheck is not None
    n1.webcheck.send_signal(signal.SIGTERM)
    assert n1.webcheck.wait(timeout=10) == 0
    assert n1.web_check_verdict() is None
    time.sleep(1)
    assert lab.vip_holders() == [N1] and "FAULT" not in n1.keepalived_log()
    fail_master(lab, Member.stop_apache, N1, N2)
    assert "VRRP_Script(check_member) failed" in n1.keepalived_log()


def test_without_the_fast_web_check_keepalived_s_own_check_moves_the_vip(make_lab):
    lab = make_lab(pair_spec(web_check_interval=0))
    assert all(m.webcheck is None for m in lab.members)
    fail_master(lab, Member.stop_apache, N1, N2)
    settled_single_holder(lab, N2)


# ---- a long-lived connection across a failover -----------------------------------

def test_a_long_lived_connection_is_reset_at_the_takeover_and_a_new_one_is_served(make_lab):
    """The new master has no state for the old TCP connection: the client's next
    segment reaches it (after the gratuitous ARP) and is answered with a RST."""
    lab = make_lab(pair_spec())
    with lab.probe(interval=0.1, timeout=3.0, persistent=True) as keeper:
        wait_until(lambda: any(s.ok for s in keeper.snapshot()), 10,
                   "the long-lived client to be served")
        t0 = time.monotonic()
        lab.member(N1).block_port()
        outcome = keeper.wait_long_lived(t0, TAKEOVER + 5)
    assert outcome is not None and outcome.how == "reset", outcome
    assert outcome.served_again_after is not None, outcome
    assert outcome.broke_after is not None and outcome.broke_after < TAKEOVER, outcome
    served = {s.result.rpartition("@")[0] for s in keeper.snapshot() if s.ok}
    assert served == {N1, N2}, served


# ---- master rebooted ---------------------------------------------------------

def test_master_rebooted_comes_back_as_backup(make_lab):
    lab = make_lab(pair_spec())
    fail_master(lab, Member.crash, N1, N2)
    old = lab.member(N1)
    assert not old.keepalived_running() and old.apache_pid() is None
    time.sleep(1)
    old.boot()
    time.sleep(3)
    settled_single_holder(lab, N2)
    assert old.keepalived_running() and old.serves_locally()
    assert old.keepalived_log().rsplit("==== start", 1)[-1].count("Entering MASTER") == 0


# ---- three members -------------------------------------------------------------

def test_three_members_master_then_next_failing(make_lab):
    lab = make_lab(pair_spec(members=3))
    fail_master(lab, Member.block_port, N1, N2)
    settled_single_holder_among = [m.name for m in lab.members
                                   if m.holds_vip() and m.name != N1]
    assert settled_single_holder_among == [N2], "the next priority (90) wins, not 80"
    fail_master(lab, Member.block_port, N2, N3)
    lab.wait_serving(None, N3, 5, stable=SETTLE)
    assert lab.member(N3).holds_vip()


# ---- split brain -----------------------------------------------------------------

def test_split_brain_then_heal_ends_on_one_member_without_a_stale_mac(make_lab):
    lab = make_lab(pair_spec())
    n1, n2 = lab.member(N1), lab.member(N2)
    n1.filter_vrrp()
    n2.filter_vrrp()
    wait_until(lambda: sorted(lab.vip_holders()) == [N1, N2], TAKEOVER,
               "both members to claim the VIP", diagnose=lab.diagnose)
    # Long enough for the client's ARP entry to be confirmed REACHABLE on the
    # member it follows (the case where only periodic GARPs get it back).
    time.sleep(8)

    def heal() -> None:
        n1.heal_vrrp()
        n2.heal_vrrp()

    gap, last = gap_after(lab, heal, watch=GARP_BOUND + 1)
    assert gap < GARP_BOUND, f"client stuck {gap:.2f}s after the split brain healed"
    holder = single_holder(lab, "after the heal")
    assert holder == N1, "the higher priority wins the dual-master resolution"
    assert last == N1
    settled_single_holder(lab, N1)


# ---- two pairs on one L2 segment -------------------------------------------------

def test_two_pairs_with_different_vrids_do_not_disturb_each_other(make_lab):
    lab = make_lab(pair_spec("web", 0), pair_spec("api", 1))
    web, api = lab.member("web-node-1"), lab.member("api-node-1")
    assert web.files.vrid != api.files.vrid
    assert lab.fetch(web.vip) == "web-node-1" and lab.fetch(api.vip) == "api-node-1"
    with lab.probe(api.vip) as api_probe:
        api_probe.wait_for("api-node-1", 0, 10)
        t0 = time.monotonic()
        fail_master(lab, Member.block_port, "web-node-1", "web-node-2")
        time.sleep(1)
        api_outage = api_probe.outage(t0)
    assert api_outage.failures == 0 and api_outage.served_by == "api-node-1", api_outage
    assert api_outage.downtime < 0.5, api_outage
    assert lab.vip_holders(api.vip) == ["api-node-1"]
    for name in ("api-node-1", "api-node-2"):
        log = lab.member(name).keepalived_log()
        assert log.count("Entering MASTER STATE") == (1 if name == "api-node-1" else 0), log
    # The new master holds it; the isolated one too until its gateway check fails.
    assert "web-node-2" in lab.vip_holders(web.vip)


# ---- the component's failover drill, run from the client -------------------------

def test_failover_drill_module_blocks_the_master_port_and_reports(make_lab):
    lab = make_lab(pair_spec())
    vip = lab.members[0].vip
    block = f"ip netns exec {lab.switch} bridge link set dev {{member}} state 0"
    unblock = f"ip netns exec {lab.switch} bridge link set dev {{member}} state 3"
    cmd = ["ip", "netns", "exec", lab.client, sys.executable, "-m", "vrrp_pair.failover_check",
           "drill", "--url", f"http://{vip}:80/", "--switch", "command",
           "--disable-cmd", block, "--enable-cmd", unblock, "--timeout", "30"]
    for member in lab.members:
        cmd += ["--member", f"{member.name}={member.port}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["old_master"] == N1
    assert report["new_master"] == N2
    assert 0 < report["downtime_seconds"] < MAX_DOWNTIME
    # The drill re-enabled the port: the bridge forwards again and one master remains.
    out = sh("ip", "netns", "exec", lab.switch, "bridge", "link", "show", "dev", N1).stdout
    assert "state forwarding" in out, out
    settled_single_holder(lab, single_holder(lab, "after the drill"))


def test_a_check_failing_while_another_starts_slowly_does_not_strand_the_member(make_lab):
    """keepalived 2.2.7 leaks a fault count when one tracked script fails and recovers
    while another is still in its first run, and the member stays in FAULT for good (the
    VM lab: a member rebooted after a power-off). Made to happen here: the gateway ping
    fails twice, then passes, while the web check's first run takes 3.9 s. With the two
    scripts of before (gateway every 1 s, web every 3 s) keepalived never left FAULT;
    with the one tracked script it comes up once both pass."""
    lab = make_lab(pair_spec(health_check_interval=3), start=False)
    n1 = lab.member(N1)
    marks = n1.root / "marks"  # writable by the scripts' user, not the scripts' dir
    marks.mkdir()
    nobody = pwd.getpwnam("nobody")
    os.chown(marks, nobody.pw_uid, nobody.pw_gid)
    for path, runs, first_runs in ((GATEWAY_SCRIPT, ("1", "2"), "exit 1"),
                                   (CHECK_SCRIPT, ("1",), "sleep 3.9")):
        script = n1.local_path(path)
        body = script.read_text().splitlines()
        claim = " || ".join(f"mkdir {marks}/{script.name}.{run}" for run in runs)
        script.write_text("\n".join([body[0], f"{{ {claim}; }} 2>/dev/null && {first_runs}",
                                     *body[1:]]) + "\n")
    lab.start(first=N1, timeout=30)
    settled_single_holder(lab, N1)
    assert "VRRP_Script(check_member) failed" in n1.keepalived_log()
    assert {p.name for p in marks.iterdir()} == {"check-gateway.sh.1", "check-gateway.sh.2",
                                                 "check-web.sh.1"}
