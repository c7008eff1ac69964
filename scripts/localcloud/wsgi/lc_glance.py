"""Gunicorn entry point for the local cloud's glance API (scripts/local-cloud).

Gunicorn's own command line would otherwise reach oslo.config and fail with
"unrecognized arguments", so argv is reset before the app is imported; the
config directory comes from the local cloud's state dir.
"""

import os
import sys

sys.argv = sys.argv[:1]
_state = os.environ.get("VRRP_LOCALCLOUD_STATE", "/var/lib/vrrp-pair/localcloud")
os.environ.setdefault("OS_GLANCE_CONFIG_DIR", os.path.join(_state, "etc", "glance"))

from glance.wsgi.api import application  # noqa: E402,F401
