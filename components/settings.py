"""Validated, plain-Python settings of a VrrpPair.

Every value is checked here, before the component declares a single resource,
so a bad setting fails `pulumi preview` with a message that names the setting,
the bad value and what is allowed, and nothing is left half-made in the cloud.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pulumi

from .openpgp_armor import ArmorError, canonical_public_key

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

AFFINITY_POLICIES = ("anti-affinity", "soft-anti-affinity", "none")
PREEMPTION_POLICIES = ("never", "always", "delayed")
PACKAGE_SOURCES = ("internet", "mirror", "preinstalled")
VRRP_VERSIONS = (2, 3)
MIN_MEMBERS = 2
MAX_MEMBERS = 16
# keepalived's own limits: preempt_delay 0..1000 s; VRRPv3 advert field is
# 12 bits of centiseconds; VRRPv2 adverts are whole seconds 1..255.
MAX_PREEMPT_DELAY = 1000
V3_ADVERT_MIN, V3_ADVERT_MAX = 0.01, 40.95
V2_ADVERT_MIN, V2_ADVERT_MAX = 1, 255
# Every pattern is used with fullmatch: `$` would also match before a final newline.
INTERFACE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
UUID = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")
# Neutron IDs are UUIDs; the labs use short names such as lab-net.
RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
# Nova key pair names (API microversion 2.92 and later; older ones allow a subset).
KEY_PAIR_NAME = re.compile(r"[A-Za-z0-9 _.@-]{1,255}")
# RFC 3986 characters minus `$` (cloud-init expands $NAME in apt sources), `#` and `?`
# (apt has no use for a fragment or query, and `#` starts a sources.list comment).
URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/@!&'()*+,;=%\[\]]+")
HOST_NAME = re.compile(r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
MAX_TEXT = 255
MAX_URL = 2048
SSH_PORT = 22
# Neutron's default max_dns_nameservers.
MAX_DNS_NAMESERVERS = 5
# Nova's API takes user_data base64-encoded, at most 65535 characters (49149 bytes).
NOVA_USER_DATA_LIMIT = 65535
# The fast web check (vrrp-pair-webcheck): 0 turns it off.
WEB_CHECK_INTERVAL_MIN, WEB_CHECK_INTERVAL_MAX = 0.02, 60.0
WEB_CHECK_TIMEOUT_MIN, WEB_CHECK_TIMEOUT_MAX = 0.05, 60.0


class VrrpPairConfigError(ValueError):
    """A setting is invalid; the message names it, its value and what is allowed."""


def _fail(setting: str, value: object, allowed: str) -> VrrpPairConfigError:
    return VrrpPairConfigError(f"{setting}: {value!r} is not valid; {allowed}")


@dataclass(frozen=True)
class Settings:
    """Everything a VrrpPair needs, validated and normalised."""

    name: str
    subnet: IpNetwork
    gateway_ip: IpAddress | None
    create_network: bool
    existing_network_id: pulumi.Input[str]
    existing_subnet_id: pulumi.Input[str]
    dns_nameservers: tuple[IpAddress, ...]
    external_network_id: pulumi.Input[str]
    external_network: str
    vip_address: IpAddress | None
    member_count: int
    member_addresses: tuple[IpAddress, ...]
    image: str
    flavor: str
    key_pair: str
    server_group_policy: str
    config_drive: bool
    floating_ip: bool
    http_port: int
    http_allowed_cidrs: tuple[IpNetwork, ...]
    ssh_allowed_cidrs: tuple[IpNetwork, ...]
    vrrp_version: int
    advert_interval: float
    virtual_router_id: int | None
    priorities: tuple[int, ...]
    preemption: str
    preempt_delay: int
    health_check_interval: int
    health_check_fall: int
    health_check_rise: int
    web_check_interval: float
    web_check_timeout: float
    interface: str
    package_source: str
    apt_mirror: str
    apt_mirror_key: str
    smoke_check: bool
    failover_drill: bool
    check_address: IpAddress | None
    check_deadline: int
    gateway_check: bool
    realtime_vrrp: bool

    @property
    def ip_version(self) -> int:
        return self.subnet.version

    @property
    def uses_auth(self) -> bool:
        """VRRPv2 carries a shared secret; VRRPv3 has no authentication."""
        return self.vrrp_version == 2

    @property
    def member_names(self) -> tuple[str, ...]:
        return tuple(f"{self.name}-node-{i + 1}" for i in range(self.member_count))

    @property
    def effective_gateway(self) -> IpAddress:
        return self.gateway_ip or first_host(self.subnet)

    @property
    def gateway_check_address(self) -> str | None:
        """The gateway the isolation check pings: only one we know exists (our own
        subnet's, or an existing subnet's given as gatewayIp)."""
        if not self.gateway_check or not (self.create_network or self.gateway_ip):
            return None
        return str(self.effective_gateway)

    def member_address(self, index: int) -> IpAddress | None:
        """The configured address of member `index`, or None when Neutron allocates it."""
        return self.member_addresses[index] if self.member_addresses else None

    def reserved_addresses(self) -> list[IpAddress]:
        """Addresses this pair asks Neutron for explicitly."""
        explicit = list(self.member_addresses)
        if self.vip_address is not None:
            explicit.append(self.vip_address)
        return explicit


DEFAULTS: dict[str, Any] = {
    "subnet_cidr": "10.10.0.0/24",
    "gateway_ip": "",
    "existing_network_id": "",
    "existing_subnet_id": "",
    "dns_nameservers": [],
    "external_network_id": "",
    "external_network": "",
    "vip_address": "",
    "member_count": 2,
    "member_addresses": [],
    "image": "",
    "flavor": "",
    "key_pair": "",
    "server_group_policy": "anti-affinity",
    "config_drive": False,
    "floating_ip": False,
    "http_port": 80,
    "http_allowed_cidrs": [],
    "ssh_allowed_cidrs": [],
    "vrrp_version": 3,
    "advert_interval": 0.1,
    "virtual_router_id": 0,
    "priorities": [],
    "preemption": "never",
    "preempt_delay": 30,
    "health_check_interval": 1,
    "health_check_fall": 1,
    "health_check_rise": 2,
    "web_check_interval": 0.1,
    "web_check_timeout": 0.25,
    "interface": "auto",
    "package_source": "internet",
    "apt_mirror": "",
    "apt_mirror_key": "",
    "smoke_check": False,
    "failover_drill": False,
    "check_address": "",
    "check_deadline": 600,
    "gateway_check": True,
    "realtime_vrrp": True,
}

# Settings without a usable default: a stack must set them (their DEFAULTS entry is empty).
REQUIRED = frozenset({"image", "flavor"})

# The camelCase name a user sees in Pulumi config and in other languages.
def setting_name(python_name: str) -> str:
    head, *rest = python_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _printable(setting: str, value: object, allow_newlines: bool = False) -> str:
    """The string itself, or an error when it holds a control, format or separator
    character (anything `str.isprintable` refuses): no setting needs one, and in a
    YAML, shell or keepalived file each can end a line or a token early."""
    if not isinstance(value, str):
        raise _fail(setting, value, "expected a string")
    text = value.replace("\r\n", "\n").replace("\t", " ") if allow_newlines else value
    bad = next((c for c in text if not c.isprintable() and not (allow_newlines and c == "\n")),
               None)
    if bad is not None:
        raise _fail(setting, _shorten(value), f"it holds the control character {bad!r}; "
                    "only printable characters are allowed")
    return text


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _parse_network(setting: str, value: object) -> IpNetwork:
    allowed = "expected a network in CIDR form such as 10.10.0.0/24 (host bits zero)"
    text = _printable(setting, value) if isinstance(value, str) else str(value)
    if "%" in text:
        raise _fail(setting, value, allowed + ", without a zone (%...)")
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise _fail(setting, value, allowed) from None


def _parse_address(setting: str, value: object) -> IpAddress:
    allowed = "expected an IP address such as 10.10.0.200"
    text = _printable(setting, value)
    if "%" in text:
        raise _fail(setting, value, allowed + ", without a zone (%...)")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise _fail(setting, value, allowed) from None


def _int(setting: str, value: object, low: int, high: int) -> int:
    allowed = f"expected a whole number from {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, (int, str, float)):
        raise _fail(setting, value, allowed)
    if isinstance(value, float):
        if not value.is_integer():
            raise _fail(setting, value, allowed)
        value = int(value)
    if isinstance(value, str) and not re.fullmatch(r"[+-]?[0-9]{1,10}", value.strip()):
        raise _fail(setting, value, allowed)
    number = int(value)
    if not low <= number <= high:
        raise _fail(setting, value, allowed)
    return number


def _bool(setting: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _fail(setting, value, "expected true or false")


def _choice(setting: str, value: object, allowed: Sequence[object]) -> Any:
    if isinstance(value, bool) or value not in allowed:
        raise _fail(setting, value, "allowed values are " + ", ".join(map(str, allowed)))
    return value


def _str_list(setting: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _fail(setting, value, "expected a list")
    return [_printable(f"{setting}[{i}]", item) for i, item in enumerate(value)]


def _text(setting: str, value: object, pattern: re.Pattern[str] | None = None,
          allowed: str = "", max_length: int = MAX_TEXT) -> str:
    """Printable text without surrounding blanks; with `pattern`, matching it whole."""
    text = _printable(setting, value).strip()
    if len(text) > max_length:
        raise _fail(setting, _shorten(text), f"expected at most {max_length} characters")
    if text and pattern is not None and not pattern.fullmatch(text):
        raise _fail(setting, text, allowed)
    return text


def _resource_id(setting: str, value: object) -> str:
    return _text(setting, value, RESOURCE_ID, "expected an OpenStack ID (letters, digits, "
                 "dashes, dots and underscores, such as a UUID)")


def _resource_id_input(setting: str, value: object) -> pulumi.Input[str]:
    """An ID given as text is checked now; one given as another resource's output (a
    consumer's own network) is checked when its value is known, before any resource
    that uses it is created (it flows only through this check)."""
    if isinstance(value, pulumi.Output):
        return value.apply(lambda known: _resource_id(setting, known))
    return _resource_id(setting, value)


def is_known_empty(value: pulumi.Input[str]) -> bool:
    """True for a setting left empty; an output always counts as given."""
    return isinstance(value, str) and not value


def _finite_number(setting: str, value: object, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _fail(setting, value, allowed)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise _fail(setting, value, allowed) from None
    if not math.isfinite(number):
        raise _fail(setting, value, allowed)
    return number


def _advert_interval(version: int, value: object) -> float:
    setting = "advertInterval"
    if version == 2:
        allowed = (f"VRRPv2 adverts are whole seconds from {V2_ADVERT_MIN} to {V2_ADVERT_MAX}; "
                   "use vrrpVersion 3 for sub-second adverts")
        number = _finite_number(setting, value, allowed)
        if not number.is_integer() or not V2_ADVERT_MIN <= number <= V2_ADVERT_MAX:
            raise _fail(setting, value, allowed)
        return number
    allowed = (f"VRRPv3 adverts are from {V3_ADVERT_MIN} to {V3_ADVERT_MAX} seconds "
               "in steps of 0.01")
    number = _finite_number(setting, value, allowed)
    if not V3_ADVERT_MIN - 1e-9 <= number <= V3_ADVERT_MAX + 1e-9:
        raise _fail(setting, value, allowed)
    centis = round(number * 100)
    if abs(centis - number * 100) > 1e-6:
        raise _fail(setting, value, allowed)
    return centis / 100


def _seconds(setting: str, value: object, low: float, high: float,
             off: bool = False) -> float:
    allowed = (f"expected seconds from {low:g} to {high:g}" + (", or 0 to turn it off" if off
                                                                else ""))
    number = _finite_number(setting, value, allowed)
    if off and number == 0:
        return 0.0
    if not low <= number <= high:
        raise _fail(setting, value, allowed)
    return round(number, 3)  # milliseconds: what the unit file says is what was set


def default_priorities(count: int) -> list[int]:
    """100, 90, 80, ...: distinct, ordered by member, never below 1."""
    step = min(10, 99 // max(count - 1, 1))
    return [100 - i * step for i in range(count)]


def _check_host_address(setting: str, address: IpAddress, subnet: IpNetwork,
                        gateway: IpAddress) -> None:
    if address.version != subnet.version:
        raise _fail(setting, str(address),
                    f"mixing IPv{address.version} with the IPv{subnet.version} subnet "
                    f"{subnet} is not supported; use an address inside {subnet}")
    if address not in subnet:
        raise _fail(setting, str(address), f"expected an address inside subnetCidr {subnet}")
    if address == subnet.network_address:
        raise _fail(setting, str(address), f"it is the network address of {subnet}")
    if subnet.version == 4 and address == subnet.broadcast_address:
        raise _fail(setting, str(address), f"it is the broadcast address of {subnet}")
    if address == gateway:
        raise _fail(setting, str(address), f"it is the gateway address of {subnet}")


def _refuse_control_characters(values: Mapping[str, Any]) -> None:
    """No setting's text (a setting added later included) may hold a control, format or
    line-separator character; only the key block has lines."""
    for key, value in values.items():
        items = list(enumerate(value)) if isinstance(value, (list, tuple)) else [(None, value)]
        for index, item in items:
            if isinstance(item, str):
                where = setting_name(key) + ("" if index is None else f"[{index}]")
                _printable(where, item, allow_newlines=key == "apt_mirror_key")


def _cidr_list(setting: str, value: object, subnet: IpNetwork) -> tuple[IpNetwork, ...]:
    """Distinct networks of the subnet's family: another family can reach nothing
    (members and the VIP have one address, from the subnet), and a repeated CIDR
    would be a second security group rule Neutron refuses (and a name clash)."""
    cidrs = tuple(_parse_network(f"{setting}[{i}]", item)
                  for i, item in enumerate(_str_list(setting, value)))
    for i, cidr in enumerate(cidrs):
        if cidr.version != subnet.version:
            raise _fail(f"{setting}[{i}]", str(cidr),
                        f"an IPv{cidr.version} CIDR cannot reach the pair on the "
                        f"IPv{subnet.version} subnet {subnet}; use IPv{subnet.version} CIDRs "
                        f"(such as {'::/0' if subnet.version == 6 else '0.0.0.0/0'})")
        if cidr in cidrs[:i]:
            raise _fail(f"{setting}[{i}]", str(cidr), f"{cidr} is already "
                        f"{setting}[{cidrs.index(cidr)}]; list each CIDR once")
    return cidrs


def _dns_nameservers(value: object, subnet: IpNetwork) -> tuple[IpAddress, ...]:
    """What Neutron accepts for a subnet: at most 5, distinct, of the subnet's family."""
    setting = "dnsNameservers"
    servers = tuple(_parse_address(f"{setting}[{i}]", item)
                    for i, item in enumerate(_str_list(setting, value)))
    if len(servers) > MAX_DNS_NAMESERVERS:
        raise _fail(setting, [str(s) for s in servers],
                    f"Neutron takes at most {MAX_DNS_NAMESERVERS} DNS servers per subnet")
    for i, server in enumerate(servers):
        if server.version != subnet.version:
            raise _fail(f"{setting}[{i}]", str(server), f"Neutron refuses an IPv{server.version} "
                        f"DNS server on the IPv{subnet.version} subnet {subnet}")
        if server in servers[:i]:
            raise _fail(f"{setting}[{i}]", str(server), "list each DNS server once")
    return servers


