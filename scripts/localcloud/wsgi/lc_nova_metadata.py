"""Gunicorn entry point for the local cloud's Nova metadata API (scripts/local-cloud).

As lc_nova: argv is reset so gunicorn's options do not reach oslo.config, and the
config directory is the local cloud's.
"""

import os
import sys

sys.argv = sys.argv[:1]
_state = os.environ.get("VRRP_LOCALCLOUD_STATE", "/var/lib/vrrp-pair/localcloud")
os.environ.setdefault("OS_NOVA_CONFIG_DIR", os.path.join(_state, "etc", "nova"))

from nova.wsgi.metadata import application  # noqa: E402,F401
