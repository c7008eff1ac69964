"""VrrpPair: a highly available virtual IP served by a keepalived group of VMs."""


import typing
from collections.abc import Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_command as command
import pulumi_openstack as openstack

from . import render
from .checks import declare_checks, parsed
from .network import declare_network, declare_security_group
from .settings import Settings, is_uuid, parse_settings
from .vrid import registry

TYPE_TOKEN = "vrrp-pair:index:VrrpPair"
# Six random bytes, base64url: eight characters, all that VRRPv2 PASS auth uses.
AUTH_SECRET_COMMAND = "head -c 6 /dev/urandom | base64 | tr '+/' '-_'"


class VrrpPairArgs(TypedDict, total=False):
    """Settings of a VrrpPair; every one is optional except image and flavor."""

    subnet_cidr: str
    """CIDR of the pair's subnet (the one created, or the existing subnet's)."""
    gateway_ip: str
    """Gateway address of the subnet; empty means the first host address."""
    existing_network_id: pulumi.Input[str]
    """Use this network instead of creating one (needs existingSubnetId); from code, another
    resource's output (e.g. your Network's id) works too."""
    existing_subnet_id: pulumi.Input[str]
    """Use this subnet instead of creating one (needs existingNetworkId); from code, another
    resource's output works too."""
    dns_nameservers: Sequence[str]
    """DNS servers of the created subnet."""
    external_network_id: pulumi.Input[str]
    """ID of the external network for the router gateway; empty looks it up by externalNetwork
    (an API call, also in preview); from code, another resource's output works too."""
    external_network: str
    """Name of the external network (the floating IP pool); with neither this nor
    externalNetworkId no router is created."""
    vip_address: str
    """The virtual IP; empty lets Neutron allocate it."""
    member_count: int
    """Number of keepalived members, 2 to 16 (and no more than the subnet has addresses for)."""
    member_addresses: Sequence[str]
    """Fixed IPs of the members in order; empty lets Neutron allocate them."""
    image: str
    """Image name or ID for the members (required)."""
    flavor: str
    """Flavor name or ID for the members (required)."""
    key_pair: str
    """Nova key pair name for SSH; empty for none."""
    server_group_policy: str
    """Server group policy, one of anti-affinity, soft-anti-affinity, none."""
    config_drive: bool
    """Deliver user-data on a config drive (for clouds without a metadata service)."""
    floating_ip: bool
    """Associate a floating IP from externalNetwork with the VIP port."""
    http_port: int
    """Port Apache listens on and the health check asks, 1 to 65535 except 22 (SSH's)."""
    http_allowed_cidrs: Sequence[str]
    """CIDRs allowed to reach HTTP; empty means the pair's own subnet only."""
    ssh_allowed_cidrs: Sequence[str]
    """CIDRs allowed to reach SSH; empty means none."""
    vrrp_version: int
    """VRRP version, 2 or 3 (3 allows sub-second adverts and IPv6; 2 adds a PASS secret)."""
    advert_interval: float
    """Seconds between VRRP adverts; VRRPv2 1 to 255 whole seconds, VRRPv3 0.01 to 40.95."""
    virtual_router_id: int
    """VRRP virtual_router_id 1 to 255; 0 derives one from the pair name and network."""
    priorities: Sequence[int]
    """Priority per member, 1 to 254, distinct; empty means 100, 90, 80, ..."""
    preemption: str
    """Whether a recovered higher-priority member takes the VIP back, one of never, always,
    delayed."""
    preempt_delay: int
    """Seconds a recovered member waits before taking the VIP back (preemption delayed), 1 to
    1000."""
    health_check_interval: int
    """Seconds between keepalived's own web checks (a backstop of the fast web check), 1 to 60."""
    health_check_fall: int
    """Failed web checks in a row (of either check) before a member goes to FAULT and gives up
    the VIP, 1 to 10."""
    health_check_rise: int
    """Passed web checks in a row before a member leaves FAULT, 1 to 10."""
    web_check_interval: float
    """Seconds between the fast web check's requests to Apache (a daemon whose verdict keepalived
    tracks; it also sees Apache's main process exit at once), 0.02 to 60; 0 turns it off."""
    web_check_timeout: float
    """Seconds the fast web check waits for Apache's answer before the request fails (how long a
    hung server keeps the VIP), 0.05 to 60."""
    realtime_vrrp: bool
    """Run keepalived's VRRP process at real-time priority with its memory locked, so adverts
    leave on time on a busy member; false leaves it at normal priority (keepalived's default,
    for hosts that refuse real-time scheduling)."""
    interface: str
    """Member NIC for VRRP; auto finds the NIC that holds the member's address at boot."""
    package_source: str
    """Where keepalived, Apache and curl come from, one of internet (apt at first boot), mirror
    (apt from aptMirror), preinstalled (already in the image)."""
    apt_mirror: str
    """http(s):// or file:// URL of a Debian-layout apt repository, used with packageSource
    mirror (no credentials, query or $)."""
    apt_mirror_key: str
    """ASCII-armoured PGP public key block that signs aptMirror (a private key is refused)."""
    smoke_check: bool
    """After the members exist, check from where Pulumi runs that the VIP (or floating IP)
    serves."""
    failover_drill: bool
    """Also disable the master's port, measure until another member answers, then re-enable it."""
    check_address: str
    """Address the checks probe; empty means the floating IP, else the VIP."""
    check_deadline: int
    """Seconds the smoke check waits for the VIP to serve, 10 to 3600."""
    gateway_check: bool
    """A member that cannot ping the subnet's gateway goes to FAULT, so an isolated master gives
    up the VIP and comes back as BACKUP (existing subnets need gatewayIp)."""