def _apt_mirror(value: object) -> str:
    """A canonical http(s):// or file:// URL: one sources.list word, nothing to expand."""
    setting = "aptMirror"
    allowed = ("packageSource mirror needs an http(s):// or file:// URL of a Debian-layout "
               "apt repository, without a query, fragment, credentials or `$` "
               "(percent-encode other characters)")
    text = _text(setting, value, max_length=MAX_URL)
    if not URL_CHARACTERS.fullmatch(text) or re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise _fail(setting, text, allowed)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _fail(setting, text, allowed) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "file") or parts.query or parts.fragment or \
            "?" in text or "#" in text or parts.username is not None:
        raise _fail(setting, text, allowed)
    if "[" in parts.path or "]" in parts.path:
        raise _fail(setting, text, allowed)
    if scheme == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise _fail(setting, text, "a file:// URL needs an absolute path: file:///srv/debian")
        return SplitResult(scheme, "", parts.path, "", "").geturl()
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        try:
            literal = ipaddress.IPv6Address(host)
        except ValueError:
            raise _fail(setting, text, allowed + "; the host is not an IPv6 address") from None
        if literal.scope_id is not None:
            raise _fail(setting, text, allowed + "; the host has a zone (%...)")
        netloc = f"[{literal}]"
    elif HOST_NAME.fullmatch(host):
        netloc = host.lower()
    else:
        raise _fail(setting, text, allowed + "; the host is not a DNS name or IP address")
    if port is not None:
        if port == 0:
            raise _fail(setting, text, allowed + "; port 0")
        netloc += f":{port}"
    return SplitResult(scheme, netloc, parts.path or "/", "", "").geturl()


