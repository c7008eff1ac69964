"""Every bad setting fails before any resource exists, with a message naming it."""

from __future__ import annotations

from typing import Any

import pytest

from components import VrrpPair, VrrpPairConfigError
from components.settings import parse_settings
from tests.pulumi_harness import RECIPE_ARGS, run_program

BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("cidr-unparseable", {"subnet_cidr": "10.10.0.0/33"}, r"subnetCidr: '10.10.0.0/33' .*CIDR"),
    ("cidr-host-bits", {"subnet_cidr": "10.10.0.5/24"}, r"subnetCidr: '10.10.0.5/24' .*host bits"),
    ("vip-unparseable", {"vip_address": "10.10.0.999"}, r"vipAddress: '10.10.0.999' .*IP address"),
    ("member-unparseable", {"member_addresses": ["10.10.0.4", "node-2"]},
     r"memberAddresses\[1\]: 'node-2' .*IP address"),
    ("vip-outside-subnet", {"vip_address": "10.20.0.200"},
     r"vipAddress: '10.20.0.200' .*inside subnetCidr 10.10.0.0/24"),
    ("member-outside-subnet", {"member_addresses": ["10.10.0.4", "192.168.1.5"]},
     r"memberAddresses\[1\]: '192.168.1.5' .*inside subnetCidr"),
    ("vip-network-address", {"vip_address": "10.10.0.0"},
     r"vipAddress: '10.10.0.0' .*network address"),
    ("vip-broadcast", {"vip_address": "10.10.0.255"}, r"vipAddress: '10.10.0.255' .*broadcast"),
    ("vip-gateway", {"vip_address": "10.10.0.1"}, r"vipAddress: '10.10.0.1' .*gateway"),
    ("member-gateway-explicit", {"gateway_ip": "10.10.0.5"},
     r"memberAddresses\[1\]: '10.10.0.5' .*gateway"),
    ("member-duplicated", {"member_addresses": ["10.10.0.4", "10.10.0.4"]},
     r"memberAddresses: .*duplicated: 10.10.0.4"),
    ("vip-collides-member", {"vip_address": "10.10.0.5"},
     r"vipAddress: '10.10.0.5' .*collides with a member"),
    ("member-count-too-few", {"member_count": 1, "member_addresses": ["10.10.0.4"]},
     r"memberCount: 1 .*from 2 to 16"),
    ("member-count-mismatch", {"member_count": 3}, r"memberAddresses: .*exactly memberCount=3"),
    ("vrid-low", {"virtual_router_id": -1}, r"virtualRouterId: -1 .*from 1 to 255"),
    ("vrid-high", {"virtual_router_id": 256}, r"virtualRouterId: 256 .*from 1 to 255"),
    ("priority-low", {"priorities": [100, 0]}, r"priorities\[1\]: 0 .*from 1 to 254"),
    ("priority-high", {"priorities": [255, 100]}, r"priorities\[0\]: 255 .*from 1 to 254"),
    ("priority-duplicate", {"priorities": [100, 100]}, r"priorities: .*distinct"),
    ("priority-count", {"priorities": [100]}, r"priorities: \[100\] .*exactly memberCount=2"),
    ("advert-v3-too-fast", {"advert_interval": 0.001}, r"advertInterval: 0.001 .*0.01 to 40.95"),
    ("advert-v3-too-slow", {"advert_interval": 41}, r"advertInterval: 41 .*0.01 to 40.95"),
    ("advert-v3-step", {"advert_interval": 0.125}, r"advertInterval: 0.125 .*steps of 0.01"),
    ("advert-v2-fraction", {"vrrp_version": 2, "advert_interval": 0.5},
     r"advertInterval: 0.5 .*whole seconds from 1 to 255"),
    ("advert-v2-zero", {"vrrp_version": 2, "advert_interval": 0},
     r"advertInterval: 0 .*whole seconds"),
    ("advert-not-number", {"advert_interval": "fast"}, r"advertInterval: 'fast'"),
    ("vrrp-version", {"vrrp_version": 4}, r"vrrpVersion: 4 .*from 2 to 3"),
    ("preemption-unknown", {"preemption": "sometimes"},
     r"preemption: 'sometimes' .*never, always, delayed"),
    ("preempt-delay", {"preemption": "delayed", "preempt_delay": 5000},
     r"preemptDelay: 5000 .*1 to 1000"),
    ("affinity-unknown", {"server_group_policy": "affinity"},
     r"serverGroupPolicy: 'affinity' .*anti-affinity, soft-anti-affinity, none"),
    ("mixed-v6-vip-in-v4", {"vip_address": "fd00::200"},
     r"vipAddress: 'fd00::200' .*mixing IPv6 with the IPv4 subnet"),
    ("mixed-v4-member-in-v6", {"subnet_cidr": "fd00:10::/64", "vip_address": "fd00:10::200",
                               "member_addresses": ["fd00:10::4", "10.10.0.5"],
                               "floating_ip": False},
     r"memberAddresses\[1\]: '10.10.0.5' .*mixing IPv4 with the IPv6 subnet"),
    ("v2-with-ipv6", {"subnet_cidr": "fd00:10::/64", "vip_address": "", "member_addresses": [],
                      "floating_ip": False, "vrrp_version": 2, "advert_interval": 1},
     r"vrrpVersion: 2 .*IPv4 only"),
    ("fip-with-ipv6", {"subnet_cidr": "fd00:10::/64", "vip_address": "", "member_addresses": []},
     r"floatingIp: True .*IPv4 only"),
    ("image-empty", {"image": ""}, r"image: '' .*not empty"),
    ("image-blank", {"image": "   "}, r"image: '   ' .*not empty"),
    ("flavor-empty", {"flavor": ""}, r"flavor: '' .*not empty"),
    ("http-port-zero", {"http_port": 0}, r"httpPort: 0 .*from 1 to 65535"),
    ("http-port-high", {"http_port": 70000}, r"httpPort: 70000 .*from 1 to 65535"),
    ("http-port-bool", {"http_port": True}, r"httpPort: True .*whole number"),
    ("http-cidr", {"http_allowed_cidrs": ["0.0.0.0/0", "everyone"]},
     r"httpAllowedCidrs\[1\]: 'everyone' .*CIDR"),
    ("ssh-cidr", {"ssh_allowed_cidrs": ["192.0.2.1/24"]},
     r"sshAllowedCidrs\[0\]: '192.0.2.1/24' .*host bits"),
    ("ssh-cidr-not-list", {"ssh_allowed_cidrs": "192.0.2.0/24"},
     r"sshAllowedCidrs: '192.0.2.0/24' .*list"),
    ("fip-without-external", {"external_network": ""},
     r"externalNetwork: '' .*floatingIp needs the name"),
    ("existing-half", {"existing_network_id": "net-x"},
     r"existingSubnetId: '' .*given together"),
    ("package-source", {"package_source": "pip"},
     r"packageSource: 'pip' .*internet, mirror, preinstalled"),
    ("mirror-without-url", {"package_source": "mirror"}, r"aptMirror: '' .*http\(s\)://"),
    ("mirror-key-garbage", {"package_source": "mirror", "apt_mirror": "http://m/debian",
                            "apt_mirror_key": "ssh-rsa AAAA"}, r"aptMirrorKey: .*PGP public key"),
    ("interface-bad", {"interface": "eth0; reboot"}, r"interface: 'eth0; reboot' .*15 characters"),
    ("name-bad", {"__name__": "Bad_Name"}, r"name: 'Bad_Name' .*lower-case"),
    ("unknown-setting", {"vip": "10.10.0.200"}, r"arguments: \['vip'\] .*known settings"),
    ("health-fall", {"health_check_fall": 0}, r"healthCheckFall: 0 .*from 1 to 10"),
    ("web-check-too-often", {"web_check_interval": 0.01},
     r"webCheckInterval: 0.01 .*from 0.02 to 60, or 0 to turn it off"),
    ("web-check-not-number", {"web_check_interval": "often"}, r"webCheckInterval: 'often'"),
    ("web-check-negative", {"web_check_interval": -1}, r"webCheckInterval: -1 "),
    ("web-check-timeout-zero", {"web_check_timeout": 0},
     r"webCheckTimeout: 0 .*from 0.05 to 60$"),
    ("web-check-timeout-bool", {"web_check_timeout": True}, r"webCheckTimeout: True "),
    ("check-address", {"check_address": "nowhere"}, r"checkAddress: 'nowhere' .*IP address"),
]


