"""For any value of any setting: refused before any resource, naming a setting, or
every member's files pass the real tools and are only what the templates make.

Hypothesis draws a starting configuration and then values for one setting (one
test per setting) or for several at once: plausible values, values near the
edge, and hostile ones (zones, line breaks, control characters, YAML, shell
and keepalived syntax). Each example then goes through the component under
Pulumi mocks, and either

- parse_settings raises VrrpPairConfigError whose message starts with a setting's
  name, and the component registered nothing; or
- every member's user-data is at most 64 KiB (and within Nova's 65535 base64
  characters), passes cloud-init's own schema validator, has the structure of the
  default rendering, writes files whose every line is a line of their template
  (in order), shell scripts that `sh -n` accepts and a keepalived.conf that
  `keepalived -t` accepts (in a network namespace with the member's address).

Example counts: PER_SETTING_EXAMPLES for each setting, COMBINED_EXAMPLES for the
mixed test; VRRP_PAIR_HYPOTHESIS_SCALE multiplies both (10 for a long run; `scripts/test
--quick` uses 0.1: one example per setting and 15 mixed).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from vrrp_pair import VrrpPair, VrrpPairConfigError, render
from vrrp_pair.settings import (
    DEFAULTS,
    NOVA_USER_DATA_LIMIT,
    Settings,
    parse_settings,
    setting_name,
)

from labs.pulumi_harness import RECIPE_ARGS, RecordingMocks, run_program
from tests.cloud_config_schema import SchemaValidator
from tests.rendered import written_files
from tests.template_structure import TEMPLATE_OF, misfits, skeleton
from tests.test_rendered_with_real_tools import MemberNamespace, keepalived_test

SCALE = float(os.environ.get("VRRP_PAIR_HYPOTHESIS_SCALE", "1"))
# Shrinking re-runs the real tools hundreds of times (minutes); a failure is shown
# as drawn unless VRRP_PAIR_HYPOTHESIS_SHRINK=1.
PHASES = [phase for phase in Phase if phase is not Phase.shrink
          or os.environ.get("VRRP_PAIR_HYPOTHESIS_SHRINK") == "1"]
PER_SETTING_EXAMPLES = max(1, round(12 * SCALE))
COMBINED_EXAMPLES = max(1, round(150 * SCALE))
# Members of one example are checked in parallel (keepalived -t, sh -n).
WORKERS = int(os.environ.get("VRRP_PAIR_PROPERTY_WORKERS", "2"))
KEY = (Path(__file__).parent / "data" / "mirror-key.asc").read_text()
MAX_USER_DATA = 64 * 1024

# Starting points; a setting's values are drawn to fit (or not) the one drawn.
BASES: dict[str, dict[str, Any]] = {
    "recipe": dict(RECIPE_ARGS),
    "allocated": {**RECIPE_ARGS, "member_addresses": [], "vip_address": "",
                  "floating_ip": False},
    "ipv6": {**RECIPE_ARGS, "subnet_cidr": "fd00:10::/64", "vip_address": "fd00:10::200",
             "member_addresses": ["fd00:10::4", "fd00:10::5"], "floating_ip": False,
             "http_allowed_cidrs": ["::/0"]},
    "existing": {"existing_network_id": "lab-net", "existing_subnet_id": "lab-subnet",
                 "subnet_cidr": "10.10.0.0/24", "gateway_ip": "10.10.0.1",
                 "image": "debian-12", "flavor": "m1.small"},
    "mirror": {**RECIPE_ARGS, "package_source": "mirror",
               "apt_mirror": "http://10.10.0.250:8080/debian", "apt_mirror_key": KEY},
    "vrrpv2": {**RECIPE_ARGS, "vrrp_version": 2, "advert_interval": 1, "preemption": "delayed"},
}

# What an attacker appends to a valid value, or uses instead of one.
SUFFIXES = ["%eth0", "%0", "\n", "\nnotify_master /sbin/reboot", "\r\n", "\x00", "\x1b[2J",
            "\x07", " ", "\t", "#", " #x", ";reboot", "$(reboot)", "`id`", "'", '"', "}",
            "{", "]", ", x", ": x", "\u2028", "\x85", "\u202e", " ", "/", "%"]
PAYLOADS = ["", " ", "\n", "auto", "true", "null", "~", "0", "-1", "1e400", "nan", "inf",
            "[1, 2]", "{a: 1}", "*alias", "&anchor x", "!!python/object:os.system", "- x",
            "a: b", "'", '"', "$VRRP_INTERFACE", "@x", "~SEQ(x,1,2)", "include /etc/passwd",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----", "http://m/ stable main"]


def hostile(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values most of the time, else a valid value with an attacker's suffix,
    a known payload or any text at all."""
    return st.one_of(
        valid, valid,
        st.builds(lambda v, s: f"{v}{s}", valid, st.sampled_from(SUFFIXES)),
        st.sampled_from(PAYLOADS),
        st.text(max_size=30),
    )


