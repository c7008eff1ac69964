"""Every bad setting fails before any resource exists, with a message naming it."""

from __future__ import annotations

from typing import Any

import pytest
from vrrp_pair import VrrpPair, VrrpPairConfigError
from vrrp_pair.settings import parse_settings

from labs.pulumi_harness import RECIPE_ARGS, run_program

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
                      "floating_ip": False, "vrrp_version": 2, "advert_interval": 1,
                      "http_allowed_cidrs": ["::/0"]},
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
    ("interface-bad", {"interface": "eth0; reboot"}, r"interface: 'eth0; reboot' .*at most 15"),
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
    # What issue 11's attacker tried: each is refused, naming the setting.
    ("gateway-zone-shell", {"existing_network_id": "net", "existing_subnet_id": "sub",
                            "subnet_cidr": "fd00::/64", "vip_address": "", "member_addresses": [],
                            "floating_ip": False, "http_allowed_cidrs": [],
                            "gateway_ip": "fd00::1%x;reboot"},
     r"gatewayIp: 'fd00::1%x;reboot' .*without a zone"),
    ("vip-zone-directive", {"subnet_cidr": "fd00::/64", "floating_ip": False,
                            "member_addresses": ["fd00::4", "fd00::5"], "http_allowed_cidrs": [],
                            "vip_address": "fd00::4%eth0\nnotify_master /bin/reboot"},
     r"vipAddress: .*control character '\\n'"),
    ("vip-zone-beside-member", {"subnet_cidr": "fd00::/64", "floating_ip": False,
                                "member_addresses": ["fd00::4", "fd00::5"],
                                "http_allowed_cidrs": [], "vip_address": "fd00::4%eth0"},
     r"vipAddress: 'fd00::4%eth0' .*without a zone"),
    ("member-zone-runcmd", {"member_addresses": ["10.10.0.4", "10.10.0.5%x, reboot"]},
     r"memberAddresses\[1\]: '10.10.0.5%x, reboot' .*without a zone"),
    ("name-trailing-newline", {"__name__": "vrrp\n"}, r"name: 'vrrp\\n' .*lower-case"),
    ("mirror-escape", {"package_source": "mirror", "apt_mirror": "http://m/debian\x1b[2J"},
     r"aptMirror: .*control character '\\x1b'"),
    ("mirror-nul", {"package_source": "mirror", "apt_mirror": "http://m/\x00debian"},
     r"aptMirror: .*control character '\\x00'"),
    ("mirror-key-bell", {"package_source": "mirror", "apt_mirror": "http://m/debian",
                         "apt_mirror_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\x07"},
     r"aptMirrorKey: .*control character '\\x07'"),
    ("mirror-space", {"package_source": "mirror", "apt_mirror": "http://m/debian stable main"},
     r"aptMirror: 'http://m/debian stable main' .*URL"),
    ("mirror-dollar", {"package_source": "mirror", "apt_mirror": "http://m/$MIRROR"},
     r"aptMirror: .*without .*\$"),
    ("mirror-credentials", {"package_source": "mirror", "apt_mirror": "http://u:p@m/debian"},
     r"aptMirror: .*credentials"),
    ("mirror-scheme", {"package_source": "mirror", "apt_mirror": "ftp://m/debian"},
     r"aptMirror: 'ftp://m/debian' .*http\(s\)://"),
    ("mirror-bad-port", {"package_source": "mirror", "apt_mirror": "http://m:99999/debian"},
     r"aptMirror: 'http://m:99999/debian'"),
    ("sixteen-on-a-29", {"subnet_cidr": "10.10.0.0/29", "member_count": 16,
                         "member_addresses": [], "vip_address": ""},
     r"memberCount: 16 .*18 addresses are needed .*10.10.0.0/29 has 5"),
    ("four-on-a-29", {"subnet_cidr": "10.10.0.0/29", "member_count": 4,
                      "member_addresses": [], "vip_address": ""},
     r"memberCount: 4 .*6 addresses are needed \(4 members, the VIP and Neutron's DHCP port\)"),
    ("http-cidr-duplicate", {"http_allowed_cidrs": ["0.0.0.0/0", "192.0.2.0/24", "0.0.0.0/00"]},
     r"httpAllowedCidrs\[2\]: '0.0.0.0/0' .*already httpAllowedCidrs\[0\]"),
    ("ssh-cidr-duplicate", {"ssh_allowed_cidrs": ["192.0.2.0/24", "192.0.2.0/24"]},
     r"sshAllowedCidrs\[1\]: '192.0.2.0/24' .*already"),
    ("http-port-ssh", {"http_port": 22}, r"httpPort: 22 .*SSH's port"),
    ("v6-with-v4-http-cidrs", {"subnet_cidr": "fd00:10::/64", "vip_address": "",
                               "member_addresses": [], "floating_ip": False},
     r"httpAllowedCidrs\[0\]: '0.0.0.0/0' .*IPv4 CIDR cannot reach the pair on the IPv6"),
    ("v4-with-v6-ssh-cidr", {"ssh_allowed_cidrs": ["2001:db8::/32"]},
     r"sshAllowedCidrs\[0\]: '2001:db8::/32' .*IPv6 CIDR cannot reach"),
    ("dns-family", {"dns_nameservers": ["2001:db8::53"]},
     r"dnsNameservers\[0\]: '2001:db8::53' .*IPv6 DNS server on the IPv4 subnet"),
    ("dns-duplicate", {"dns_nameservers": ["192.0.2.53", "192.0.2.53"]},
     r"dnsNameservers\[1\]: '192.0.2.53' .*once"),
    ("dns-too-many", {"dns_nameservers": [f"192.0.2.{i}" for i in range(1, 7)]},
     r"dnsNameservers: .*at most 5"),
    ("advert-nan", {"advert_interval": float("nan")}, r"advertInterval: nan .*0.01 to 40.95"),
    ("advert-inf", {"advert_interval": "inf"}, r"advertInterval: 'inf' .*0.01 to 40.95"),
    ("advert-v2-inf", {"vrrp_version": 2, "advert_interval": float("inf")},
     r"advertInterval: inf .*whole seconds"),
    ("advert-huge", {"advert_interval": "1e400"}, r"advertInterval: '1e400'"),
    ("member-count-nan", {"member_count": float("nan")}, r"memberCount: nan .*whole number"),
    ("mirror-private-key", {"package_source": "mirror", "apt_mirror": "http://m/debian",
                            "apt_mirror_key": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlFgE\n"
                                              "-----END PGP PRIVATE KEY BLOCK-----\n"},
     r"aptMirrorKey: .*private key block"),
    ("image-control", {"image": "debian\u202e21-nepo"}, r"image: .*control character"),
    ("key-pair-pattern", {"key_pair": "me; rm -rf /"}, r"keyPair: 'me; rm -rf /' .*Nova key pair"),
    ("network-id-pattern", {"existing_network_id": "net id", "existing_subnet_id": "s"},
     r"existingNetworkId: 'net id' .*OpenStack ID"),
    ("interface-newline", {"interface": "eth0\n"}, r"interface: 'eth0\\n' .*control"),
    ("check-address-zone", {"check_address": "fe80::1%eth0"},
     r"checkAddress: 'fe80::1%eth0' .*without a zone"),
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


