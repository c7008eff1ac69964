"""Renders VrrpPair members through the component under Pulumi mocks and takes
each member's files out of its cloud-init user-data (the bytes a VM receives)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

# Paths the component writes (kept literal on purpose: if render.py moves a
# file, the lab must notice instead of silently following).
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"
CHECK_SCRIPT = "/etc/keepalived/check-web.sh"
GATEWAY_SCRIPT = "/etc/keepalived/check-gateway.sh"
INTERFACE_FILE = "/etc/keepalived/vrrp-interface.conf"
INTERFACE_SCRIPT = "/usr/local/sbin/vrrp-pair-interface"
INDEX_HTML = "/var/www/html/index.html"
APACHE_PORTS = "/etc/apache2/ports.conf"
APACHE_SITE = "/etc/apache2/sites-available/000-default.conf"
WEB_CHECK_SCRIPT = "/usr/local/sbin/vrrp-pair-webcheck"
WEB_CHECK_UNIT = "/etc/systemd/system/vrrp-pair-webcheck.service"
WEB_CHECK_STATE = "/run/vrrp-pair/web-health"

# The lab's defaults: the recipe's addressing without the cloud parts.
BASE_ARGS: dict[str, Any] = {
    "existing_network_id": "lab-net",
    "existing_subnet_id": "lab-subnet",
    "subnet_cidr": "10.10.0.0/24",
    "gateway_ip": "10.10.0.1",  # answered by the client namespace, like a router port
    "floating_ip": False,
    "image": "debian-12",
    "flavor": "m1.small",
}


@dataclass(frozen=True)
class PairSpec:
    """One VrrpPair to render: its name and component arguments."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class WrittenFile:
    path: str
    mode: int
    content: str


@dataclass
class MemberFiles:
    """One member as the lab needs it: identity plus the files from its user-data."""

    name: str
    address: str
    vip: str
    http_port: int
    pair: str
    vrid: int
    user_data: str
    files: dict[str, WrittenFile] = field(default_factory=dict)

    def file(self, path: str) -> WrittenFile:
        if path not in self.files:
            raise KeyError(f"{self.name}: user-data writes no {path} "
                           f"(it writes {', '.join(self.files)})")
        return self.files[path]


def parse_user_data(user_data: str) -> dict[str, WrittenFile]:
    """write_files of a #cloud-config document, by path."""
    assert user_data.startswith("#cloud-config\n"), user_data[:40]
    document = yaml.safe_load(user_data)
    files: dict[str, WrittenFile] = {}
    for entry in document.get("write_files", []):
        files[entry["path"]] = WrittenFile(entry["path"], int(str(entry["permissions"]), 8),
                                           entry["content"])
    return files


def render_pairs(pairs: list[PairSpec], base: dict[str, Any] | None = None
                 ) -> list[list[MemberFiles]]:
    """Renders every pair in one Pulumi program (so VRIDs are allocated as on
    one network) and returns each pair's members in order. `base`: the arguments
    under each pair's own (default the lab's, BASE_ARGS)."""
    base = BASE_ARGS if base is None else base
    import pulumi
    from vrrp_pair import VrrpPair

    from labs.pulumi_harness import run_program

    seen: dict[str, Any] = {}

    def program() -> Any:
        outputs = []
        for spec in pairs:
            pair = VrrpPair(spec.name, {**base, **spec.args})  # type: ignore[typeddict-item]
            outputs.append(pulumi.Output.all(pair.vip_address, pair.member_ips, pair.vrid))
        return pulumi.Output.all(*outputs).apply(lambda values: seen.update(values=values))

    mocks = run_program(program)
    result: list[list[MemberFiles]] = []
    for spec, (vip, member_ips, vrid) in zip(pairs, seen["values"], strict=True):
        members = []
        http_port = int(spec.args.get("http_port", 80))
        for index, address in enumerate(member_ips):
            name = f"{spec.name}-node-{index + 1}"
            user_data = mocks.named(name).inputs["userData"]
            members.append(MemberFiles(name=name, address=address, vip=vip,
                                       http_port=http_port, pair=spec.name, vrid=vrid,
                                       user_data=user_data, files=parse_user_data(user_data)))
        result.append(members)
    return result


def pair_spec(name: str = "vrrp", index: int = 0, members: int = 2,
              **args: Any) -> PairSpec:
    """A pair with fixed addresses: pair `index` uses 10.10.0.(10*index+4...) and
    VIP 10.10.0.(200+index)."""
    base = 10 * index + 4
    defaults: dict[str, Any] = {
        "member_count": members,
        "member_addresses": [f"10.10.0.{base + i}" for i in range(members)],
        "vip_address": f"10.10.0.{200 + index}",
    }
    return PairSpec(name, {**defaults, **args})
