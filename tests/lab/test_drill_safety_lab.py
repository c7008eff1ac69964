"""The failover drill against a real keepalived + Apache pair never leaves a port blocked.

The drill (`failover_check drill --switch command`) runs in the client namespace and
blocks the master's bridge port (Neutron admin_state_up=false); `--check-cmd` reads
the bridge port's state back. With the backup's Apache stopped nobody takes over, so
the drill is still probing when it is stopped: by SIGTERM (it restores the port
itself) or by SIGKILL (its guardian does). Either way the bridge forwards again and
the master serves the VIP again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from labs.namespace.lab import Lab, sh, wait_until
from labs.namespace.render import pair_spec

N1, N2 = "vrrp-node-1", "vrrp-node-2"


def _bridge_state(lab: Lab, member: str) -> str:
    out = sh("ip", "netns", "exec", lab.switch, "bridge", "link", "show", "dev", member).stdout
    return out.split(" state ", 1)[1].split()[0] if " state " in out else out


def _drill(lab: Lab, timeout: float = 60) -> subprocess.Popen[str]:
    bridge = f"ip netns exec {lab.switch} bridge link"
    cmd = ["ip", "netns", "exec", lab.client, sys.executable, "-m", "vrrp_pair.failover_check",
           "drill", "--url", f"http://{lab.members[0].vip}:80/", "--switch", "command",
           "--disable-cmd", f"{bridge} set dev {{member}} state 0",
           "--enable-cmd", f"{bridge} set dev {{member}} state 3",
           "--check-cmd", f"{bridge} show dev {{member}} | grep -q 'state forwarding'",
           "--timeout", str(timeout)]
    for member in lab.members:
        cmd += ["--member", f"{member.name}={member.port}"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_blocked(lab: Lab, drill: subprocess.Popen[str]) -> None:
    def blocked() -> bool:
        assert drill.poll() is None, drill.communicate()
        return _bridge_state(lab, N1) == "disabled"

    wait_until(blocked, 30, "the drill blocking the master's port")
    time.sleep(0.5)


def test_drill_verifies_the_restored_port(make_lab):
    lab = make_lab(pair_spec())
    drill = _drill(lab, timeout=30)
    out, err = drill.communicate(timeout=90)
    assert drill.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["new_master"] == N2
    assert report["port_restored"] == {"member": N1, "port_id": lab.member(N1).port,
                                       "verified": True, "detail": "check command exited 0"}
    assert _bridge_state(lab, N1) == "forwarding"


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_stopped_drill_leaves_the_master_serving(make_lab, how: str):
    lab = make_lab(pair_spec())
    lab.member(N2).stop_apache()  # the backup cannot take over: the drill keeps probing
    lab.wait_serving(None, N1, 10)
    drill = _drill(lab)
    _wait_blocked(lab, drill)
    drill.send_signal(getattr(signal, how))
    _, err = drill.communicate(timeout=90)
    if how == "SIGTERM":
        assert drill.returncode == 128 + signal.SIGTERM, err
        assert f"{N1}'s port {lab.member(N1).port} is enabled again (verified" in err, err
    else:
        assert drill.returncode == -signal.SIGKILL
    wait_until(lambda: _bridge_state(lab, N1) == "forwarding", 30,
               "the master's port forwarding again", diagnose=lab.diagnose)
    lab.wait_serving(None, N1, 15)