def _apt_mirror_key(value: object) -> str:
    setting = "aptMirrorKey"
    text = _printable(setting, value, allow_newlines=True).strip()
    if not text:
        return ""
    try:
        return canonical_public_key(text)
    except ArmorError as error:
        raise _fail(setting, _shorten(text, 40), "expected one ASCII-armoured PGP public key "
                    f"block (-----BEGIN PGP PUBLIC KEY BLOCK-----); {error}") from None


def usable_addresses(subnet: IpNetwork) -> int:
    """Addresses Neutron can hand out in `subnet` with a gateway: not the network
    address (IPv6: the subnet-router anycast) or the IPv4 broadcast."""
    return subnet.num_addresses - (2 if subnet.version == 4 else 1) - 1


def _check_capacity(subnet: IpNetwork, member_count: int, create_network: bool) -> None:
    """Every member and the VIP need an address; a subnet we create also gets
    Neutron's DHCP (or OVN metadata) port."""
    needed = member_count + 1 + (1 if create_network else 0)
    available = usable_addresses(subnet)
    if needed > available:
        parts = f"{member_count} members, the VIP" + (
            " and Neutron's DHCP port" if create_network else "")
        raise _fail("memberCount", member_count,
                    f"{needed} addresses are needed ({parts}) but subnetCidr {subnet} has "
                    f"{available} after the network, broadcast and gateway addresses; use a "
                    "larger subnet or fewer members")


