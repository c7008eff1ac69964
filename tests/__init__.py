"""The test suite; tests import each other's helpers as `tests.<module>`."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The templates as checked in (what the installed package must ship unchanged).
REPO_TEMPLATES = REPO_ROOT / "cloud-init"
