"""Boots ONE member (packageSource=mirror) on a variant of the base image, with the
user-data as rendered or as rendered by a copy of this checkout with
tests/vmlab/PROPOSED.patch applied, and reports what cloud-init and apt did.
Evidence for a bug report, not part of the test suite.

    python -m tests.vmlab.variant_check --variant deb822+nogpg            # as rendered
    python -m tests.vmlab.variant_check --variant deb822+nogpg --proposed # with the fix
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.vmlab.lab import PYTHON, ROOT, Lab, image_dir, log

PATCH = Path(__file__).resolve().parent / "PROPOSED.patch"
RENDER = """
import json, sys
from tests.vmlab.lab import render_members
members = render_members("mirror", 2, apt_mirror_key=open(sys.argv[1]).read())
print(json.dumps({m.name: m.user_data for m in members}))
"""


def render_with_patch(images: Path) -> dict[str, str]:
    """Each member's user-data rendered by a copy of this checkout with PROPOSED.patch."""
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("components", "cloud-init", "tests"):
            shutil.copytree(ROOT / part, Path(tmp) / part,
                            ignore=shutil.ignore_patterns("__pycache__", "lab"))
        subprocess.run(["git", "apply", str(PATCH)], cwd=tmp, check=True)
        out = subprocess.run([PYTHON, "-c", RENDER, str(images / "repo-key.asc")], cwd=tmp,
                             env={**os.environ, "PYTHONPATH": tmp}, check=True,
                             capture_output=True, text=True).stdout
    rendered: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return rendered


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", default="deb822+nogpg")
    parser.add_argument("--proposed", action="store_true")
    parser.add_argument("--deadline", type=float, default=900)
    args = parser.parse_args()
    patched = render_with_patch(image_dir()) if args.proposed else {}
    with Lab.create(package_source="mirror", member_count=2, variant=args.variant,
                    user_data_patch=(lambda m: patched[m.name]) if args.proposed else None,
                    keep=True) as lab:
        vm = lab.vms[0]
        start = time.monotonic()
        vm.boot()
        result = lab.wait_member_ready(vm, args.deadline)
        done = time.monotonic() - start
        _, out, _ = vm.exec(
            "echo '## dpkg'; dpkg-query -W -f '${Package} ${Status}\\n' keepalived apache2 curl"
            " 2>&1; echo '## sources'; ls /etc/apt/sources.list.d/ /etc/apt/trusted.gpg.d/"
            " /etc/apt/keyrings/ 2>&1; cat /etc/apt/sources.list;"
            " echo '## cloud-init warnings/errors';"
            " grep -E 'WARNING|ERROR|Traceback|gpg|NO_PUBKEY|not signed' /var/log/cloud-init.log"
            " | cut -c1-300 | tail -n 25;"
            " echo '## cloud-init-output (apt)';"
            " grep -E '^(W|E|Err):|Failed to fetch|not signed|NO_PUBKEY|Unable to locate'"
            " /var/log/cloud-init-output.log | tail -n 15", timeout=120)
        serving = lab.who_serves()
        lab.collect_logs()
    print(json.dumps({"variant": args.variant, "proposed_fix": args.proposed,
                      "cloud_init_seconds": round(done, 1), "cloud_init_result": result,
                      "vip_served_by": serving}, indent=2))
    print(out)
    log(f"lab dir: {lab.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
