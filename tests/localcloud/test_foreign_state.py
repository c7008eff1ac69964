"""A state dir made by another layout of the local cloud is stopped and wiped by `up`.

CI and every worktree on a machine share /var/lib/vrrp-pair/localcloud; a database
and compute-node ids left by another branch's cloud made nova-compute refuse to
start ("Possible rename detected") and `up` time out. Runs on a temporary state dir
with a process of its own, so it needs neither root nor a running cloud.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

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