BAD_BY_NAME = {case: extra for case, extra, _ in BAD_INPUTS}
assert len(BAD_BY_NAME) == len(BAD_INPUTS), "every bad-input case has a name of its own"


@pytest.mark.parametrize("case", ["cidr-unparseable", "vip-collides-member", "health-fall",
                                  "network-id-pattern"])
def test_bad_setting_declares_no_resource_at_all(case: str) -> None:
    name, args = _split(dict(BAD_BY_NAME[case]))

    def program() -> None:
        VrrpPair(name, args)  # type: ignore[arg-type]

    from labs.pulumi_harness import RecordingMocks

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
    from labs.pulumi_harness import RecordingMocks

    args = {**RECIPE_ARGS, "subnet_cidr": "fd00:10::/64", "vip_address": "fd00:10::200",
            "member_addresses": ["fd00:10::4", "fd00:10::5"], "floating_ip": False,
            "http_allowed_cidrs": ["::/0"]}

    def program() -> Any:
        return VrrpPair("v6", args).instance_ids  # type: ignore[arg-type]

    mocks: RecordingMocks = run_program(program)
    vrrp_rule = mocks.named("v6-vrrp-in")
    assert vrrp_rule.inputs["ethertype"] == "IPv6"
    assert mocks.named("v6-node-1").inputs["userData"].count("fd00:10::200/128 dev") == 1


def test_a_setting_added_later_is_refused_control_characters_too(monkeypatch: Any) -> None:
    """The guard runs over every setting's text before any one is parsed."""
    from vrrp_pair import settings as module

    monkeypatch.setitem(module.DEFAULTS, "health_check_path", "/")
    with pytest.raises(VrrpPairConfigError,
                       match=r"healthCheckPath: '/\\nx' .*control character '\\n'"):
        parse_settings("vrrp", {**RECIPE_ARGS, "health_check_path": "/\nx"})
    with pytest.raises(VrrpPairConfigError, match=r"dnsNameservers\[1\]: .*'\\x1b'"):
        parse_settings("vrrp", {**RECIPE_ARGS, "dns_nameservers": ["192.0.2.1", "\x1b"]})
