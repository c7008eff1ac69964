"""VRIDs without Pulumi: the derived ID is pinned (a changed hash input or formula would move
every existing pair to another VRID on its next `pulumi up`), and the registry's search
for a free ID is checked where it turns: the next ID up, 255 wrapping to 1, a full network."""

from __future__ import annotations

import pytest
from vrrp_pair.settings import VrrpPairConfigError
from vrrp_pair.vrid import VridRegistry, derived_vrid

# Worked out once by hand: sha256("<network key>/<pair name>"), its first four bytes as a
# big-endian integer, modulo 255, plus one. Names on "lab" chosen to land on the edges.
PINNED = [
    ("own:vrrp", "vrrp", 172),  # the recipe's pair on its own network
    ("existing:net-a", "web", 173),
    ("existing:net-a", "api", 104),
    ("lab", "pair-268", 1),
    ("lab", "pair-206", 2),
    ("lab", "pair-584", 254),
    ("lab", "pair-340", 255),
]


@pytest.mark.parametrize("network_key,pair_name,vrid", PINNED)
def test_derived_vrid_is_pinned(network_key: str, pair_name: str, vrid: int) -> None:
    assert derived_vrid(network_key, pair_name) == vrid


def test_an_unclaimed_network_gets_the_derived_vrid() -> None:
    registry = VridRegistry()
    assert registry.claim("own:vrrp", "vrrp", None) == 172
    assert registry.claim("lab", "pair-340", None) == 255
    assert registry.claim("lab", "pair-268", None) == 1


def test_a_taken_derived_vrid_moves_up_to_the_next_free_one() -> None:
    registry = VridRegistry()
    assert registry.claim("lab", "other", 2) == 2
    assert registry.claim("lab", "third", 3) == 3
    # pair-206 derives 2: 2 and 3 are taken, so it gets 4 (upwards, not down to 1)
    assert registry.claim("lab", "pair-206", None) == 4


def test_the_search_wraps_from_255_to_1() -> None:
    registry = VridRegistry()
    assert registry.claim("lab", "other", 255) == 255
    assert registry.claim("lab", "pair-340", None) == 1
    # and 1 itself taken: on to 2
    assert registry.claim("lab", "pair-584", 254) == 254
    assert registry.claim("lab", "pair-584b", 2) == 2
    full = VridRegistry()
    full.claim("lab", "a", 255)
    full.claim("lab", "b", 1)
    assert full.claim("lab", "pair-340", None) == 2


def test_claims_are_per_network() -> None:
    registry = VridRegistry()
    assert registry.claim("net-1", "web", 7) == 7
    assert registry.claim("net-2", "api", 7) == 7


def test_a_derived_claim_is_remembered() -> None:
    registry = VridRegistry()
    assert registry.claim("own:vrrp", "vrrp", None) == 172
    with pytest.raises(VrrpPairConfigError, match="pair 'vrrp' already uses it"):
        registry.claim("own:vrrp", "other", 172)


def test_the_same_pair_may_claim_its_explicit_vrid_again() -> None:
    registry = VridRegistry()
    assert registry.claim("net-x", "web", 7) == 7
    assert registry.claim("net-x", "web", 7) == 7


def test_an_explicit_vrid_of_another_pair_is_refused_by_name() -> None:
    registry = VridRegistry()
    registry.claim("net-x", "web", 7)
    with pytest.raises(VrrpPairConfigError) as error:
        registry.claim("net-x", "api", 7)
    assert str(error.value) == (
        "virtualRouterId: 7 is not valid; pair 'web' already uses it on network 'net-x'; "
        "pick another from 1 to 255")


def test_a_full_network_is_refused() -> None:
    registry = VridRegistry()
    for vrid in range(1, 256):
        assert registry.claim("lab", f"pair-{vrid}", vrid) == vrid
    with pytest.raises(VrrpPairConfigError) as error:
        registry.claim("lab", "one-too-many", None)
    assert str(error.value) == "virtualRouterId: all 255 IDs on network 'lab' are taken"


def test_the_last_free_id_is_found_wherever_it_is() -> None:
    registry = VridRegistry()
    for vrid in range(1, 256):
        if vrid != 171:  # one below own:vrrp/vrrp's 172: the search must wrap all the way
            registry.claim("own:vrrp", f"pair-{vrid}", vrid)
    assert registry.claim("own:vrrp", "vrrp", None) == 171


def test_reset_forgets_every_claim() -> None:
    registry = VridRegistry()
    registry.claim("net-x", "web", 7)
    registry.reset()
    assert registry.claim("net-x", "api", 7) == 7
