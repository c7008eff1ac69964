"""Test-wide settings. The component is imported as a stack imports it: `vrrp_pair`, the
package that `pip install` of this repository provides (scripts/lib.sh installs it editable)."""

from pathlib import Path

import pytest

# Hypothesis: no example database in the checkout (CI starts from a clean clone
# anyway); a failure prints the blob that replays it (@reproduce_failure).
from hypothesis import settings

from tests import gate

settings.register_profile("vrrp-pair", database=None, print_blob=True)
settings.load_profile("vrrp-pair")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        gate.mark_by_directory(item, Path(__file__).resolve().parent)


def pytest_runtest_setup(item: pytest.Item) -> None:
    gate.check(item)
