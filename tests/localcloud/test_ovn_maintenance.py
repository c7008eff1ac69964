"""The local cloud runs Neutron's OVN maintenance worker only until its start-up tasks
are done (scripts/localcloud/ovn_maintenance_once.py): that is right only while every
maintenance task but the ones it lists as periodic ends itself (raises NeverAgain).
Read from the Neutron in the cloud's venv, so a Neutron upgrade that adds a periodic
task fails here rather than as an `up` that waits for a task that never ends.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from labs.cloud.location import STATE
from tests.localcloud.test_config_paths import cloud_venv

REPO = Path(__file__).resolve().parents[2]
ONCE = REPO / "scripts" / "localcloud" / "ovn_maintenance_once.py"


def maintenance_source() -> Path:
    out = subprocess.run(
        [str(cloud_venv() / "bin" / "python"), "-c",
         "import neutron.plugins.ml2.drivers.ovn.mech_driver.ovsdb.maintenance as m; "
         "print(m.__file__)"],
        check=True, capture_output=True, text=True, timeout=120)
    return Path(out.stdout.strip().splitlines()[-1])


def tasks_without_end(source: Path) -> set[str]:
    """The periodic tasks of the maintenance thread whose body never raises NeverAgain."""
    tree = ast.parse(source.read_text())
    found = set()
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        if cls.name != "DBInconsistenciesPeriodics":
            continue
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            periodic = any(isinstance(d, ast.Call) and getattr(d.func, "id", "") ==
                           "has_lock_periodic" for d in fn.decorator_list)
            if periodic and "NeverAgain" not in ast.unparse(fn):
                found.add(fn.name)
    return found


def listed_periodic() -> set[str]:
    tree = ast.parse(ONCE.read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "PERIODIC"):
            return set(ast.literal_eval(node.value))
    raise AssertionError("PERIODIC not found")


def test_periodic_tasks_are_the_ones_listed() -> None:
    assert tasks_without_end(maintenance_source()) == listed_periodic()


@pytest.mark.dataplane
def test_done_file_of_a_finished_run_names_every_task() -> None:
    """After `up`, the done file holds every task, each finished (fake compute runs no
    OVN: then there is none)."""
    done = STATE / "markers" / "ovn-maintenance"
    assert done.is_file(), f"the cloud has no {done}"
    states = json.loads(done.read_text())
    assert set(states) >= listed_periodic()
    assert all(s["successes"] >= 1 for s in states.values()), states


@pytest.mark.dataplane
def test_nb_global_has_neutrons_settings() -> None:
    """What the start-up tasks are run for: NB_Global carries Neutron's [ovn_nb_global]
    settings (ignore_lsp_down=false: ARP replies only for ports a chassis has claimed;
    OVN's own default is true)."""
    sock = STATE / "dataplane" / "ovn" / "ovnnb_db.sock"
    assert sock.exists(), f"the cloud has no {sock}"
    out = subprocess.run(["ovn-nbctl", f"--db=unix:{sock}", "get", "NB_Global", ".",
                          "options:ignore_lsp_down"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip().strip('"') == "false"
