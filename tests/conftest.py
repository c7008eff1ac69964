"""Makes the repository root importable, so tests import `components` like a stack does."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Hypothesis: no example database in the checkout (CI starts from a clean clone
# anyway); a failure prints the blob that replays it (@reproduce_failure).
from hypothesis import settings  # noqa: E402

settings.register_profile("vrrp-pair", database=None, print_blob=True)
settings.load_profile("vrrp-pair")