def setting_types() -> dict[str, Any]:
    """Each VrrpPairArgs field's plain type, `pulumi.Input[T]` read as T: what stack config
    and the generated references deal in (typing.get_type_hints cannot resolve pulumi.Input's
    forward reference)."""
    return {field: typing.get_args(annotation)[0]
            if typing.get_origin(annotation) is typing.Union else annotation
            for field, annotation in VrrpPairArgs.__annotations__.items()}


class VrrpPair(pulumi.ComponentResource):
    """A virtual IP on OpenStack held by keepalived (VRRP) on N member VMs that run Apache."""

    vip_address: pulumi.Output[str]
    """The virtual IP on the pair's subnet."""
    floating_ip_address: pulumi.Output[str | None]
    """The floating IP associated with the VIP port, if any."""
    member_names: pulumi.Output[list[str]]
    """The member servers' names (<name>-node-1, ...), in member order."""
    member_ips: pulumi.Output[list[str]]
    """Each member's fixed address on the subnet, in member order."""
    member_port_ids: pulumi.Output[list[str]]
    """Each member's Neutron port (the one the failover drill disables), in member order."""
    instance_ids: pulumi.Output[list[str]]
    """Each member's Nova server ID, in member order."""
    vrid: pulumi.Output[int]
    """The VRRP virtual_router_id the members use."""
    security_group_id: pulumi.Output[str]
    """The members' security group (VRRP from each other, HTTP and SSH as configured)."""
    vip_port_id: pulumi.Output[str]
    """The unbound Neutron port that holds the VIP (and the floating IP, if any)."""
    network_id: pulumi.Output[str]
    """The pair's network: the one created, or the existing one."""
    subnet_id: pulumi.Output[str]
    """The pair's subnet: the one created, or the existing one."""
    smoke_check: pulumi.Output[dict[str, Any] | None]
    """What the smoke check saw (served_by, seconds_to_first_answer), when it ran."""
    failover_downtime_seconds: pulumi.Output[float | None]
    """Client-observed downtime the failover drill measured, when it ran."""
    failover_new_master: pulumi.Output[str | None]
    """The member that took the VIP in the failover drill, when it ran."""

    def __init__(self, name: str, args: VrrpPairArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        # Validate everything before registering anything: a bad setting must
        # leave nothing half-made.
        settings = parse_settings(name, dict(args))
        vrid = registry.claim(_network_key(settings), name, settings.virtual_router_id)

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        net = declare_network(settings, self)
        group = declare_security_group(settings, self)
        after_router = [net.router_interface] if net.router_interface else []

        vip_port = openstack.networking.Port(
            f"{name}-vip",
            name=f"{name}-vip",
            description=f"VRRP virtual IP of {name}: held by keepalived, never bound to a VM",
            network_id=net.network_id,
            fixed_ips=[_fixed_ip(net.subnet_id, settings.vip_address)],
            security_group_ids=[group.id],
            port_security_enabled=True,
            admin_state_up=True,
            opts=child)
        vip_address = _address_of(vip_port, settings.vip_address)

        ports = [openstack.networking.Port(
            f"{member}-port",
            name=f"{member}-port",
            description=f"keepalived member {i + 1} of {name}",
            network_id=net.network_id,
            fixed_ips=[_fixed_ip(net.subnet_id, settings.member_address(i))],
            security_group_ids=[group.id],
            port_security_enabled=True,
            admin_state_up=True,
            allowed_address_pairs=[
                openstack.networking.PortAllowedAddressPairArgs(ip_address=vip_address)],
            opts=child) for i, member in enumerate(settings.member_names)]
        member_ips = [_address_of(port, settings.member_address(i))
                      for i, port in enumerate(ports)]

        scheduler_hints = None
        if settings.server_group_policy != "none":
            server_group = openstack.compute.ServerGroup(
                f"{name}-group", name=f"{name}-group",
                policies=settings.server_group_policy, opts=child)
            scheduler_hints = [openstack.compute.InstanceSchedulerHintArgs(group=server_group.id)]

        auth_pass = _auth_secret(settings, child) if settings.uses_auth else None
        user_data = [_user_data(settings, i, vip_address, member_ips, vrid, auth_pass)
                     for i in range(settings.member_count)]
        self._user_data = user_data

        instances = [openstack.compute.Instance(
            member,
            name=member,
            image_id=settings.image if is_uuid(settings.image) else None,
            image_name=None if is_uuid(settings.image) else settings.image,
            flavor_id=settings.flavor if is_uuid(settings.flavor) else None,
            flavor_name=None if is_uuid(settings.flavor) else settings.flavor,
            key_pair=settings.key_pair or None,
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
            user_data=user_data[i],
            scheduler_hints=scheduler_hints,
            config_drive=settings.config_drive or None,
            metadata={"vrrp-pair": name, "vrrp-priority": str(settings.priorities[i])},
            # A replacement boots on the same port, which Nova refuses while the old
            # server holds it: delete first. Membership changes (the peer lists in
            # user-data) therefore rebuild the members with an outage; see README.
            opts=pulumi.ResourceOptions(parent=self, depends_on=after_router,
                                        delete_before_replace=True))
            for i, (member, port) in enumerate(zip(settings.member_names, ports, strict=True))]

        floating_ip = None
        if settings.floating_ip:
            floating_ip = openstack.networking.FloatingIp(
                f"{name}-fip", pool=settings.external_network, port_id=vip_port.id,
                description=f"public address of VRRP pair {name}",
                # Neutron refuses a floating IP for a subnet with no router path yet.
                opts=pulumi.ResourceOptions(parent=self, depends_on=after_router))

        check_target = (pulumi.Output.from_input(str(settings.check_address))
                        if settings.check_address
                        else floating_ip.address if floating_ip else vip_address)
        smoke, drill = declare_checks(
            settings, check_target,
            members=list(zip(settings.member_names, [p.id for p in ports], strict=False)),
            triggers=[*[i.id for i in instances], *[p.id for p in ports]],
            parent=self,
            depends_on=[*instances, *([floating_ip] if floating_ip else [])])

        self.vip_address = pulumi.Output.from_input(vip_address)
        self.floating_ip_address = (floating_ip.address if floating_ip
                                    else pulumi.Output.from_input(None))
        self.member_names = pulumi.Output.from_input(list(settings.member_names))
        self.member_ips = pulumi.Output.all(*member_ips).apply(list)
        self.member_port_ids = pulumi.Output.all(*[p.id for p in ports]).apply(list)
        self.instance_ids = pulumi.Output.all(*[i.id for i in instances]).apply(list)
        self.vrid = pulumi.Output.from_input(vrid)
        self.security_group_id = group.id
        self.vip_port_id = vip_port.id
        self.network_id = pulumi.Output.from_input(net.network_id)
        self.subnet_id = pulumi.Output.from_input(net.subnet_id)
        self.smoke_check = parsed(smoke)
        drill_result = parsed(drill)
        self.failover_downtime_seconds = drill_result.apply(
            lambda r: r.get("downtime_seconds") if r else None)
        self.failover_new_master = drill_result.apply(lambda r: r.get("new_master") if r else None)
        self.settings = settings
        self.register_outputs({
            "vip_address": self.vip_address,
            "floating_ip_address": self.floating_ip_address,
            "member_names": self.member_names,
            "member_ips": self.member_ips,
            "member_port_ids": self.member_port_ids,
            "instance_ids": self.instance_ids,
            "vrid": self.vrid,
            "security_group_id": self.security_group_id,
            "vip_port_id": self.vip_port_id,
            "network_id": self.network_id,
            "subnet_id": self.subnet_id,
            "smoke_check": self.smoke_check,
            "failover_downtime_seconds": self.failover_downtime_seconds,
            "failover_new_master": self.failover_new_master,
        })


def _network_key(settings: Settings) -> str:
    """Which pairs may share an L2 segment, for choosing distinct VRIDs. A network known
    only as another resource's output is not known yet: all such pairs count as one
    segment (distinct VRIDs among them, and the same ones on every run)."""
    if settings.create_network:
        return f"own:{settings.name}"
    if isinstance(settings.existing_network_id, str):
        return f"existing:{settings.existing_network_id}"
    return "existing:(an output, known after deployment)"


def _fixed_ip(subnet_id: pulumi.Input[str],
              address: Any) -> openstack.networking.PortFixedIpArgs:
    return openstack.networking.PortFixedIpArgs(
        subnet_id=subnet_id, ip_address=None if address is None else str(address))


def _address_of(port: openstack.networking.Port, explicit: Any) -> pulumi.Output[str]:
    """The explicit address when configured (known at preview), else Neutron's."""
    if explicit is not None:
        return pulumi.Output.from_input(str(explicit))
    return port.all_fixed_ips.apply(lambda ips: ips[0])


def _auth_secret(settings: Settings, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A VRRPv2 PASS secret generated once at create time and kept, secret, in state.

    pulumi-command runs it once (never in preview); it stays stable afterwards,
    so members are not replaced on every `pulumi up`."""
    secret = command.local.Command(
        f"{settings.name}-vrrp-auth",
        create=AUTH_SECRET_COMMAND,
        logging=command.local.Logging.NONE,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["stdout"])))
    return pulumi.Output.secret(secret.stdout.apply(lambda out: out.strip()))


def _user_data(settings: Settings, index: int, vip: pulumi.Output[str],
               member_ips: list[pulumi.Output[str]], vrid: int,
               auth_pass: pulumi.Output[str] | None) -> pulumi.Output[str]:
    def build(values: list[Any]) -> str:
        vip_value, auth_value, *ips = values
        member = render.MemberView(
            name=settings.member_names[index],
            address=ips[index],
            peers=tuple(ip for j, ip in enumerate(ips) if j != index),
            priority=settings.priorities[index])
        return render.user_data(settings, member, vip_value, vrid, auth_value)

    rendered = pulumi.Output.all(vip, auth_pass, *member_ips).apply(build)
    # Always secret: it may hold the VRRP secret, and it is what a VM trusts.
    return pulumi.Output.secret(rendered)
