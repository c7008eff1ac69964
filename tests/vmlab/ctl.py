"""Lab-side commands for a running VM lab, usable as failover_check switch templates.

    python -m tests.vmlab.ctl LAB_DIR exec MEMBER 'systemctl stop apache2'
    python -m tests.vmlab.ctl LAB_DIR link MEMBER down|up      # guest sees carrier loss
    python -m tests.vmlab.ctl LAB_DIR power-off MEMBER         # QEMU quits at once

They talk to QEMU's unix sockets in LAB_DIR/MEMBER/, so they work from any
network namespace (the drill runs in the client namespace).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from tests.vmlab.lab import agent, qmp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vmlab-ctl")
    parser.add_argument("lab_dir", type=Path)
    sub = parser.add_subparsers(dest="action", required=True)
    ex = sub.add_parser("exec")
    ex.add_argument("member")
    ex.add_argument("command")
    ex.add_argument("--timeout", type=float, default=60.0)
    link = sub.add_parser("link")
    link.add_argument("member")
    link.add_argument("state", choices=("up", "down"))
    off = sub.add_parser("power-off")
    off.add_argument("member")
    args = parser.parse_args(argv)
    vm_dir = args.lab_dir / args.member
    if args.action == "exec":
        rc, out, err = agent(vm_dir, args.command, args.timeout)
        sys.stdout.write(out)
        sys.stderr.write(err)
        return rc
    if args.action == "link":
        qmp(vm_dir / "qmp.sock", "set_link", {"name": "n0", "up": args.state == "up"})
        return 0
    # power-off: QMP quit, then make sure the process is gone.
    pid = int((vm_dir / "qemu.pid").read_text())
    try:
        qmp(vm_dir / "qmp.sock", "quit")
    except (OSError, RuntimeError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break  # exited; its parent (the harness) reaps it
        except (OSError, IndexError):
            break
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
