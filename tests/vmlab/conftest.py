"""The VM lab boots real VMs (minutes, root, QEMU): it runs only with VMLAB=1."""

from __future__ import annotations

import os
import shutil

import pytest

NEEDS = ("qemu-system-x86_64", "qemu-img", "genisoimage", "debootstrap", "mkfs.ext4",
         "apt-ftparchive", "gpg", "ip", "curl")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if os.environ.get("VMLAB") != "1":
        reason = "VM lab: set VMLAB=1 (root, QEMU; several minutes)"
    elif os.geteuid() != 0:
        reason = "VM lab needs root (network namespaces, taps)"
    else:
        missing = [tool for tool in NEEDS if shutil.which(tool) is None]
        if missing:
            reason = f"VM lab needs {', '.join(missing)}"
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "tests/vmlab/" in str(item.fspath):
            item.add_marker(skip)