def _host(network: ipaddress.IPv4Network | ipaddress.IPv6Network
          ) -> st.SearchStrategy[str]:
    last = min(network.num_addresses - 2, 4000)
    return st.integers(1, max(last, 1)).map(lambda n: str(network.network_address + n))


def _subnet_of(args: dict[str, Any]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(args.get("subnet_cidr", DEFAULTS["subnet_cidr"])))
    except ValueError:
        return ipaddress.ip_network(DEFAULTS["subnet_cidr"])


def _networks(version: int) -> st.SearchStrategy[str]:
    """Private and documentation ranges only (the lab adds these inside namespaces)."""
    if version == 4:
        roots = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                   "192.168.0.0/16", "100.64.0.0/10")]
        prefixes = st.integers(16, 29)
    else:
        roots = [ipaddress.ip_network(n) for n in ("fd00::/8", "2001:db8::/32")]
        prefixes = st.integers(48, 120)
    return st.builds(
        lambda root, prefix, bits: str(ipaddress.ip_network(
            (int(root.network_address) + (bits % root.num_addresses), prefix), strict=False)),
        st.sampled_from(roots), prefixes, st.integers(0, 2**64))


def _cidrs(version: int) -> st.SearchStrategy[str]:
    any_net = st.builds(lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
                        st.integers(0, 2**32 - 1), st.integers(0, 32))
    if version == 6:
        any_net = st.builds(lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
                            st.integers(0, 2**128 - 1), st.integers(0, 128))
    return st.one_of(any_net, st.sampled_from(["0.0.0.0/0", "::/0", "192.0.2.0/24"]))


Overrides = st.SearchStrategy[dict[str, Any]]


def _single(key: str, values: st.SearchStrategy[Any]) -> Overrides:
    return values.map(lambda value: {key: value})


def _subnet_change(args: dict[str, Any]) -> Overrides:
    """A new subnet, with the addresses that depend on it left to Neutron."""
    return st.builds(
        lambda cidr, keep: {"subnet_cidr": cidr, **({} if keep else {
            "member_addresses": [], "vip_address": "", "gateway_ip": "",
            "http_allowed_cidrs": [], "floating_ip": False})},
        hostile(st.one_of(_networks(4), _networks(6))), st.booleans())


def _member_addresses(args: dict[str, Any]) -> Overrides:
    subnet = _subnet_of(args)
    count = int(args.get("member_count", 2)) if str(args.get("member_count", 2)).isdigit() else 2
    return st.builds(
        lambda n, addresses: {"member_count": n, "member_addresses": addresses},
        st.just(count) | st.integers(2, 16),
        st.lists(hostile(_host(subnet)), min_size=0, max_size=17) |
        st.lists(_host(subnet), min_size=count, max_size=count, unique=True))


def _mirror(args: dict[str, Any]) -> Overrides:
    hosts = st.sampled_from(["10.10.0.250", "deb.example", "[fd00::250]", "MIRROR.Example",
                             "[fe80::1%25eth0]", "a..b", "-x", "x_y"])
    paths = st.sampled_from(["/debian", "/", "", "/a b", "/%41", "/%zz", "/$RELEASE", "/#x",
                             "/?q=1", "/[x]"])
    urls = st.builds(lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
                     st.sampled_from(["http", "https", "HTTP", "file", "ftp"]), hosts,
                     st.sampled_from(["", ":8080", ":0", ":99999", ":x"]), paths)
    return _single("apt_mirror", hostile(urls)).map(lambda o: {**o, "package_source": "mirror"})


