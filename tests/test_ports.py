"""The pair's ports and floating IP, input by input, as literals: the recipe's VIP port
(a fixed IP no VM is bound to, in the members' security group), each member's port with
the VIP in its allowed-address-pairs, the floating IP on the VIP port."""

from __future__ import annotations

from typing import Any

from vrrp_pair import VrrpPair

from labs.pulumi_harness import RECIPE_ARGS, RecordingMocks, run_program


def test_the_vip_port_the_member_ports_and_the_floating_ip() -> None:
    def program() -> Any:
        return VrrpPair("vrrp", RECIPE_ARGS).floating_ip_address  # type: ignore[arg-type]

    mocks: RecordingMocks = run_program(program)
    ports = {r.name: r.inputs for r in mocks.resources
             if r.typ in ("openstack:networking/port:Port",
                          "openstack:networking/floatingIp:FloatingIp")}

    def member(n: int, address: str) -> dict[str, Any]:
        return {"name": f"vrrp-node-{n}-port", "description": f"keepalived member {n} of vrrp",
                "networkId": "vrrp-net-id", "adminStateUp": True, "portSecurityEnabled": True,
                "securityGroupIds": ["vrrp-members-id"],
                "fixedIps": [{"subnetId": "vrrp-subnet-id", "ipAddress": address}],
                "allowedAddressPairs": [{"ipAddress": "10.10.0.200"}]}

    assert ports == {
        "vrrp-vip": {
            "name": "vrrp-vip",
            "description": "VRRP virtual IP of vrrp: held by keepalived, never bound to a VM",
            "networkId": "vrrp-net-id", "adminStateUp": True, "portSecurityEnabled": True,
            "securityGroupIds": ["vrrp-members-id"],
            "fixedIps": [{"subnetId": "vrrp-subnet-id", "ipAddress": "10.10.0.200"}]},
        "vrrp-node-1-port": member(1, "10.10.0.4"),
        "vrrp-node-2-port": member(2, "10.10.0.5"),
        "vrrp-fip": {"portId": "vrrp-vip-id", "pool": "public",
                     "description": "public address of VRRP pair vrrp"},
    }
