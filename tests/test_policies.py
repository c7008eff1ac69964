"""Each CrossGuard policy, on a passing and a violating resource."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

POLICY_MODULE = Path(__file__).resolve().parent.parent / "policy" / "vrrp_policies.py"
_spec = importlib.util.spec_from_file_location("vrrp_policies", POLICY_MODULE)
assert _spec is not None and _spec.loader is not None
vp = importlib.util.module_from_spec(_spec)
sys.modules["vrrp_policies"] = vp  # the pack's module, as `pulumi preview --policy-pack` loads it
_spec.loader.exec_module(vp)


def _violations(check: Any, *args: Any) -> list[str]:
    found: list[str] = []
    check(*args[:1], found.append, *args[1:])
    return found


GOOD_VRRP = {"direction": "ingress", "protocol": "112", "remoteGroupId": "sg"}
VIP_PORT = (vp.PORT, {"name": "vip", "fixedIps": [{"ipAddress": "10.10.0.200"}]})
MEMBER_PORT = (vp.PORT, {"name": "m1", "portSecurityEnabled": True,
                         "allowedAddressPairs": [{"ipAddress": "10.10.0.200"}]})


@pytest.mark.parametrize("props,bad", [
    (GOOD_VRRP, False),
    ({**GOOD_VRRP, "protocol": "vrrp"}, False),
    ({"direction": "ingress", "protocol": "112", "remoteIpPrefix": "0.0.0.0/0"}, True),
    ({"direction": "ingress", "protocol": "vrrp", "remoteIpPrefix": "10.10.0.0/24"}, True),
    ({"direction": "ingress", "protocol": "tcp", "remoteIpPrefix": "10.0.0.0/8"}, False),
])
def test_vrrp_ingress_from_remote_group(props: dict[str, Any], bad: bool) -> None:
    assert bool(_violations(vp.vrrp_ingress_scoped, props)) is bad


@pytest.mark.parametrize("props,allowed,bad", [
    ({"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22,
      "remoteIpPrefix": "0.0.0.0/0"}, [], True),
    ({"direction": "ingress", "protocol": "tcp", "portRangeMin": 80, "portRangeMax": 80,
      "remoteIpPrefix": "::/0"}, [], True),
    ({"direction": "ingress", "protocol": "tcp", "portRangeMin": 80, "portRangeMax": 80,
      "remoteIpPrefix": "0.0.0.0/0"}, [80], False),
    ({"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22,
      "remoteIpPrefix": "0.0.0.0/0"}, [80], True),
    ({"direction": "ingress", "protocol": "tcp", "remoteIpPrefix": "0.0.0.0/0"}, [80], True),
    ({"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22,
      "remoteIpPrefix": "192.0.2.0/24"}, [], False),
])
def test_no_world_ssh_or_http(props: dict[str, Any], allowed: list[int], bad: bool) -> None:
    assert bool(_violations(vp.no_world_ssh_http, props, allowed)) is bad


@pytest.mark.parametrize("props,bad", [
    (MEMBER_PORT[1], False),
    ({**MEMBER_PORT[1], "portSecurityEnabled": False}, True),
    ({"allowedAddressPairs": [{"ipAddress": "10.10.0.200"}]}, True),
    (VIP_PORT[1], False),
])
def test_member_port_security(props: dict[str, Any], bad: bool) -> None:
    assert bool(_violations(vp.member_port_security, props)) is bad


@pytest.mark.parametrize("address,bad", [
    ("10.10.0.200", False), ("10.10.0.200/32", False), ("fd00::200/128", False),
    ("10.10.0.0/24", True), ("0.0.0.0/0", True),
])
def test_address_pairs_single_host(address: str, bad: bool) -> None:
    props = {"allowedAddressPairs": [{"ipAddress": address}]}
    assert bool(_violations(vp.address_pairs_are_single_hosts, props)) is bad


def test_address_pairs_must_name_a_vip_port() -> None:
    assert _violations(vp.address_pairs_match_a_vip_port, [VIP_PORT, MEMBER_PORT]) == []
    stray = (vp.PORT, {**MEMBER_PORT[1], "allowedAddressPairs": [{"ipAddress": "10.10.0.201"}]})
    assert _violations(vp.address_pairs_match_a_vip_port, [VIP_PORT, stray])


def test_members_anti_affine() -> None:
    group = (vp.SERVER_GROUP, {"name": "g", "policies": "anti-affinity"})
    member = (vp.INSTANCE, {"name": "n1", "metadata": {"vrrp-pair": "p"},
                            "schedulerHints": [{"group": "g-id"}]})
    assert _violations(vp.anti_affinity, [group, member], False) == []
    lonely = (vp.INSTANCE, {"name": "n1", "metadata": {"vrrp-pair": "p"}})
    assert _violations(vp.anti_affinity, [lonely], False)
    assert _violations(vp.anti_affinity, [lonely], True) == []
    affine = (vp.SERVER_GROUP, {"name": "g", "policies": "affinity"})
    assert _violations(vp.anti_affinity, [affine, member], False)


def test_pack_has_every_policy_mandatory() -> None:
    levels = {p.name: p.enforcement_level for p in vp.policies()}
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}, levels
    names = set(levels)
    assert names == {"vrrp-ingress-from-remote-group", "no-world-ssh-or-http",
                     "member-port-security", "address-pairs-single-host",
                     "address-pairs-match-vip-port", "members-anti-affine"}


def test_unknown_ids_in_preview_count_as_set() -> None:
    """In preview, IDs are unknown; pulumi-policy raises when they are read. The
    policies must still run (and pass) instead of reporting "can't run"."""
    from pulumi_policy.proxy import unknown_checking_proxy

    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-string sentinel
    rule = unknown_checking_proxy({**GOOD_VRRP, "remoteGroupId": unknown})
    assert _violations(vp.vrrp_ingress_scoped, rule) == []
    member = unknown_checking_proxy({"name": "n1", "metadata": {"vrrp-pair": "p"},
                                     "schedulerHints": [{"group": unknown}]})
    group = unknown_checking_proxy({"name": "g", "policies": "anti-affinity"})
    assert _violations(vp.anti_affinity, [(vp.SERVER_GROUP, group), (vp.INSTANCE, member)],
                       False) == []
    vip = unknown_checking_proxy({"name": "vip", "deviceId": unknown,
                                  "fixedIps": [{"ipAddress": "10.10.0.200"}]})
    port = unknown_checking_proxy(MEMBER_PORT[1])
    assert _violations(vp.address_pairs_match_a_vip_port, [(vp.PORT, vip), (vp.PORT, port)]) == []
    allocated = unknown_checking_proxy({"allowedAddressPairs": [{"ipAddress": unknown}],
                                        "portSecurityEnabled": True})
    assert _violations(vp.address_pairs_are_single_hosts, allocated) == []
