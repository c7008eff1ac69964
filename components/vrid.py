"""Chooses a VRRP virtual_router_id that no other pair on the same network uses.

A VRID must be unique among VRRP groups that can hear each other (one L2
segment). Within one Pulumi program we know every pair, so we derive the ID
deterministically from the pair's name and its network and skip IDs already
taken; pairs in other stacks on a shared network should set one explicitly.
"""

from __future__ import annotations

import hashlib

from .settings import VrrpPairConfigError

VRID_COUNT = 255


class VridRegistry:
    """The VRIDs claimed so far in this program, per network."""

    def __init__(self) -> None:
        self._claimed: dict[str, dict[int, str]] = {}

    def claim(self, network_key: str, pair_name: str, explicit: int | None) -> int:
        taken = self._claimed.setdefault(network_key, {})
        if explicit is not None:
            if explicit in taken and taken[explicit] != pair_name:
                raise VrrpPairConfigError(
                    f"virtualRouterId: {explicit!r} is not valid; pair {taken[explicit]!r} "
                    f"already uses it on network {network_key!r}; pick another from 1 to 255")
            taken[explicit] = pair_name
            return explicit
        start = derived_vrid(network_key, pair_name)
        for offset in range(VRID_COUNT):
            candidate = (start - 1 + offset) % VRID_COUNT + 1
            if candidate not in taken:
                taken[candidate] = pair_name
                return candidate
        raise VrrpPairConfigError(
            f"virtualRouterId: all 255 IDs on network {network_key!r} are taken")

    def reset(self) -> None:
        """Forget every claim (for tests that build several programs in one process)."""
        self._claimed.clear()


def derived_vrid(network_key: str, pair_name: str) -> int:
    """A stable ID from 1 to 255: the same inputs give the same VRID on every run."""
    digest = hashlib.sha256(f"{network_key}/{pair_name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % VRID_COUNT + 1


registry = VridRegistry()