def _mirror_key(args: dict[str, Any]) -> Overrides:
    lines = KEY.split("\n")
    keys = st.sampled_from([
        KEY, KEY.replace("\n", "\r\n"), "\n".join([lines[0], "Comment: x\ny", *lines[1:]]),
        "\n".join([lines[0], "Version: 1", *lines[1:]]), KEY.replace("=Rei4", "=Rei5"),
        KEY.replace("PUBLIC", "PRIVATE"), KEY + KEY, "  " + KEY + "  ", KEY[:200]])
    return st.builds(lambda key: {"package_source": "mirror",
                                  "apt_mirror": "http://10.10.0.250/debian",
                                  "apt_mirror_key": key}, hostile(keys))


def _address_setting(key: str) -> Callable[[dict[str, Any]], Overrides]:
    return lambda args: _single(key, hostile(_host(_subnet_of(args)) | st.just("")))


def _cidr_list(key: str) -> Callable[[dict[str, Any]], Overrides]:
    return lambda args: _single(key, st.lists(hostile(_cidrs(_subnet_of(args).version)),
                                              max_size=4))


def _ints(key: str, low: int, high: int) -> Callable[[dict[str, Any]], Overrides]:
    values = st.one_of(st.integers(low, high), st.integers(low - 3, high + 3),
                       st.integers().map(str), st.floats(allow_nan=True, allow_infinity=True),
                       st.booleans())
    return lambda args: _single(key, hostile(values))


def _seconds(key: str, low: int, high: int) -> Callable[[dict[str, Any]], Overrides]:
    """Fractions of a second around the setting's range, with nan/inf and text."""
    values = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(low * 1000, high * 1000).map(lambda ms: ms / 1000),
                       st.decimals(places=3).map(str))
    return lambda args: _single(key, hostile(values))


def _choice(key: str, allowed: list[Any]) -> Callable[[dict[str, Any]], Overrides]:
    return lambda args: _single(key, hostile(st.sampled_from(allowed)))


def _text(key: str, valid: st.SearchStrategy[str]) -> Callable[[dict[str, Any]], Overrides]:
    return lambda args: _single(key, hostile(valid))


BOOLS = st.one_of(st.booleans(), st.sampled_from(["true", "false", "True", "yes", 1, 0]))
NAMES = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)