def parse_settings(name: str, raw: Mapping[str, Any]) -> Settings:
    """Validate raw arguments (snake_case keys) into Settings or raise VrrpPairConfigError.

    Every value comes out typed and canonical (addresses without zones, names
    matched whole, URLs and keys re-written from what they parse to), so only
    what this module made reaches a template or a resource input."""
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise _fail("arguments", unknown, "known settings are " + ", ".join(sorted(DEFAULTS)))
    values = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    _refuse_control_characters(values)

    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise _fail("name", name, "expected 1-40 lower-case letters, digits and dashes, "
                    "starting and ending with a letter or digit")

    existing_network_id = _resource_id_input("existingNetworkId", values["existing_network_id"])
    existing_subnet_id = _resource_id_input("existingSubnetId", values["existing_subnet_id"])
    if is_known_empty(existing_network_id) != is_known_empty(existing_subnet_id):
        raise _fail("existingNetworkId" if is_known_empty(existing_network_id)
                    else "existingSubnetId", "",
                    "existingNetworkId and existingSubnetId must be given together "
                    "(or neither, to create a network)")
    create_network = is_known_empty(existing_network_id)

    subnet = _parse_network("subnetCidr", values["subnet_cidr"])
    if subnet.version == 4 and subnet.prefixlen > 29:
        raise _fail("subnetCidr", str(subnet), "expected an IPv4 prefix of /29 or larger")
    if subnet.version == 6 and subnet.prefixlen > 120:
        raise _fail("subnetCidr", str(subnet), "expected an IPv6 prefix of /120 or larger")

    gateway_ip: IpAddress | None = None
    if _text("gatewayIp", values["gateway_ip"]):
        gateway_ip = _parse_address("gatewayIp", values["gateway_ip"])
        if gateway_ip not in subnet or gateway_ip == subnet.network_address or (
                subnet.version == 4 and gateway_ip == subnet.broadcast_address):
            raise _fail("gatewayIp", str(gateway_ip), f"expected a host address inside {subnet}")
    gateway = gateway_ip or first_host(subnet)

    member_count = _int("memberCount", values["member_count"], MIN_MEMBERS, MAX_MEMBERS)
    _check_capacity(subnet, member_count, create_network)

    member_addresses = tuple(_parse_address(f"memberAddresses[{i}]", item) for i, item in
                             enumerate(_str_list("memberAddresses", values["member_addresses"])))
    if member_addresses and len(member_addresses) != member_count:
        raise _fail("memberAddresses", [str(a) for a in member_addresses],
                    f"expected exactly memberCount={member_count} addresses, or none to let "
                    "Neutron allocate them")
    for i, address in enumerate(member_addresses):
        _check_host_address(f"memberAddresses[{i}]", address, subnet, gateway)
    if len(set(member_addresses)) != len(member_addresses):
        duplicates = sorted({str(a) for a in member_addresses if member_addresses.count(a) > 1})
        raise _fail("memberAddresses", [str(a) for a in member_addresses],
                    f"every member needs its own address; duplicated: {', '.join(duplicates)}")

    vip_address: IpAddress | None = None
    if _text("vipAddress", values["vip_address"]):
        vip_address = _parse_address("vipAddress", values["vip_address"])
        _check_host_address("vipAddress", vip_address, subnet, gateway)
        if vip_address in member_addresses:
            raise _fail("vipAddress", str(vip_address),
                        "it collides with a member address; the VIP must be an address of its own")

    image = _text("image", values["image"])
    if not image:
        raise _fail("image", values["image"], "expected an image name or ID (not empty)")
    flavor = _text("flavor", values["flavor"])
    if not flavor:
        raise _fail("flavor", values["flavor"], "expected a flavor name or ID (not empty)")
    key_pair = _text("keyPair", values["key_pair"], KEY_PAIR_NAME,
                     "expected a Nova key pair name: letters, digits, spaces and . _ - @")

    server_group_policy = _choice("serverGroupPolicy", values["server_group_policy"],
                                  AFFINITY_POLICIES)
    floating_ip = _bool("floatingIp", values["floating_ip"])
    external_network_id = _resource_id_input("externalNetworkId", values["external_network_id"])
    external_network = _text("externalNetwork", values["external_network"])
    if floating_ip and not external_network:
        raise _fail("externalNetwork", external_network,
                    "floatingIp needs the name of the external network to take it from")
    if floating_ip and subnet.version == 6:
        raise _fail("floatingIp", True, "Neutron floating IPs are IPv4 only; set floatingIp "
                    "false for an IPv6 subnet")
    if (floating_ip and create_network and is_known_empty(external_network_id)
            and not external_network):
        raise _fail("externalNetworkId", "", "floatingIp needs a router to the external network")

    http_port = _int("httpPort", values["http_port"], 1, 65535)
    if http_port == SSH_PORT:
        raise _fail("httpPort", http_port, f"{SSH_PORT} is SSH's port: sshd listens on it on "
                    "the members and sshAllowedCidrs opens it; pick another port from 1 to 65535")
    # Empty means "only clients on the pair's own subnet".
    http_allowed_cidrs = (_cidr_list("httpAllowedCidrs", values["http_allowed_cidrs"], subnet)
                          or (subnet,))
    ssh_allowed_cidrs = _cidr_list("sshAllowedCidrs", values["ssh_allowed_cidrs"], subnet)

    vrrp_version = _choice("vrrpVersion", _int("vrrpVersion", values["vrrp_version"], 2, 3),
                           VRRP_VERSIONS)
    if vrrp_version == 2 and subnet.version == 6:
        raise _fail("vrrpVersion", 2, "VRRPv2 is IPv4 only; an IPv6 subnet needs vrrpVersion 3")
    advert_interval = _advert_interval(vrrp_version, values["advert_interval"])

    vrid_raw = values["virtual_router_id"]
    virtual_router_id = (None if vrid_raw in (0, "0", "") and not isinstance(vrid_raw, bool)
                         else _int("virtualRouterId", vrid_raw, 1, 255))

    priorities_raw = values["priorities"]
    if isinstance(priorities_raw, (str, int)) or not isinstance(priorities_raw, (list, tuple)):
        raise _fail("priorities", priorities_raw, "expected a list of whole numbers")
    priorities = tuple(_int(f"priorities[{i}]", p, 1, 254) for i, p in enumerate(priorities_raw))
    if priorities and len(priorities) != member_count:
        raise _fail("priorities", list(priorities),
                    f"expected exactly memberCount={member_count} priorities, or none for "
                    f"{default_priorities(member_count)}")
    if len(set(priorities)) != len(priorities):
        raise _fail("priorities", list(priorities), "every member needs a distinct priority")
    priorities = priorities or tuple(default_priorities(member_count))

    preemption = _choice("preemption", values["preemption"], PREEMPTION_POLICIES)
    preempt_delay = _int("preemptDelay", values["preempt_delay"], 1, MAX_PREEMPT_DELAY)
    health_check_interval = _int("healthCheckInterval", values["health_check_interval"], 1, 60)
    health_check_fall = _int("healthCheckFall", values["health_check_fall"], 1, 10)
    health_check_rise = _int("healthCheckRise", values["health_check_rise"], 1, 10)
    web_check_interval = _seconds("webCheckInterval", values["web_check_interval"],
                                  WEB_CHECK_INTERVAL_MIN, WEB_CHECK_INTERVAL_MAX, off=True)
    web_check_timeout = _seconds("webCheckTimeout", values["web_check_timeout"],
                                 WEB_CHECK_TIMEOUT_MIN, WEB_CHECK_TIMEOUT_MAX)

    interface = _text("interface", values["interface"])
    if interface != "auto" and (not INTERFACE_NAME.fullmatch(interface)
                                or interface in (".", "..")):
        raise _fail("interface", interface, "expected auto (find the NIC holding the member's "
                    "address) or an interface name of at most 15 letters, digits and . _ - "
                    "such as eth0")

    package_source = _choice("packageSource", values["package_source"], PACKAGE_SOURCES)
    if package_source == "mirror":
        apt_mirror = _apt_mirror(values["apt_mirror"])
    elif _text("aptMirror", values["apt_mirror"], max_length=MAX_URL):
        raise _fail("aptMirror", values["apt_mirror"], "is only used with packageSource mirror")
    else:
        apt_mirror = ""
    apt_mirror_key = _apt_mirror_key(values["apt_mirror_key"])

    smoke_check = _bool("smokeCheck", values["smoke_check"])
    failover_drill = _bool("failoverDrill", values["failover_drill"])
    check_address = (_parse_address("checkAddress", values["check_address"].strip())
                     if _text("checkAddress", values["check_address"]) else None)
    check_deadline = _int("checkDeadline", values["check_deadline"], 10, 3600)

    settings = Settings(
        name=name, subnet=subnet, gateway_ip=gateway_ip, create_network=create_network,
        existing_network_id=existing_network_id, existing_subnet_id=existing_subnet_id,
        dns_nameservers=_dns_nameservers(values["dns_nameservers"], subnet),
        external_network_id=external_network_id, external_network=external_network,
        vip_address=vip_address, member_count=member_count, member_addresses=member_addresses,
        image=image, flavor=flavor, key_pair=key_pair,
        server_group_policy=server_group_policy,
        config_drive=_bool("configDrive", values["config_drive"]), floating_ip=floating_ip,
        http_port=http_port, http_allowed_cidrs=http_allowed_cidrs,
        ssh_allowed_cidrs=ssh_allowed_cidrs, vrrp_version=vrrp_version,
        advert_interval=advert_interval, virtual_router_id=virtual_router_id,
        priorities=priorities, preemption=preemption, preempt_delay=preempt_delay,
        health_check_interval=health_check_interval, health_check_fall=health_check_fall,
        health_check_rise=health_check_rise, web_check_interval=web_check_interval,
        web_check_timeout=web_check_timeout, interface=interface,
        package_source=package_source, apt_mirror=apt_mirror, apt_mirror_key=apt_mirror_key,
        smoke_check=smoke_check, failover_drill=failover_drill, check_address=check_address,
        check_deadline=check_deadline,
        gateway_check=_bool("gatewayCheck", values["gateway_check"]),
        realtime_vrrp=_bool("realtimeVrrp", values["realtime_vrrp"]),
    )
    _check_user_data_size(settings)
    return settings


