"""CrossGuard policies for VRRP pairs on OpenStack (used by __main__.py and the tests).

Each check is a plain function over camelCase props, so it is unit-tested
without the engine and run for real by `pulumi preview --policy-pack policy`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

RULE = "openstack:networking/secGroupRule:SecGroupRule"
PORT = "openstack:networking/port:Port"
INSTANCE = "openstack:compute/instance:Instance"
SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
VRRP_PROTOCOLS = ("112", "vrrp")
WORLD = ("0.0.0.0/0", "::/0")
ANTI_AFFINITY = ("anti-affinity", "soft-anti-affinity")
PAIR_METADATA = "vrrp-pair"

Report = Callable[[str], None]
# A value that exists but is not known until the update runs (an ID, during preview).
UNKNOWN = object()


def _value(props: Mapping[str, Any], key: str) -> Any:
    """props[key], None when absent, UNKNOWN when set but unknown in preview.

    pulumi-policy raises on *reading* an unknown value (even through .get or `in`),
    which would turn a policy into "can't run"; iterating the keys is safe."""
    if key not in list(props):
        return None
    try:
        return props[key]
    except UnknownValueError:
        return UNKNOWN


def _items(props: Mapping[str, Any], key: str) -> list[Any]:
    """The elements of a list property; unknown elements come back as UNKNOWN."""
    values = _value(props, key)
    if values is None or values is UNKNOWN:
        return []
    items = []
    for index in range(len(values)):
        try:
            items.append(values[index])
        except UnknownValueError:
            items.append(UNKNOWN)
    return items


def vrrp_ingress_scoped(props: Mapping[str, Any], report: Report) -> None:
    if props.get("direction") != "ingress" or props.get("protocol") not in VRRP_PROTOCOLS:
        return
    if not _value(props, "remoteGroupId") or _value(props, "remoteIpPrefix"):
        report("VRRP (IP protocol 112) ingress must come from a remote security group (the "
               "members' own), not from an address prefix: anyone else could take the VIP.")


def no_world_ssh_http(props: Mapping[str, Any], report: Report,
                      allowed_world_ports: Sequence[int]) -> None:
    prefix = _value(props, "remoteIpPrefix")
    if props.get("direction") != "ingress" or prefix not in WORLD:
        return
    if props.get("protocol") not in ("tcp", "6"):
        return
    low, high = props.get("portRangeMin"), props.get("portRangeMax")
    if low is None or high is None:
        report(f"all TCP ports open to {prefix}")
        return
    for port in range(int(low), int(high) + 1):
        if port not in allowed_world_ports:
            name = "SSH" if port == 22 else f"TCP port {port}"
            report(f"{name} is open to {prefix}; allow it explicitly with "
                   "the policy config allowedWorldPorts, or narrow the CIDR.")
            return


def member_port_security(props: Mapping[str, Any], report: Report) -> None:
    if _items(props, "allowedAddressPairs") and _value(props, "portSecurityEnabled") is not True:
        report("a port with allowed-address-pairs must have port security enabled "
               "(Neutron refuses the pairs otherwise, and the security group would not apply).")


def _is_single_host(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return network.num_addresses == 1


def address_pairs_are_single_hosts(props: Mapping[str, Any], report: Report) -> None:
    for pair in _items(props, "allowedAddressPairs"):
        address = UNKNOWN if pair is UNKNOWN else _value(pair, "ipAddress")
        if isinstance(address, str) and not _is_single_host(address):
            report(f"allowed-address-pair {address} is wider than the VIP: it must be exactly "
                   "the VIP (/32 or /128), or the member may spoof the whole range.")


def address_pairs_match_a_vip_port(resources: Sequence[tuple[str, Mapping[str, Any]]],
                                   report: Report) -> None:
    """Every allowed pair names the fixed IP of a VIP port (a port with no pairs) in the stack."""
    vip_addresses: set[str] = set()
    for typ, props in resources:
        if typ == PORT and not _items(props, "allowedAddressPairs"):
            for fixed in _items(props, "fixedIps"):
                address = UNKNOWN if fixed is UNKNOWN else _value(fixed, "ipAddress")
                if isinstance(address, str):
                    vip_addresses.add(str(ipaddress.ip_address(address)))
    for typ, props in resources:
        if typ != PORT:
            continue
        for pair in _items(props, "allowedAddressPairs"):
            address = UNKNOWN if pair is UNKNOWN else _value(pair, "ipAddress")
            if not isinstance(address, str) or not _is_single_host(address):
                continue  # unknown in preview, or reported by the single-host policy
            host = str(ipaddress.ip_network(address).network_address)
            if host not in vip_addresses:
                report(f"allowed-address-pair {address} on port {props.get('name')} is not the "
                       "fixed IP of any VIP port in this stack")


def anti_affinity(resources: Sequence[tuple[str, Mapping[str, Any]]], report: Report,
                  allow_without: bool) -> None:
    if allow_without:
        return
    for typ, props in resources:
        if typ == SERVER_GROUP and _value(props, "policies") not in ANTI_AFFINITY:
            report(f"server group {props.get('name')} has policy {props.get('policies')!r}; "
                   f"a VRRP pair needs one of {', '.join(ANTI_AFFINITY)}")
        metadata = _value(props, "metadata")
        if typ == INSTANCE and isinstance(metadata, Mapping) and PAIR_METADATA in list(metadata):
            hints = _items(props, "schedulerHints")
            if not any(hint is UNKNOWN or "group" in list(hint) for hint in hints):
                report(f"VRRP member {props.get('name')} has no server group: both members may "
                       "land on one hypervisor. Set allowWithoutAntiAffinity to accept that.")


Check = Callable[[Mapping[str, Any], Report], None]


def _resource_policy(name: str, description: str,
                     check_for: Callable[[ResourceValidationArgs], Check],
                     schema: PolicyConfigSchema | None = None) -> ResourceValidationPolicy:
    """A mandatory resource policy whose check may depend on the policy config."""
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        check_for(args)(args.props, lambda message: report_violation(message, None))

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=EnforcementLevel.MANDATORY,
                                    config_schema=schema)


def _stack_resources(args: StackValidationArgs) -> list[tuple[str, Mapping[str, Any]]]:
    return [(r.resource_type, r.props) for r in args.resources]


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    def world(args: ResourceValidationArgs) -> Check:
        ports = [int(p) for p in (args.get_config() or {}).get("allowedWorldPorts", [])]
        return lambda props, report: no_world_ssh_http(props, report, ports)

    def stack_pairs(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        address_pairs_match_a_vip_port(_stack_resources(args),
                                       lambda message: report_violation(message, None))

    def stack_affinity(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        allow = bool((args.get_config() or {}).get("allowWithoutAntiAffinity", False))
        anti_affinity(_stack_resources(args), lambda m: report_violation(m, None), allow)

    return [
        _resource_policy("vrrp-ingress-from-remote-group",
                         "VRRP ingress is allowed only from a remote security group.",
                         lambda _: vrrp_ingress_scoped),
        _resource_policy("no-world-ssh-or-http",
                         "No TCP port (SSH, HTTP) is open to 0.0.0.0/0 or ::/0 unless listed "
                         "in allowedWorldPorts.", world,
                         schema=PolicyConfigSchema(properties={"allowedWorldPorts": {
                             "type": "array", "items": {"type": "integer"}, "default": []}})),
        _resource_policy("member-port-security",
                         "Ports with allowed-address-pairs have port security on.",
                         lambda _: member_port_security),
        _resource_policy("address-pairs-single-host",
                         "Allowed-address-pairs are single hosts (the VIP /32).",
                         lambda _: address_pairs_are_single_hosts),
        StackValidationPolicy(
            name="address-pairs-match-vip-port",
            description="Every allowed-address-pair is the fixed IP of a VIP port in the stack.",
            validate=stack_pairs, enforcement_level=EnforcementLevel.MANDATORY),
        StackValidationPolicy(
            name="members-anti-affine",
            description="VRRP members are in an anti-affinity server group unless "
                        "allowWithoutAntiAffinity is set.",
            validate=stack_affinity, enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=PolicyConfigSchema(properties={"allowWithoutAntiAffinity": {
                "type": "boolean", "default": False}})),
    ]