STRATEGIES: dict[str, Callable[[dict[str, Any]], Overrides]] = {
    "subnet_cidr": _subnet_change,
    "gateway_ip": _address_setting("gateway_ip"),
    "existing_network_id": lambda args: st.builds(
        lambda net, sub: {"existing_network_id": net, "existing_subnet_id": sub,
                          "floating_ip": False}, hostile(st.uuids().map(str)),
        hostile(st.sampled_from(["lab-subnet", "3f1c2d4e-0000-4000-8000-000000000001"]))),
    "existing_subnet_id": _text("existing_subnet_id", st.uuids().map(str)),
    "dns_nameservers": lambda args: _single("dns_nameservers", st.lists(
        hostile(_host(_subnet_of(args)) | st.sampled_from(["192.0.2.53", "2001:db8::53"])),
        max_size=6)),
    "external_network_id": _text("external_network_id", st.uuids().map(str)),
    "external_network": _text("external_network", st.text(min_size=1, max_size=20)),
    "vip_address": _address_setting("vip_address"),
    "member_count": _member_addresses,
    "member_addresses": _member_addresses,
    "image": _text("image", st.sampled_from(["debian-12", "Debian 12 (bookworm)"])),
    "flavor": _text("flavor", st.sampled_from(["m1.small", "6f0c-flavor"])),
    "key_pair": _text("key_pair", st.from_regex(r"[A-Za-z0-9 _.@-]{1,20}", fullmatch=True)),
    "server_group_policy": _choice("server_group_policy",
                                   ["anti-affinity", "soft-anti-affinity", "none"]),
    "config_drive": lambda args: _single("config_drive", hostile(BOOLS)),
    "floating_ip": lambda args: _single("floating_ip", hostile(BOOLS)),
    "http_port": _ints("http_port", 1, 65535),
    "http_allowed_cidrs": _cidr_list("http_allowed_cidrs"),
    "ssh_allowed_cidrs": _cidr_list("ssh_allowed_cidrs"),
    "vrrp_version": lambda args: st.builds(
        lambda version, advert: {"vrrp_version": version, "advert_interval": advert},
        hostile(st.sampled_from([2, 3])), st.sampled_from([1, 2, "1", 0.2])),
    "advert_interval": lambda args: _single("advert_interval", hostile(st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(0, 50).map(lambda n: n / 100), st.decimals(places=3).map(str)))),
    "virtual_router_id": _ints("virtual_router_id", 0, 255),
    "web_check_interval": _seconds("web_check_interval", 0, 100),
    "web_check_timeout": _seconds("web_check_timeout", 0, 100),
    "priorities": lambda args: _single("priorities", st.lists(
        hostile(st.integers(0, 256)), max_size=4)),
    "preemption": _choice("preemption", ["never", "always", "delayed"]),
    "preempt_delay": _ints("preempt_delay", 1, 1000),
    "health_check_interval": _ints("health_check_interval", 1, 60),
    "health_check_fall": _ints("health_check_fall", 1, 10),
    "health_check_rise": _ints("health_check_rise", 1, 10),
    "interface": _text("interface", st.from_regex(r"auto|[a-z][a-z0-9]{1,10}", fullmatch=True)),
    "package_source": _choice("package_source", ["internet", "mirror", "preinstalled"]),
    "apt_mirror": _mirror,
    "apt_mirror_key": _mirror_key,
    "smoke_check": lambda args: _single("smoke_check", hostile(BOOLS)),
    "failover_drill": lambda args: _single("failover_drill", hostile(BOOLS)),
    "check_address": lambda args: _single("check_address", hostile(
        _host(_subnet_of(args)) | st.sampled_from(["203.0.113.10", "2001:db8::10", ""]))),
    "check_deadline": _ints("check_deadline", 10, 3600),
    "gateway_check": lambda args: _single("gateway_check", hostile(BOOLS)),
    "realtime_vrrp": lambda args: _single("realtime_vrrp", hostile(BOOLS)),
}


def strategy_for(setting: str, args: dict[str, Any]) -> Overrides:
    """The setting's own strategy; a setting added later without one still gets its
    default's type, hostile values and any text."""
    if setting in STRATEGIES:
        return STRATEGIES[setting](args)
    default = DEFAULTS[setting]
    same_type: st.SearchStrategy[Any] = st.from_type(type(default)) if not isinstance(
        default, list) else st.lists(st.text(max_size=20), max_size=3)
    return _single(setting, hostile(st.one_of(st.just(default), same_type)))


# ---- the real tools ---------------------------------------------------------------------------


class RealTools:
    """cloud-init's validator, one namespace for `keepalived -t`, dash for `sh -n`."""

    def __init__(self) -> None:
        for tool in ("keepalived", "cloud-init", "sh", "ip", "unshare"):
            assert shutil.which(tool), f"{tool} is missing: scripts/test installs it"
        self.schema = SchemaValidator()
        self.namespace = MemberNamespace()
        self._lock = threading.Lock()
        self.runs = {"refused": 0, "accepted": 0, "members checked": 0,
                     "cloud-init schema": 0, "keepalived -t": 0, "sh -n": 0}

    def close(self) -> None:
        self.schema.close()
        self.namespace.delete()

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.runs[what] += n

    def check_members(self, members: list[tuple[str, str, str]]) -> None:
        """(name, user-data, own address) of each member: cloud-init's validator one by
        one (one process), the rest on WORKERS threads."""
        for member, user_data, _ in members:
            error = self.schema.check(user_data)
            self.count("cloud-init schema")
            assert error is None, f"{member}: cloud-init schema: {error}"
        with ThreadPoolExecutor(WORKERS) as pool:
            for done in [pool.submit(self._check_files, *member) for member in members]:
                done.result()
        self.count("members checked", len(members))

    def _check_files(self, member: str, user_data: str, address: str) -> None:
        files = written_files(user_data)
        with tempfile.TemporaryDirectory(prefix="vrrp-prop-", dir="/run") as directory:
            root = Path(directory)
            root.chmod(0o755)
            for path, entry in files.items():
                if entry["content"].startswith("#!/bin/sh"):
                    script = root / "script.sh"
                    script.write_text(entry["content"])
                    result = subprocess.run(["sh", "-n", str(script)], capture_output=True,
                                            text=True, check=False)
                    self.count("sh -n")
                    assert result.returncode == 0, f"{member}: sh -n {path}: {result.stderr}"
            etc = root / "etc"
            etc.mkdir(mode=0o755)
            with self._lock:  # the shared namespace gets the member's address once
                self.namespace.add(address)
                if render.INTERFACE_FILE in files:
                    self.namespace.ensure_link(
                        files[render.INTERFACE_FILE]["content"].strip().split("=", 1)[1])
            result = keepalived_test(user_data, address, etc, namespace=self.namespace)
            self.count("keepalived -t")
            assert result.returncode == 0 and not result.stderr.strip(), (
                f"{member}: keepalived -t: {result.stdout}{result.stderr}")