def _split(extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    extra = dict(extra)
    name = extra.pop("__name__", "vrrp")
    return name, {**RECIPE_ARGS, **extra}


@pytest.mark.parametrize("extra,message", [(e, m) for _, e, m in BAD_INPUTS],
                         ids=[case for case, _, _ in BAD_INPUTS])
def test_bad_setting_is_named_in_the_error(extra: dict[str, Any], message: str) -> None:
    name, args = _split(extra)
    with pytest.raises(VrrpPairConfigError, match=message):
        parse_settings(name, args)


@pytest.mark.parametrize("extra", [BAD_INPUTS[0][1], BAD_INPUTS[11][1], BAD_INPUTS[-3][1]],
                         ids=["cidr", "vip-collides", "health"])
def test_bad_setting_declares_no_resource_at_all(extra: dict[str, Any]) -> None:
    name, args = _split(extra)

    def program() -> None:
        VrrpPair(name, args)  # type: ignore[arg-type]

    from tests.pulumi_harness import RecordingMocks

    mocks = RecordingMocks()
    with pytest.raises(VrrpPairConfigError):
        run_program(program, mocks)
    assert mocks.resources == []
    registered = set(mocks.dependencies) - {"vrrp-pair-test"}  # the stack itself
    assert registered == set(), "not even the component itself is registered"


def test_the_recipe_settings_are_valid() -> None:
    settings = parse_settings("vrrp", RECIPE_ARGS)
    assert [str(a) for a in settings.member_addresses] == ["10.10.0.4", "10.10.0.5"]
    assert settings.priorities == (100, 90)
    assert settings.preemption == "never"


def test_ipv6_pair_is_valid_and_uses_ipv6_rules() -> None:
    from tests.pulumi_harness import RecordingMocks

    args = {**RECIPE_ARGS, "subnet_cidr": "fd00:10::/64", "vip_address": "fd00:10::200",
            "member_addresses": ["fd00:10::4", "fd00:10::5"], "floating_ip": False,
            "http_allowed_cidrs": ["::/0"]}

    def program() -> Any:
        return VrrpPair("v6", args).instance_ids  # type: ignore[arg-type]

    mocks: RecordingMocks = run_program(program)
    vrrp_rule = mocks.named("v6-vrrp-in")
    assert vrrp_rule.inputs["ethertype"] == "IPv6"
    assert mocks.named("v6-node-1").inputs["userData"].count("fd00:10::200/128 dev") == 1
