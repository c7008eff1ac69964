"""A keepalived reload (SIGHUP) with new settings keeps the master and its VIP: the fact a
live change of settings (without replacing members) rests on, checked with real keepalived
and Apache in the namespace lab.

The new keepalived.conf is what the component renders for the same pair with other timers,
priorities and checks; the VRID, the interface and the unicast addresses stay the same
(the instance is then the same instance to keepalived, which keeps its state across the
reload). Backup first, then the master, each checked with `keepalived -t` before its
SIGHUP, while a client probes the VIP every 10 ms.

With `realtimeVrrp: true` (the default) this is not yet so: in 3 of 13 runs on a loaded
2-core machine the master's VRRP process was killed during its reload ("child process
cannot set realtime rlimit", then "pid ... exited due to signal 9 (Killed) - has
rlimit_rttime been exceeded?"), respawned as BACKUP, and the other member took the VIP
(keepalived 2.2.7). With real-time scheduling off, 8 of 8 runs kept the master. A live change
must deal with that before it can reload members with the default settings (issue 10).
"""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

from labs.namespace.lab import sh
from labs.namespace.render import KEEPALIVED_CONF, pair_spec, render_pairs

N1, N2 = "vrrp-node-1", "vrrp-node-2"
STEADY: dict[str, Any] = {"realtime_vrrp": False}  # see above
CHANGED: dict[str, Any] = {**STEADY, "advert_interval": 0.5, "priorities": [150, 140],
                           "health_check_interval": 2, "health_check_fall": 3,
                           "web_check_interval": 0.2}


def _instance_identity(conf: str) -> list[str]:
    """What keepalived matches an instance by across a reload."""
    keys = ("virtual_router_id", "interface", "unicast_src_ip", "vrrp_instance")
    return [line.strip() for line in conf.splitlines() if line.strip().startswith(keys)]


def test_a_reload_with_new_timers_priorities_and_checks_keeps_the_master(make_lab):
    lab = make_lab(pair_spec(**STEADY))
    changed = {files.name: files.files[KEEPALIVED_CONF].content
               for files in render_pairs([pair_spec(**CHANGED)])[0]}
    for member in lab.members:
        old = member.local_path(KEEPALIVED_CONF).read_text()
        assert changed[member.name] != old
        assert _instance_identity(changed[member.name]) == _instance_identity(old)
        assert "advert_int 0.5" in changed[member.name]

    with lab.probe() as probe:
        probe.wait_for(N1, 0, 10)
        t0 = time.monotonic()
        for name in (N2, N1):  # the backup first, the master last
            member = lab.member(name)
            member.local_path(KEEPALIVED_CONF).write_text(changed[name])
            # PID 1 of a PID namespace of its own: keepalived 2.2.7's config test otherwise
            # kills itself (see tests/test_rendered_with_real_tools.py)
            test = sh(*member.in_member("unshare", "-p", "-f", "keepalived", "-t", "-f",
                                        KEEPALIVED_CONF), check=False)
            assert test.returncode == 0, test.stdout + test.stderr
            os.kill(member.keepalived_pids()["parent"], signal.SIGHUP)
            time.sleep(1.0)
        time.sleep(4.0)  # several adverts at the new interval
        samples = probe.completed_since(t0)

    assert len(samples) > 300, len(samples)
    assert {s.result for s in samples} == {N1}, (
        [s for s in samples if s.result != N1][:3], lab.diagnose())
    assert lab.member(N1).holds_vip() and not lab.member(N2).holds_vip()
    for member in lab.members:
        log = member.keepalived_log()
        after = log[log.rindex("==== start"):]
        reload = re.search(r"[Rr]eload", after)
        assert reload, member.tail(member.root / "keepalived.log")
        since_reload = after[reload.start():]
        assert "Entering MASTER STATE" not in since_reload or member.name == N1
        assert "Entering FAULT STATE" not in since_reload
