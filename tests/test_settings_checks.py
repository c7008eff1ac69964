"""settings.py's checks one by one, at their limits and with the exact message a user reads
(the project's rule: bad input fails before anything is created, with an error naming the
setting, the value and what is allowed). Mutation testing showed these edges unpinned: a
bound moved by one, a message losing its setting's name, `and` for `or`."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

import pytest
from vrrp_pair import settings as s
from vrrp_pair.settings import VrrpPairConfigError


def _error(check: Any, *args: Any) -> str:
    with pytest.raises(VrrpPairConfigError) as error:
        check(*args)
    return str(error.value)


def test_setting_names_are_camel_case() -> None:
    assert s.setting_name("member_count") == "memberCount"
    assert s.setting_name("apt_mirror_key") == "aptMirrorKey"
    assert s.setting_name("image") == "image"


def test_printable_refuses_control_characters_by_name() -> None:
    assert s._printable("name", "web 1") == "web 1"
    assert _error(s._printable, "name", 5) == "name: 5 is not valid; expected a string"
    assert _error(s._printable, "name", "a\tb") == (
        "name: 'a\\tb' is not valid; it holds the control character '\\t'; only printable "
        "characters are allowed")
    assert _error(s._printable, "name", "a\nb") == (
        "name: 'a\\nb' is not valid; it holds the control character '\\n'; only printable "
        "characters are allowed")


def test_printable_with_newlines_keeps_lines_and_turns_tabs_to_spaces() -> None:
    assert s._printable("k", "a\r\nb\tc\n", allow_newlines=True) == "a\nb c\n"
    assert "'\\x00'" in _error(s._printable, "k", "a\n\x00", True)
    assert "'\\r'" in _error(s._printable, "k", "a\rb", True)


def test_long_values_are_shortened_in_messages() -> None:
    assert s._shorten("x" * 60) == "x" * 60
    assert s._shorten("x" * 61) == "x" * 60 + "..."
    assert s._shorten("abcdef", 3) == "abc..."
    message = _error(s._printable, "name", "y" * 70 + "\x07")
    assert f"name: '{'y' * 60}...' is not valid" in message


def test_networks() -> None:
    assert s._parse_network("subnetCidr", "10.10.0.0/24") == ipaddress.ip_network("10.10.0.0/24")
    assert s._parse_network("subnetCidr", "fd00::/64") == ipaddress.ip_network("fd00::/64")
    allowed = "expected a network in CIDR form such as 10.10.0.0/24 (host bits zero)"
    assert _error(s._parse_network, "subnetCidr", "10.10.0.1/24") == (
        f"subnetCidr: '10.10.0.1/24' is not valid; {allowed}")
    assert _error(s._parse_network, "subnetCidr", "fe80::%eth0/64") == (
        f"subnetCidr: 'fe80::%eth0/64' is not valid; {allowed}, without a zone (%...)")
    assert _error(s._parse_network, "subnetCidr", 24) == (
        f"subnetCidr: 24 is not valid; {allowed}")


def test_addresses() -> None:
    assert s._parse_address("vipAddress", "10.0.0.5") == ipaddress.ip_address("10.0.0.5")
    allowed = "expected an IP address such as 10.10.0.200"
    assert _error(s._parse_address, "vipAddress", "10.0.0.256") == (
        f"vipAddress: '10.0.0.256' is not valid; {allowed}")
    assert _error(s._parse_address, "vipAddress", "fe80::1%eth0") == (
        f"vipAddress: 'fe80::1%eth0' is not valid; {allowed}, without a zone (%...)")


@pytest.mark.parametrize("value,number", [
    (1, 1), (16, 16), ("2", 2), (" 3 ", 3), ("+4", 4), (5.0, 5), ("0000000007", 7)])
def test_whole_numbers_in_range(value: object, number: int) -> None:
    assert s._int("memberCount", value, 1, 16) == number


@pytest.mark.parametrize("value", [
    0, 17, "17", "-1", 2.5, True, None, "1e1", "", "12345678901", [2], float("nan")])
def test_whole_numbers_out_of_range_or_not_numbers(value: object) -> None:
    assert _error(s._int, "memberCount", value, 1, 16) == (
        f"memberCount: {value!r} is not valid; expected a whole number from 1 to 16")


def test_negative_whole_numbers() -> None:
    assert s._int("offset", "-10", -10, 10) == -10
    assert s._int("offset", -10.0, -10, 10) == -10


@pytest.mark.parametrize("value,result", [
    (True, True), (False, False), ("true", True), ("FALSE", False), ("True", True)])
def test_booleans(value: object, result: bool) -> None:
    assert s._bool("floatingIp", value) is result


@pytest.mark.parametrize("value", ["yes", 1, 0, "", None, "truee"])
def test_not_booleans(value: object) -> None:
    assert _error(s._bool, "floatingIp", value) == (
        f"floatingIp: {value!r} is not valid; expected true or false")


def test_choices() -> None:
    assert s._choice("vrrpVersion", 3, (2, 3)) == 3
    assert _error(s._choice, "vrrpVersion", 4, (2, 3)) == (
        "vrrpVersion: 4 is not valid; allowed values are 2, 3")
    # True == 1: a boolean is no number here
    assert _error(s._choice, "level", True, (1, 2)) == (
        "level: True is not valid; allowed values are 1, 2")


def test_lists_of_strings() -> None:
    assert s._str_list("names", ["a", "b"]) == ["a", "b"]
    assert s._str_list("names", ("a",)) == ["a"]
    assert _error(s._str_list, "names", "a,b") == "names: 'a,b' is not valid; expected a list"
    assert _error(s._str_list, "names", {"a": 1}) == (
        "names: {'a': 1} is not valid; expected a list")
    assert _error(s._str_list, "names", ["a", 2]) == (
        "names[1]: 2 is not valid; expected a string")


def test_text() -> None:
    assert s._text("name", "  web  ") == "web"
    assert s._text("name", "x" * 255) == "x" * 255
    assert _error(s._text, "name", "x" * 256) == (
        f"name: '{'x' * 60}...' is not valid; expected at most 255 characters")
    assert s._text("id", "", s.RESOURCE_ID, "an ID") == ""  # empty: left for the caller
    assert _error(s._text, "id", "a b", s.RESOURCE_ID, "an ID") == "id: 'a b' is not valid; an ID"
    assert s._text("short", "abc", max_length=3) == "abc"
    assert "at most 2 characters" in _error(s._text, "short", "abc", None, "", 2)


def test_resource_ids() -> None:
    assert s._resource_id("imageId", " lab-net.1_a ") == "lab-net.1_a"
    assert _error(s._resource_id, "imageId", "-x") == (
        "imageId: '-x' is not valid; expected an OpenStack ID (letters, digits, dashes, dots "
        "and underscores, such as a UUID)")
    assert s._resource_id_input("networkId", "net") == "net"


def test_known_empty() -> None:
    assert s.is_known_empty("") is True
    assert s.is_known_empty("x") is False


@pytest.mark.parametrize("value,number", [(1, 1.0), (" 2.5 ", 2.5), ("-0.5", -0.5), (3.0, 3.0)])
def test_finite_numbers(value: object, number: float) -> None:
    assert s._finite_number("x", value, "a number") == number


@pytest.mark.parametrize("value", ["nan", "inf", float("-inf"), True, "1,5", None, "1e999"])
def test_not_finite_numbers(value: object) -> None:
    assert _error(s._finite_number, "x", value, "a number") == (
        f"x: {value!r} is not valid; a number")


def test_not_finite_number_overflow() -> None:
    assert _error(s._finite_number, "x", 10**400, "n").startswith("x: 1000")


V2 = ("advertInterval: {!r} is not valid; VRRPv2 adverts are whole seconds from 1 to 255; use "
      "vrrpVersion 3 for sub-second adverts")
V3 = ("advertInterval: {!r} is not valid; VRRPv3 adverts are from 0.01 to 40.95 seconds in "
      "steps of 0.01")


@pytest.mark.parametrize("value,seconds", [(1, 1.0), (255, 255.0), ("7", 7.0)])
def test_vrrpv2_adverts(value: object, seconds: float) -> None:
    assert s._advert_interval(2, value) == seconds


@pytest.mark.parametrize("value", [0, 256, 1.5, "0.5"])
def test_vrrpv2_adverts_refused(value: object) -> None:
    assert _error(s._advert_interval, 2, value) == V2.format(value)


@pytest.mark.parametrize("value,seconds", [
    (0.01, 0.01), (40.95, 40.95), ("0.1", 0.1), (1, 1.0), (0.29999999999, 0.3), (3.14, 3.14)])
def test_vrrpv3_adverts(value: object, seconds: float) -> None:
    assert s._advert_interval(3, value) == seconds


@pytest.mark.parametrize("value", [0, 0.009, 40.96, 41, 0.015, "1.001"])
def test_vrrpv3_adverts_refused(value: object) -> None:
    assert _error(s._advert_interval, 3, value) == V3.format(value)


def test_seconds() -> None:
    assert s._seconds("t", 0.05, 0.05, 60.0) == 0.05
    assert s._seconds("t", "60", 0.05, 60.0) == 60.0
    assert s._seconds("t", 1.23456, 0.05, 60.0) == 1.235
    assert _error(s._seconds, "t", 0.04, 0.05, 60.0) == (
        "t: 0.04 is not valid; expected seconds from 0.05 to 60")
    assert _error(s._seconds, "t", 61, 0.05, 60.0) == (
        "t: 61 is not valid; expected seconds from 0.05 to 60")
    assert s._seconds("t", 0, 0.02, 60.0, off=True) == 0.0
    assert _error(s._seconds, "t", 0.01, 0.02, 60.0, True) == (
        "t: 0.01 is not valid; expected seconds from 0.02 to 60, or 0 to turn it off")
    assert _error(s._seconds, "t", 0, 0.02, 60.0) == (
        "t: 0 is not valid; expected seconds from 0.02 to 60")
    assert _error(s._seconds, "t", "soon", 0.02, 60.0) == (
        "t: 'soon' is not valid; expected seconds from 0.02 to 60")


@pytest.mark.parametrize("count,priorities", [
    (1, [100]), (2, [100, 90]), (3, [100, 90, 80]), (11, [100 - 9 * i for i in range(11)]),
    (16, [100 - 6 * i for i in range(16)])])
def test_default_priorities(count: int, priorities: list[int]) -> None:
    assert s.default_priorities(count) == priorities
    assert min(priorities) >= 1 and len(set(priorities)) == count


SUBNET = ipaddress.ip_network("10.10.0.0/24")
GATEWAY = ipaddress.ip_address("10.10.0.1")


def test_host_addresses() -> None:
    s._check_host_address("vipAddress", ipaddress.ip_address("10.10.0.2"), SUBNET, GATEWAY)
    s._check_host_address("vipAddress", ipaddress.ip_address("10.10.0.254"), SUBNET, GATEWAY)
    cases = {
        "10.10.1.5": "expected an address inside subnetCidr 10.10.0.0/24",
        "10.10.0.0": "it is the network address of 10.10.0.0/24",
        "10.10.0.255": "it is the broadcast address of 10.10.0.0/24",
        "10.10.0.1": "it is the gateway address of 10.10.0.0/24",
        "fd00::5": ("mixing IPv6 with the IPv4 subnet 10.10.0.0/24 is not supported; use an "
                    "address inside 10.10.0.0/24"),
    }
    for address, allowed in cases.items():
        assert _error(s._check_host_address, "vipAddress", ipaddress.ip_address(address),
                      SUBNET, GATEWAY) == f"vipAddress: '{address}' is not valid; {allowed}"
    six = ipaddress.ip_network("fd00::/64")
    # IPv6 has no broadcast address: the last one is a host
    s._check_host_address("vipAddress", ipaddress.ip_address("fd00::ffff:ffff:ffff:ffff"), six,
                          ipaddress.ip_address("fd00::1"))


def test_cidr_lists() -> None:
    assert s._cidr_list("httpAllowedCidrs", ["0.0.0.0/0", "10.0.0.0/8"], SUBNET) == (
        ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("10.0.0.0/8"))
    assert _error(s._cidr_list, "httpAllowedCidrs", ["10.0.0.0/8", "::/0"], SUBNET) == (
        "httpAllowedCidrs[1]: '::/0' is not valid; an IPv6 CIDR cannot reach the pair on the "
        "IPv4 subnet 10.10.0.0/24; use IPv4 CIDRs (such as 0.0.0.0/0)")
    six = ipaddress.ip_network("fd00::/64")
    assert "(such as ::/0)" in _error(s._cidr_list, "httpAllowedCidrs", ["0.0.0.0/0"], six)
    assert _error(s._cidr_list, "httpAllowedCidrs", ["10.0.0.0/8", "1.0.0.0/8", "10.0.0.0/8"],
                  SUBNET) == ("httpAllowedCidrs[2]: '10.0.0.0/8' is not valid; 10.0.0.0/8 is "
                              "already httpAllowedCidrs[0]; list each CIDR once")


def test_dns_nameservers() -> None:
    five = [f"10.0.0.{i}" for i in range(1, 6)]
    assert s._dns_nameservers(five, SUBNET) == tuple(ipaddress.ip_address(a) for a in five)
    assert _error(s._dns_nameservers, [*five, "10.0.0.6"], SUBNET) == (
        f"dnsNameservers: {[*five, '10.0.0.6']!r} is not valid; Neutron takes at most 5 DNS "
        "servers per subnet")
    assert _error(s._dns_nameservers, ["10.0.0.1", "fd00::53"], SUBNET) == (
        "dnsNameservers[1]: 'fd00::53' is not valid; Neutron refuses an IPv6 DNS server on "
        "the IPv4 subnet 10.10.0.0/24")
    assert _error(s._dns_nameservers, ["10.0.0.1", "10.0.0.2", "10.0.0.1"], SUBNET) == (
        "dnsNameservers[2]: '10.0.0.1' is not valid; list each DNS server once")


MIRROR = ("aptMirror: {!r} is not valid; packageSource mirror needs an http(s):// or file:// "
          "URL of a Debian-layout apt repository, without a query, fragment, credentials or `$` "
          "(percent-encode other characters)")


@pytest.mark.parametrize("value,url", [
    ("http://Mirror.Example/debian", "http://mirror.example/debian"),
    ("HTTPS://m.example:8443/d%20b/", "https://m.example:8443/d%20b/"),
    ("http://m.example", "http://m.example/"),
    ("http://[fd00::1]:80/debian", "http://[fd00::1]:80/debian"),
    ("http://[FD00:0::1]/debian", "http://[fd00::1]/debian"),
    ("file:///srv/debian", "file:///srv/debian"),
    ("http://10.0.0.1/debian", "http://10.0.0.1/debian"),
])
def test_apt_mirrors_are_made_canonical(value: str, url: str) -> None:
    assert s._apt_mirror(value) == url


@pytest.mark.parametrize("value,extra", [
    ("ftp://m.example/debian", ""),
    ("http://m.example/debian?x=1", ""),
    ("http://m.example/debian#frag", ""),
    ("http://user@m.example/debian", ""),
    ("http://m.example/$ARCH", ""),
    ("http://m.example/a%2", ""),
    ("http://m.example:99999/", ""),
    ("http://m.example/a[b]", ""),
    ("http://[fd00::1%25eth0]/", "; the host has a zone (%...)"),
    ("http://[zz::1]/", ""),
    ("http://[v1.x]/", "; the host is not an IPv6 address"),  # an IPvFuture literal
    ("http://-bad-.example/", "; the host is not a DNS name or IP address"),
    ("http://m.example:0/", "; port 0"),
])
def test_apt_mirrors_refused(value: str, extra: str) -> None:
    assert _error(s._apt_mirror, value) == MIRROR.format(value) + extra


def test_file_mirrors_need_an_absolute_path() -> None:
    assert _error(s._apt_mirror, "file://host/srv") == (
        "aptMirror: 'file://host/srv' is not valid; a file:// URL needs an absolute path: "
        "file:///srv/debian")


def test_an_empty_mirror_key_is_none_and_a_bad_one_says_why() -> None:
    assert s._apt_mirror_key("  \n ") == ""
    message = _error(s._apt_mirror_key, "not a key")
    assert message == (
        "aptMirrorKey: 'not a key' is not valid; expected one ASCII-armoured PGP public key "
        "block (-----BEGIN PGP PUBLIC KEY BLOCK-----); expected the first line to be "
        "-----BEGIN PGP PUBLIC KEY BLOCK-----")


@pytest.mark.parametrize("cidr,usable", [
    ("10.0.0.0/24", 253), ("10.0.0.0/29", 5), ("10.0.0.0/30", 1), ("fd00::/120", 254)])
def test_usable_addresses(cidr: str, usable: int) -> None:
    assert s.usable_addresses(ipaddress.ip_network(cidr)) == usable


def test_capacity() -> None:
    s._check_capacity(ipaddress.ip_network("10.0.0.0/29"), 3, True)  # 3 + VIP + DHCP = 5
    s._check_capacity(ipaddress.ip_network("10.0.0.0/29"), 4, False)
    assert _error(s._check_capacity, ipaddress.ip_network("10.0.0.0/29"), 4, True) == (
        "memberCount: 4 is not valid; 6 addresses are needed (4 members, the VIP and "
        "Neutron's DHCP port) but subnetCidr 10.0.0.0/29 has 5 after the network, broadcast "
        "and gateway addresses; use a larger subnet or fewer members")
    assert "(5 members, the VIP) but" in _error(
        s._check_capacity, ipaddress.ip_network("10.0.0.0/29"), 5, False)


def test_first_host_is_neutron_s_default_gateway() -> None:
    assert s.first_host(ipaddress.ip_network("10.1.2.0/24")) == ipaddress.ip_address("10.1.2.1")
    assert s.first_host(ipaddress.ip_network("fd00:1::/64")) == ipaddress.ip_address("fd00:1::1")
    # an IPv6 subnet whose gateway's number is small still gets an IPv6 gateway
    assert s.first_host(ipaddress.ip_network("::/64")) == ipaddress.IPv6Address("::1")


@pytest.mark.parametrize("value,uuid", [
    ("0b3e5c0e-7a55-4c8b-9a3c-1f1e1f1e1f1e", True),
    ("0B3E5C0E7A554C8B9A3C1F1E1F1E1F1E", True),
    ("debian-12", False),
    ("0b3e5c0e-7a55-4c8b-9a3c", False),
])
def test_uuids(value: str, uuid: bool) -> None:
    assert s.is_uuid(value) is uuid


def test_nova_user_data_length_is_base64_s() -> None:
    assert s.nova_user_data_length("abc") == 4
    assert s.nova_user_data_length("abcd") == 8
    assert s.nova_user_data_length("é") == 4  # two bytes of UTF-8


def test_constants_the_messages_promise() -> None:
    assert (s.V3_ADVERT_MIN, s.V3_ADVERT_MAX, s.V2_ADVERT_MIN, s.V2_ADVERT_MAX) == (
        0.01, 40.95, 1, 255)
    assert s.MAX_TEXT == 255 and s.NOVA_USER_DATA_LIMIT == 65535
    assert math.isclose(s.WEB_CHECK_INTERVAL_MIN, 0.02)
    assert re.fullmatch(s.NAME, "vrrp-1") and not re.fullmatch(s.NAME, "-vrrp")
