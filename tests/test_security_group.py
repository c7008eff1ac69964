"""The members' security group rule by rule, as literals: VRRP only from the group itself,
HTTP only on the pair's port from the CIDRs allowed, SSH only from those named; every rule
says in its description which setting opened it."""

from __future__ import annotations

from typing import Any

from vrrp_pair import VrrpPair

from labs.pulumi_harness import RECIPE_ARGS, RecordingMocks, run_program


def security_group(args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def program() -> Any:
        return VrrpPair("vrrp", args).floating_ip_address  # type: ignore[arg-type]

    mocks: RecordingMocks = run_program(program)
    return {r.name: r.inputs for r in mocks.resources
            if r.typ.startswith("openstack:networking/secGroup")}


def test_the_members_group_opens_vrrp_http_and_ssh_and_nothing_else() -> None:
    assert security_group({**RECIPE_ARGS, "http_port": 8080,
                           "ssh_allowed_cidrs": ["192.0.2.0/24"]}) == {
        "vrrp-members": {"name": "vrrp-members",
                         "description": "VRRP pair vrrp: keepalived members"},
        "vrrp-vrrp-in": {
            "direction": "ingress", "ethertype": "IPv4", "protocol": "112",
            "remoteGroupId": "vrrp-members-id", "securityGroupId": "vrrp-members-id",
            "description": "VRRP adverts between members of this pair only"},
        "vrrp-http-in-0.0.0.0-0": {
            "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "portRangeMin": 8080, "portRangeMax": 8080, "remoteIpPrefix": "0.0.0.0/0",
            "securityGroupId": "vrrp-members-id",
            "description": "HTTP from 0.0.0.0/0 (httpAllowedCidrs)"},
        "vrrp-ssh-in-192.0.2.0-24": {
            "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "192.0.2.0/24",
            "securityGroupId": "vrrp-members-id",
            "description": "SSH from 192.0.2.0/24 (sshAllowedCidrs)"},
    }


def test_without_ssh_cidrs_there_is_no_ssh_rule() -> None:
    assert not [name for name in security_group(RECIPE_ARGS) if "-ssh-" in name]
