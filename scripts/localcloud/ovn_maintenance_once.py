"""Neutron's OVN maintenance worker, run while the local cloud starts, not for its life.

Run with the local cloud's venv, arguments as for ``neutron-ovn-maintenance-worker``;
``VRRP_LOCALCLOUD_MAINTENANCE_DONE`` names the file written when the work is done.

The worker (neutron/plugins/ml2/drivers/ovn/mech_driver/ovsdb/maintenance.py) has two
kinds of work. Start-up tasks, each run until it succeeds once (it raises NeverAgain):
they write the ``[ovn_nb_global]`` settings into OVN's NB_Global (``ignore_lsp_down``
false: OVN's own default is true, i.e. ARP replies for ports no chassis has claimed) and
bring rows made by older releases up to date. And two periodic ones: every 5 minutes it
re-applies Neutron changes whose OVN write failed, daily it purges hash-ring nodes older
than 5 days. A cloud that lives for one test run needs the first (the data plane must
behave as on a cloud that runs the worker) and not the second (a failed OVN write is a
failure the tests should see, not one to heal 5 minutes later), while the worker holds
about 270 MiB for the cloud's whole life. So this runs Neutron's own worker, unchanged,
until every start-up task has succeeded and the repair pass has run once, writes the
tasks' counts to the done file and stops the worker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

from neutron.cmd.server import main_ovn_maintenance
from neutron.plugins.ml2.drivers.ovn.mech_driver.ovsdb import maintenance

# the periodic tasks (the rest are start-up tasks that end with NeverAgain)
PERIODIC = {"check_for_inconsistencies", "cleanup_old_hash_ring_nodes"}


def task_states(worker: Any) -> dict[str, dict[str, Any]]:
    return {w.work.name.rsplit(".", 1)[-1]: {"runs": w.runs, "successes": w.successes,
                                             "failures": w.failures, "done": w.requested_stop}
            for w in worker.iter_watchers()}


def all_done(states: dict[str, dict[str, Any]]) -> bool:
    return bool(states) and all(
        s["successes"] >= 1 if name in PERIODIC else s["done"] for name, s in states.items())


def finish_when_done(thread: maintenance.MaintenanceThread, done_file: str) -> None:
    """In the worker process: when the work above is done, record it and stop the
    worker (its parent, the process manager, stops it on SIGTERM)."""
    while True:
        time.sleep(1)
        worker = thread._worker
        if worker is None:
            continue
        states = task_states(worker)
        if all_done(states):
            break
    with open(done_file + ".tmp", "w") as f:
        json.dump(states, f, indent=1, sort_keys=True)
    os.replace(done_file + ".tmp", done_file)
    print(f"OVN maintenance start-up work done ({len(states)} tasks); stopping the worker",
          file=sys.stderr, flush=True)
    os.kill(os.getppid(), signal.SIGTERM)


def main() -> int:
    done_file = os.environ["VRRP_LOCALCLOUD_MAINTENANCE_DONE"]
    start = maintenance.MaintenanceThread.start

    def start_and_watch(self: maintenance.MaintenanceThread) -> None:
        start(self)
        threading.Thread(target=finish_when_done, args=(self, done_file), daemon=True).start()

    maintenance.MaintenanceThread.start = start_and_watch  # type: ignore[method-assign]
    sys.argv[0] = "neutron-ovn-maintenance-worker"
    return main_ovn_maintenance() or 0


if __name__ == "__main__":
    sys.exit(main())
