"""The one gate (tests/gate.py): a missing need skips here and fails in CI."""

from __future__ import annotations

from typing import Any

import pytest

from tests import gate


def test_a_missing_need_skips_on_a_developer_machine(monkeypatch: Any) -> None:
    monkeypatch.setattr(gate, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="no cloud"):
        gate.unavailable("no cloud")
    with pytest.raises(pytest.fail.Exception, match="no cloud"):
        gate.unavailable("no cloud", strict=True)


def test_a_missing_need_fails_in_ci(monkeypatch: Any) -> None:
    monkeypatch.setattr(gate, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="may not skip"):
        gate.unavailable("no cloud")
    gate.require(True, "met: nothing happens")


def test_each_marker_is_a_need_and_registered(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(gate.NEEDS) <= registered
    assert set(gate.DIRECTORY_MARKERS.values()) <= set(gate.NEEDS)


def test_an_unmet_marked_need_stops_the_test(monkeypatch: Any) -> None:
    monkeypatch.setattr(gate, "IN_CI", True)
    monkeypatch.delenv("VRRP_CLOUD_DOWN", raising=False)

    class Item:
        def get_closest_marker(self, name: str) -> object | None:
            return object() if name == "cloud_down" else None

    with pytest.raises(pytest.fail.Exception, match=r"\[cloud_down\] VRRP_CLOUD_DOWN=1"):
        gate.check(Item())  # type: ignore[arg-type]
    monkeypatch.setenv("VRRP_CLOUD_DOWN", "1")
    gate.check(Item())  # type: ignore[arg-type]
