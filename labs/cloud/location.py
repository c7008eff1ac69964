"""Where the local OpenStack (scripts/local-cloud) keeps its state, and whether it answers.

Whether the tests that need it run is tests/gate.py's `cloud` need: VRRP_LOCAL_CLOUD=1
runs them (and they fail if the cloud is broken); 0 leaves them out; unset runs them only
when Keystone answers on 127.0.0.1."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

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
