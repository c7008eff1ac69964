"""Declares the L2/L3 side of a pair: network, subnet, router and security group."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from .settings import IpAddress, IpNetwork, Settings, is_known_empty


@dataclass
class NetworkRefs:
    """Where the pair's ports live, and what must exist before traffic can leave."""

    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    router_interface: openstack.networking.RouterInterface | None


def allocation_pools(subnet: IpNetwork, gateway: IpAddress,
                     reserved: list[IpAddress]) -> list[tuple[str, str]]:
    """Neutron's address pools minus the gateway and the addresses we ask for
    explicitly, so a DHCP or other port can never take the VIP first."""
    def text(number: int) -> str:
        return str(ipaddress.ip_address(number) if subnet.version == 4
                   else ipaddress.IPv6Address(number))

    first = int(subnet.network_address) + 1
    last = int(subnet.broadcast_address) - (1 if subnet.version == 4 else 0)
    holes = sorted({int(gateway), *(int(address) for address in reserved)})
    pools: list[tuple[str, str]] = []
    start = first
    for hole in holes:
        if hole > start:
            pools.append((text(start), text(hole - 1)))
        start = max(start, hole + 1)
    if start <= last:
        pools.append((text(start), text(last)))
    return pools


def external_network_id(settings: Settings,
                        opts: pulumi.InvokeOptions) -> pulumi.Input[str]:
    """The ID from config, or a look-up by name (which calls the API, also in preview)."""
    if not is_known_empty(settings.external_network_id):
        return settings.external_network_id
    return openstack.networking.get_network_output(
        name=settings.external_network, external=True, opts=opts).id


def declare_network(settings: Settings, parent: pulumi.Resource) -> NetworkRefs:
    """Use the given network, or create network, subnet and (optionally) router."""
    if not settings.create_network:
        return NetworkRefs(settings.existing_network_id, settings.existing_subnet_id, None)

    name = settings.name
    child = pulumi.ResourceOptions(parent=parent)
    network = openstack.networking.Network(
        f"{name}-net", name=f"{name}-net", admin_state_up=True, port_security_enabled=True,
        opts=child)
    pools = allocation_pools(settings.subnet, settings.effective_gateway,
                             settings.reserved_addresses()) if settings.reserved_addresses() else []
    subnet = openstack.networking.Subnet(
        f"{name}-subnet",
        name=f"{name}-subnet",
        network_id=network.id,
        cidr=str(settings.subnet),
        ip_version=settings.ip_version,
        gateway_ip=str(settings.effective_gateway),
        allocation_pools=[{"start": start, "end": end} for start, end in pools] or None,
        dns_nameservers=[str(server) for server in settings.dns_nameservers] or None,
        ipv6_address_mode="dhcpv6-stateful" if settings.ip_version == 6 else None,
        ipv6_ra_mode="dhcpv6-stateful" if settings.ip_version == 6 else None,
        opts=child)

    router_interface = None
    if not is_known_empty(settings.external_network_id) or settings.external_network:
        router = openstack.networking.Router(
            f"{name}-router", name=f"{name}-router", admin_state_up=True,
            external_network_id=external_network_id(settings, pulumi.InvokeOptions(parent=parent)),
            opts=child)
        router_interface = openstack.networking.RouterInterface(
            f"{name}-router-if", router_id=router.id, subnet_id=subnet.id, opts=child)
    return NetworkRefs(network.id, subnet.id, router_interface)


def _ethertype(cidr: IpNetwork | IpAddress) -> str:
    return "IPv6" if cidr.version == 6 else "IPv4"


def _rule_name(prefix: str, cidr: IpNetwork) -> str:
    return f"{prefix}-{cidr.network_address}-{cidr.prefixlen}".replace(":", "_")


def declare_security_group(settings: Settings,
                           parent: pulumi.Resource) -> openstack.networking.SecGroup:
    """Least privilege for members: VRRP only from the group itself, HTTP and
    SSH only from the CIDRs the settings name (SSH from none by default)."""
    name = settings.name
    child = pulumi.ResourceOptions(parent=parent)
    group = openstack.networking.SecGroup(
        f"{name}-members", name=f"{name}-members",
        description=f"VRRP pair {name}: keepalived members", opts=child)
    # Neutron stores `vrrp` and `112` as the same rule: declare it once, by number.
    openstack.networking.SecGroupRule(
        f"{name}-vrrp-in", direction="ingress", ethertype=_ethertype(settings.subnet),
        protocol="112", remote_group_id=group.id, security_group_id=group.id,
        description="VRRP adverts between members of this pair only", opts=child)
    for label, port, cidrs in (("http", settings.http_port, settings.http_allowed_cidrs),
                               ("ssh", 22, settings.ssh_allowed_cidrs)):
        for cidr in cidrs:
            openstack.networking.SecGroupRule(
                _rule_name(f"{name}-{label}-in", cidr), direction="ingress",
                ethertype=_ethertype(cidr), protocol="tcp", port_range_min=port,
                port_range_max=port, remote_ip_prefix=str(cidr), security_group_id=group.id,
                description=f"{label.upper()} from {cidr} ({label}AllowedCidrs)", opts=child)
    return group