@pytest.fixture(scope="module")
def tools() -> Iterator[RealTools]:
    real = RealTools()
    yield real
    real.close()
    print(f"\nreal tools run by the property tests: {real.runs}")


# ---- the property -----------------------------------------------------------------------------

KNOWN = {setting_name(key) for key in DEFAULTS} | {"name", "arguments"}


def _names_a_setting(message: str) -> bool:
    head = message.split(":", 1)[0]
    return head.split("[", 1)[0] in KNOWN and ": " in message and "is not valid;" in message


def _default_twin(settings: Settings) -> dict[str, Any]:
    """The recipe with the same structural switches: what the structure is compared with."""
    twin = dict(RECIPE_ARGS)
    if settings.package_source != "internet":
        twin["package_source"] = settings.package_source
    if settings.package_source == "mirror":
        twin["apt_mirror"] = "http://10.10.0.250:8080/debian"
        twin["apt_mirror_key"] = KEY if settings.apt_mirror_key else ""
    if settings.interface != "auto":
        twin["interface"] = "eth0"
    if not settings.gateway_check_address:
        twin["gateway_check"] = False
    if not settings.web_check_interval:
        twin["web_check_interval"] = 0
    return twin


_twins: dict[str, dict[str, Any]] = {}


def _twin_skeleton(settings: Settings) -> dict[str, Any]:
    twin = _default_twin(settings)
    key = repr(sorted(twin.items()))
    if key not in _twins:
        user_data = _render(twin, "vrrp")["vrrp-node-1"]
        _twins[key] = skeleton(yaml.safe_load(user_data), "10.10.0.4")
    return _twins[key]


def _render(args: dict[str, Any], name: str) -> dict[str, str]:
    """Each member's user-data, with Neutron's allocations taken from the pair's subnet."""
    def program() -> Any:
        return VrrpPair(name, args).instance_ids  # type: ignore[arg-type]

    settings = parse_settings(name, args)
    mocks = run_program(program, RecordingMocks(
        subnet=str(settings.subnet),
        reserved={str(a) for a in [*settings.reserved_addresses(), settings.effective_gateway]}))
    return {r.name: r.inputs["userData"] for r in mocks.of_type("compute/instance:Instance")}


def check_any_value(name: str, args: dict[str, Any], tools: RealTools) -> None:
    try:
        settings = parse_settings(name, args)
    except VrrpPairConfigError as error:
        tools.count("refused")
        event(f"refused: {str(error).split(':', 1)[0].split('[', 1)[0]}")
        assert _names_a_setting(str(error)), f"the error names no setting: {error}"
        mocks = RecordingMocks()

        def program() -> None:
            VrrpPair(name, args)  # type: ignore[arg-type]

        with pytest.raises(VrrpPairConfigError):
            run_program(program, mocks)
        assert mocks.resources == [] and set(mocks.dependencies) <= {"vrrp-pair-test"}
        return
    tools.count("accepted")
    event("accepted")
    expected = _twin_skeleton(settings)
    members = []
    for member, user_data in _render(args, name).items():
        size = len(user_data.encode())
        assert size <= MAX_USER_DATA, f"{member}: {size} bytes"
        assert len(base64.b64encode(user_data.encode())) <= NOVA_USER_DATA_LIMIT
        document = yaml.safe_load(user_data)
        conf = written_files(user_data)[render.KEEPALIVED_CONF]["content"]
        address = conf.split("unicast_src_ip ", 1)[1].split()[0]
        assert skeleton(document, address) == expected, member
        for path, entry in written_files(user_data).items():
            if path in TEMPLATE_OF:
                bad = misfits(TEMPLATE_OF[path], entry["content"])
                assert not bad, f"{member}: {path} has lines its template does not make: {bad}"
        members.append((member, user_data, address))
    tools.check_members(members)


