"""Test-wide settings. The component is imported as a stack imports it: `vrrp_pair`, the
package that `pip install` of this repository provides (scripts/lib.sh installs it editable)."""

# Hypothesis: no example database in the checkout (CI starts from a clean clone
# anyway); a failure prints the blob that replays it (@reproduce_failure).
from hypothesis import settings

settings.register_profile("vrrp-pair", database=None, print_blob=True)
settings.load_profile("vrrp-pair")
