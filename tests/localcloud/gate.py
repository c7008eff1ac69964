"""Whether tests that need the local OpenStack (scripts/local-cloud) run here.

VRRP_LOCAL_CLOUD=1: run, and fail if the cloud is broken; 0: skip; unset: run
only when Keystone answers on 127.0.0.1."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

STATE = Path(os.environ.get("VRRP_LOCALCLOUD_STATE", "/var/lib/vrrp-pair/localcloud"))
CLOUDS_YAML = Path(os.environ.get("OS_CLIENT_CONFIG_FILE", str(STATE / "clouds.yaml")))
CLOUD = os.environ.get("VRRP_LOCAL_CLOUD_NAME", "vrrp-local")


def cloud_answers() -> bool:
    if not CLOUDS_YAML.is_file():
        return False
    try:
        with urllib.request.urlopen("http://127.0.0.1:5000/v3", timeout=3):
            return True
    except Exception:
        return False


ENABLED = os.environ.get("VRRP_LOCAL_CLOUD") == "1" or (
    os.environ.get("VRRP_LOCAL_CLOUD") != "0" and cloud_answers()
)

requires_local_cloud = pytest.mark.skipif(
    not ENABLED, reason="local OpenStack not up (scripts/local-cloud up; VRRP_LOCAL_CLOUD=1)"
)