def _accepted(name: str, args: dict[str, Any]) -> bool:
    try:
        parse_settings(name, args)
    except VrrpPairConfigError:
        return False
    return True


@st.composite
def configuration(draw: st.DrawFn, settings_to_vary: list[str]) -> tuple[str, dict[str, Any]]:
    """A base and values for `settings_to_vary`. Every setting but the last keeps a
    value the others accept (up to three draws), so that mixed examples still reach
    the renderer; the last one is drawn freely."""
    args = dict(BASES[draw(st.sampled_from(sorted(BASES)))])
    name = "vrrp"
    for position, setting in enumerate(settings_to_vary):
        last = position == len(settings_to_vary) - 1
        for _ in range(1 if last else 3):
            if setting == "name":
                candidate_name, candidate = draw(hostile(NAMES)), args
            else:
                candidate_name, candidate = name, {**args, **draw(strategy_for(setting, args))}
            if last or _accepted(candidate_name, candidate):
                name, args = candidate_name, candidate
                break
    return name, args


SETTINGS = ["name", *DEFAULTS]
RELAXED = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
           HealthCheck.function_scoped_fixture]


@pytest.mark.root  # keepalived -t in a network namespace of its own
@pytest.mark.parametrize("setting", SETTINGS)
def test_any_value_of_one_setting(setting: str, tools: RealTools) -> None:
    @settings(max_examples=PER_SETTING_EXAMPLES, deadline=None, suppress_health_check=RELAXED,
              phases=PHASES)
    @given(configuration([setting]))
    def run(example: tuple[str, dict[str, Any]]) -> None:
        check_any_value(*example, tools)

    run()


@pytest.mark.root  # keepalived -t in a network namespace of its own
@settings(max_examples=COMBINED_EXAMPLES, deadline=None, suppress_health_check=RELAXED,
          phases=PHASES)
@given(st.lists(st.sampled_from(SETTINGS), min_size=2, max_size=6, unique=True).flatmap(
    configuration))
def test_any_values_of_several_settings(tools: RealTools, example: tuple[str, dict[str, Any]]
                                        ) -> None:
    check_any_value(*example, tools)


def test_every_setting_is_drawn_by_its_own_strategy() -> None:
    """A setting added without a strategy is still drawn (from its default's type),
    but says so here so that someone writes one."""
    assert set(DEFAULTS) <= set(STRATEGIES), sorted(set(DEFAULTS) - set(STRATEGIES))


def test_the_structure_checks_can_fail() -> None:
    """An injected keepalived directive, a second shell command, an extra runcmd entry
    and an extra file are all caught by the checks the properties use."""
    user_data = _render(dict(RECIPE_ARGS), "vrrp")["vrrp-node-1"]
    files = written_files(user_data)
    conf = files[render.KEEPALIVED_CONF]["content"]
    assert misfits("keepalived.conf.j2", conf) == []
    injected = conf.replace("    nopreempt\n", "    nopreempt\n    notify_master /sbin/reboot\n")
    assert misfits("keepalived.conf.j2", injected) == ["    notify_master /sbin/reboot"]
    script = files[render.GATEWAY_SCRIPT]["content"]
    assert misfits("check-gateway.sh.j2", script.replace("10.10.0.1", "10.10.0.1; reboot"))
    document = yaml.safe_load(user_data)
    shape = skeleton(document, "10.10.0.4")
    assert shape == _twin_skeleton(parse_settings("vrrp", RECIPE_ARGS))
    assert skeleton({**document, "runcmd": [*document["runcmd"], ["reboot"]]},
                    "10.10.0.4") != shape
    extra = {**document, "write_files": [*document["write_files"],
                                         {"path": "/etc/cron.d/x", "content": "x"}]}
    assert skeleton(extra, "10.10.0.4") != shape