def nova_user_data_length(user_data: str) -> int:
    """What Nova measures: the length of the base64 text the API receives."""
    return len(base64.b64encode(user_data.encode()))


def _check_user_data_size(settings: Settings) -> None:
    """Each member's user-data, rendered with the longest values the cloud could
    still fill in (addresses, VRID, secret), must fit Nova's limit."""
    from .render import worst_case_user_data  # render imports this module

    for member, user_data in worst_case_user_data(settings).items():
        length = nova_user_data_length(user_data)
        if length > NOVA_USER_DATA_LIMIT:
            biggest = ("aptMirrorKey", len(settings.apt_mirror_key)) if settings.apt_mirror_key \
                else ("memberCount", settings.member_count)
            raise _fail(biggest[0], f"{biggest[1]} bytes" if biggest[0] == "aptMirrorKey"
                        else biggest[1],
                        f"{member}'s user-data would be {len(user_data.encode())} bytes, "
                        f"{length} in base64, over Nova's limit of {NOVA_USER_DATA_LIMIT} "
                        "base64 characters (49149 bytes); use a smaller key (export only the "
                        "signing key, without other signatures: gpg --export --export-options "
                        "export-minimal)")


def first_host(subnet: IpNetwork) -> IpAddress:
    """Neutron's default gateway: the first address after the network address."""
    return ipaddress.ip_address(int(subnet.network_address) + 1) if subnet.version == 4 else \
        ipaddress.IPv6Address(int(subnet.network_address) + 1)


def is_uuid(value: str) -> bool:
    """OpenStack IDs are UUIDs; anything else is looked up by name."""
    return bool(UUID.match(value))
