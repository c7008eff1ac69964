"""scripts/deploy on the local cloud forgets a stack whose cloud is gone, and only that one.

`scripts/local-cloud down` removes the cloud with every resource a stack made in it; the
stack's state in .pulumi-state still lists them, and the next `scripts/deploy` failed on
them (an invoke found no port). Each cloud has an id from its first `up`
(VRRP_LOCAL_CLOUD_ID); deploy records it beside the stack and, when the running cloud's
id differs, removes the stack's state before `up`. This runs lib.sh's function with the
real Pulumi CLI on a file backend.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from labs.toolchain import BIN, REPO, engine_env
from tests import gate

STACK = "dev"
TRACKED_CONFIG = "config:\n  deploy-state:vipAddress: 10.10.0.200\n"  # as the repo tracks one


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    gate.require((BIN / "pulumi").is_file(), f"no Pulumi CLI at {BIN / 'pulumi'}")
    work = tmp_path / "project"
    work.mkdir()
    (work / "Pulumi.yaml").write_text("name: deploy-state\nruntime: yaml\n")
    (work / f"Pulumi.{STACK}.yaml").write_text(TRACKED_CONFIG)
    env = engine_env(tmp_path / "engine", "deploy-state-test")
    return work, env


def pulumi(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "pulumi"), *args, "--non-interactive"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def stacks(work: Path, env: dict[str, str]) -> list[str]:
    listed = pulumi(work, env, "stack", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    return [s["name"] for s in json.loads(listed.stdout)]


def forget(work: Path, env: dict[str, str], cloud_id: str) -> subprocess.CompletedProcess[str]:
    script = (f'. "{REPO}/scripts/lib.sh"; '
              f'forget_stack_of_a_gone_cloud "{work / "state"}" {STACK} {cloud_id}')
    return subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_a_stack_of_a_gone_cloud_is_forgotten_and_one_of_this_cloud_kept(
        project: tuple[Path, dict[str, str]]) -> None:
    work, env = project
    (work / "state").mkdir()
    assert pulumi(work, env, "stack", "init", STACK).returncode == 0
    tracked = (work / f"Pulumi.{STACK}.yaml").read_text()  # init added its salt
    assert tracked.startswith(TRACKED_CONFIG)
    salt = work / "state" / f"{STACK}.encryptionsalt"
    salt.write_text("encryptionsalt: v1:old\n")
    record = work / "state" / f"{STACK}.cloud-id"

    first = forget(work, env, "cloud-a")  # a stack with no record yet: adopted, kept
    assert first.returncode == 0, first.stderr
    assert stacks(work, env) == [STACK] and record.read_text() == "cloud-a\n"

    same = forget(work, env, "cloud-a")  # the same cloud: nothing happens
    assert same.returncode == 0 and "gone" not in same.stderr, same.stderr
    assert stacks(work, env) == [STACK] and salt.is_file()

    other = forget(work, env, "cloud-b")  # the cloud was replaced: the stack is forgotten
    assert other.returncode == 0, other.stderr
    assert "deployed to a local cloud that is gone (cloud-a; this one is cloud-b)" in other.stderr
    assert stacks(work, env) == []
    assert not salt.exists() and record.read_text() == "cloud-b\n"
    # the stack's tracked config file stays (`pulumi stack rm` deletes it unless told not to)
    assert (work / f"Pulumi.{STACK}.yaml").read_text() == tracked
