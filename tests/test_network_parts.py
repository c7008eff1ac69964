"""The pair's address plan and check URLs, as literals: Neutron's allocation pools with
holes for the gateway and the pair's own addresses, and an IPv6 address in a URL."""

from __future__ import annotations

import ipaddress

import pytest
from vrrp_pair.checks import check_url
from vrrp_pair.network import allocation_pools


@pytest.mark.parametrize(("subnet", "gateway", "reserved", "pools"), [
    pytest.param("10.10.0.0/24", "10.10.0.1", ["10.10.0.4", "10.10.0.5", "10.10.0.200"],
                 [("10.10.0.2", "10.10.0.3"), ("10.10.0.6", "10.10.0.199"),
                  ("10.10.0.201", "10.10.0.254")], id="the dev stack"),
    pytest.param("10.0.0.0/29", "10.0.0.5", [],
                 [("10.0.0.1", "10.0.0.4"), ("10.0.0.6", "10.0.0.6")],
                 id="gateway not first, one address after it"),
    pytest.param("10.0.0.0/29", "10.0.0.6", [], [("10.0.0.1", "10.0.0.5")],
                 id="nothing after the gateway (the broadcast address is not a host)"),
    pytest.param("::/120", "::1", [], [("::2", "::ff")],
                 id="IPv6 low addresses stay IPv6, and the last one is a host"),
    pytest.param("fd00:10::/64", "fd00:10::1", ["fd00:10::c8"],
                 [("fd00:10::2", "fd00:10::c7"), ("fd00:10::c9", "fd00:10::ffff:ffff:ffff:ffff")],
                 id="IPv6 /64"),
])
def test_allocation_pools_leave_out_the_gateway_and_the_pairs_addresses(
        subnet: str, gateway: str, reserved: list[str], pools: list[tuple[str, str]]) -> None:
    network = ipaddress.ip_network(subnet)
    assert allocation_pools(network, ipaddress.ip_address(gateway),
                            [ipaddress.ip_address(a) for a in reserved]) == pools


def test_an_ipv6_check_url_has_its_address_in_brackets() -> None:
    assert check_url("fd00:10::c8", 8080) == "http://[fd00:10::c8]:8080/"
    assert check_url("10.10.0.200", 80) == "http://10.10.0.200:80/"
