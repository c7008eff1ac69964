"""A state dir made by another layout of the local cloud is stopped and wiped by `up`.

CI and every worktree on a machine share /var/lib/vrrp-pair/localcloud; a database
and compute-node ids left by another branch's cloud made nova-compute refuse to
start ("Possible rename detected") and `up` time out; a data plane's daemons, QEMU and
namespaces would outlive a wipe. Runs on a temporary state dir with processes of its
own, so it needs no running cloud (and root only for the namespace test).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCAL_CLOUD = REPO / "scripts" / "local-cloud"


def _start_time(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[19]


def _reset(state: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VRRP_LOCALCLOUD_STATE=str(state))
    return subprocess.run(
        ["bash", str(LOCAL_CLOUD), "reset-foreign-state"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_foreign_state_is_stopped_and_wiped(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "run").mkdir(parents=True)
    (state / "etc").mkdir()
    (state / "mysql").mkdir()
    (state / "layout").write_text("0123456789abcdef\n")
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        (state / "run" / "hv1-vswitchd.pid").write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
        result = _reset(state)
        assert result.returncode == 0, result.stderr
        assert "from another layout" in result.stderr
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is not None, "the foreign layout's process was left running"
        assert sorted(p.name for p in state.iterdir()) == ["layout"]
        stamp = (state / "layout").read_text().strip()
        assert len(stamp) == 16 and stamp != "0123456789abcdef"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_own_state_is_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    first = _reset(state)
    assert first.returncode == 0, first.stderr
    (state / "etc").mkdir()
    (state / "mysql").mkdir()
    second = _reset(state)
    assert second.returncode == 0, second.stderr
    assert "from another layout" not in second.stderr
    assert (state / "mysql").is_dir()


def _sleeper(*argv: str) -> subprocess.Popen[bytes]:
    """A process of its own session; ARGV after the sleep is only on its command line."""
    return subprocess.Popen(["python3", "-c", "import time; time.sleep(300)", *argv],
                            start_new_session=True)


def _gone(proc: subprocess.Popen[bytes], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc.poll() is not None


def test_foreign_data_plane_is_stopped(tmp_path: Path) -> None:
    """A data-plane layout keeps pid files of its own (OVS, OVN, libvirtd: the pid only)
    in its dirs, and QEMU has none: all of them are stopped; a pid file whose pid now
    belongs to a process started after the file was written (a reused pid) is not."""
    state = tmp_path / "state"
    hv = state / "dataplane" / "hv1"
    hv.mkdir(parents=True)
    (state / "etc").mkdir()
    (state / "layout").write_text("0123456789abcdef\n")
    daemon = _sleeper()  # its command line does not name the state dir: found by pid file
    qemu = _sleeper("-drive", f"file={state}/nova/compute-1/instances/x/disk")
    reused = _sleeper()
    try:
        time.sleep(0.1)
        (hv / "ovs-vswitchd.pid").write_text(f"{daemon.pid}\n")
        stale = hv / "libvirt" / "run" / "libvirtd.pid"
        stale.parent.mkdir(parents=True)
        stale.write_text(f"{reused.pid}\n")
        hour_ago = time.time() - 3600
        os.utime(stale, (hour_ago, hour_ago))
        result = _reset(state)
        assert result.returncode == 0, result.stderr
        assert _gone(daemon), "a daemon named by its own pid file was left running"
        assert _gone(qemu), "a process naming the state dir (QEMU) was left running"
        assert reused.poll() is None, "a reused pid was killed"
        assert sorted(p.name for p in state.iterdir()) == ["layout"]
    finally:
        for proc in (daemon, qemu, reused):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.mark.root
def test_foreign_namespaces_are_removed(tmp_path: Path) -> None:
    """The namespaces a foreign state dir records are deleted (and no other)."""
    state = tmp_path / "state"
    (state / "dataplane").mkdir(parents=True)
    (state / "layout").write_text("0123456789abcdef\n")
    ours, other = f"vrrp-lt{os.getpid()}-hv1", f"vrrp-lt{os.getpid()}-keep"
    (state / "namespaces").write_text(f"{ours}\n")
    for ns in (ours, other):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        result = _reset(state)
        assert result.returncode == 0, result.stderr
        assert not Path("/run/netns", ours).exists()
        assert Path("/run/netns", other).exists()
    finally:
        for ns in (ours, other):
            if Path("/run/netns", ns).exists():
                subprocess.run(["ip", "netns", "del", ns], check=False)
