"""The network the pair creates, input by input, as literals: what Neutron is asked for is
what the recipe needs (port security on, DHCP pools around the pair's own addresses, a
router to the external network, DHCPv6 stateful for IPv6) and nothing else."""

from __future__ import annotations

from typing import Any

from vrrp_pair import VrrpPair

from labs.pulumi_harness import RECIPE_ARGS, RecordingMocks, run_program

IPV6_ARGS: dict[str, Any] = {
    **RECIPE_ARGS, "subnet_cidr": "fd00:10::/64", "vrrp_version": 3,
    "member_addresses": ["fd00:10::4", "fd00:10::5"], "vip_address": "fd00:10::c8",
    "http_allowed_cidrs": ["::/0"], "floating_ip": False}


def network_inputs(args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def program() -> Any:
        return VrrpPair("vrrp", args).floating_ip_address  # type: ignore[arg-type]

    mocks: RecordingMocks = run_program(program)
    return {r.name: r.inputs for r in mocks.resources
            if r.name in ("vrrp-net", "vrrp-subnet", "vrrp-router", "vrrp-router-if")}


def test_an_ipv4_pair_asks_neutron_for_exactly_its_network() -> None:
    assert network_inputs({**RECIPE_ARGS, "dns_nameservers": ["10.10.0.53"]}) == {
        "vrrp-net": {"name": "vrrp-net", "adminStateUp": True, "portSecurityEnabled": True},
        "vrrp-subnet": {
            "name": "vrrp-subnet", "networkId": "vrrp-net-id", "ipVersion": 4,
            "cidr": "10.10.0.0/24", "gatewayIp": "10.10.0.1", "dnsNameservers": ["10.10.0.53"],
            "allocationPools": [{"start": "10.10.0.2", "end": "10.10.0.3"},
                                {"start": "10.10.0.6", "end": "10.10.0.199"},
                                {"start": "10.10.0.201", "end": "10.10.0.254"}]},
        "vrrp-router": {"name": "vrrp-router", "adminStateUp": True,
                        "externalNetworkId": "11111111-2222-3333-4444-555555555555"},
        "vrrp-router-if": {"routerId": "vrrp-router-id", "subnetId": "vrrp-subnet-id"},
    }


def test_an_ipv6_pair_gets_dhcpv6_stateful_addresses() -> None:
    subnet = network_inputs(IPV6_ARGS)["vrrp-subnet"]
    assert subnet["ipVersion"] == 6 and subnet["cidr"] == "fd00:10::/64"
    assert (subnet["ipv6AddressMode"], subnet["ipv6RaMode"]) == (
        "dhcpv6-stateful", "dhcpv6-stateful")
    assert "dnsNameservers" not in subnet, "none given: Neutron's default"


def test_without_an_external_network_there_is_no_router() -> None:
    created = network_inputs({**RECIPE_ARGS, "external_network": "", "external_network_id": "",
                              "floating_ip": False})
    assert sorted(created) == ["vrrp-net", "vrrp-subnet"]


def test_an_external_network_given_by_id_alone_gets_a_router() -> None:
    created = network_inputs({**RECIPE_ARGS, "external_network": "", "floating_ip": False})
    assert created["vrrp-router"]["externalNetworkId"] == "11111111-2222-3333-4444-555555555555"
