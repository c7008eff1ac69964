"""Renders the files in cloud-init/ into one member's user-data.

This is the only place that turns settings into file contents, so the unit
tests, `cloud-init schema`, `keepalived -t` and the namespace lab all check
the same bytes a VM receives.
"""

from __future__ import annotations

import functools
import html
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

import jinja2
import yaml

from .settings import Settings

# cloud-init/ in the repository, installed as the package data `vrrp_pair.templates`.
TEMPLATE_PACKAGE = "vrrp_pair.templates"

KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"
INTERFACE_FILE = "/etc/keepalived/vrrp-interface.conf"
CHECK_SCRIPT = "/etc/keepalived/check-web.sh"
GATEWAY_SCRIPT = "/etc/keepalived/check-gateway.sh"
MEMBER_CHECK_SCRIPT = "/etc/keepalived/check-member.sh"
INTERFACE_SCRIPT = "/usr/local/sbin/vrrp-pair-interface"
WEB_CHECK_SCRIPT = "/usr/local/sbin/vrrp-pair-webcheck"
WEB_CHECK_UNIT = "/etc/systemd/system/vrrp-pair-webcheck.service"
WEB_CHECK_SERVICE = "vrrp-pair-webcheck"
KEEPALIVED_DROPIN = "/etc/systemd/system/keepalived.service.d/vrrp-pair.conf"
# The fast web check's verdict, tracked by keepalived (systemd's RuntimeDirectory).
WEB_CHECK_STATE_DIR = "/run/vrrp-pair"
WEB_CHECK_STATE = f"{WEB_CHECK_STATE_DIR}/web-health"
# Debian's APACHE_PID_FILE (/var/run/apache2/apache2.pid; /var/run is /run).
APACHE_PIDFILE = "/run/apache2/apache2.pid"
INDEX_HTML = "/var/www/html/index.html"
APACHE_PORTS = "/etc/apache2/ports.conf"
# apt reads an armoured .asc keyring itself: no gpg needed in the image.
APT_MIRROR_KEYRING = "/etc/apt/keyrings/vrrp-pair-mirror.asc"
APACHE_SITE = "/etc/apache2/sites-available/000-default.conf"
PACKAGES = ("keepalived", "apache2", "curl", "iputils-ping")
SCRIPT_USER = "nobody"
# SCHED_RR priority of keepalived's VRRP process: above every ordinary process,
# below the kernel's threaded interrupt handlers (50).
VRRP_RT_PRIORITY = 40
MAX_AUTO_PRIORITY = 49
# RLIMIT_RTTIME of the real-time VRRP process, microseconds (keepalived's default,
# 10 ms, got it killed at start in the VM lab's emulated guests).
VRRP_RLIMIT_RTTIME_US = 1_000_000
# 1 s, not Octavia's 5 s: the namespace lab measured the client's gap after a
# split brain heals at 0.03/0.18/0.82 s (min/median/max) with 1 s, against
# 0.12/0.98/2.05 s with 5 s.
GARP_REFRESH_SECONDS = 1
GARP_REFRESH_REPEAT = 2

# One word of a keepalived or Apache config: nothing that starts a comment (# !), a
# definition ($), a conditional (@), a sequence (~), a quoted string or a block.
CONFIG_WORD = re.compile(r"[A-Za-z0-9_.:/-]+")
# One sources.list word (no blank, no comment) that a YAML literal block keeps as is.
APT_WORD = re.compile(r"[!\"%-~]+")
# What VRRPv2 PASS auth carries: the AUTH_SECRET_COMMAND's base64url characters.
AUTH_PASS = re.compile(r"[A-Za-z0-9_-]{1,8}")
# Longest text an address of each family can have: the worst case the cloud can fill in.
LONGEST_ADDRESS = {4: "255.255.255.255", 6: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}


class RenderError(ValueError):
    """A value cannot be written safely into the file it was meant for."""


class Escaped(str):
    """Text already escaped for the file it goes into: the finalizers pass it on."""


def _refuse(kind: str, value: object, why: str) -> RenderError:
    return RenderError(f"{value!r} cannot go into a {kind}: {why}")


def _one_line(kind: str, value: object) -> str:
    text = str(value)
    if not text.isprintable():
        raise _refuse(kind, value, "it holds a control or line-break character")
    return text


def yaml_scalar(value: object) -> Escaped:
    """One YAML scalar on one line, as PyYAML's emitter writes it in a flow sequence
    (so it is also safe in a block, a comment or a flow list): plain when that reads
    back as the same string, quoted otherwise."""
    if isinstance(value, Escaped):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _refuse("YAML document", value, "only strings and whole numbers are written")
    for style in (None, '"'):
        text = yaml.safe_dump([value], default_flow_style=True, default_style=style,
                              width=float("inf"), allow_unicode=False)
        text = text.strip()
        if "\n" not in text:
            return Escaped(text[1:-1])
    raise _refuse("YAML document", value, "the emitter wrote more than one line")


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks when YAML can hold them verbatim."""


_LiteralDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def yaml_block(value: str, indent: int) -> Escaped:
    """`value` as the YAML value of a key written at column `indent`: a literal block
    (`|`, with the emitter's own chomping and indentation indicators) that an
    operator can read, or a quoted scalar where a literal block cannot hold the text."""
    # A key after it, so that a kept (`|+`) block does not end the document ("...").
    text = yaml.dump({"k": value, "l": 0}, Dumper=_LiteralDumper, width=float("inf"),
                     allow_unicode=False, default_flow_style=False, sort_keys=True)
    assert text.startswith("k: ") and text.endswith("\nl: 0\n"), text
    first, *rest = text[len("k: "):-len("\nl: 0\n")].split("\n")
    pad = " " * indent
    return Escaped("\n".join([first, *[pad + line if line else line for line in rest]]))


def apt_word(value: object) -> Escaped:
    """One word of a sources.list line inside a YAML literal block (kept verbatim)."""
    text = _one_line("sources.list line", value)
    if not APT_WORD.fullmatch(text):
        raise _refuse("sources.list line", value, "it is not one printable word without #")
    return Escaped(text)


def _escaped(kind: str, escape: Callable[[str], str], value: object) -> Escaped:
    """The finalizer of one kind of file (bound with functools.partial): strings and whole
    numbers, escaped by `escape`; text already escaped passes as it is."""
    if isinstance(value, Escaped):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _refuse(kind, value, "only strings and whole numbers are written")
    return Escaped(escape(str(value)))


def _config_word(text: str) -> str:
    if not CONFIG_WORD.fullmatch(text):
        raise _refuse("config file", text, "only letters, digits and _ . : / - are written")
    return text


def _shell_quote(text: str) -> str:
    return shlex.quote(_one_line("shell script", text))


def _html_escape(text: str) -> str:
    return html.escape(_one_line("web page", text), quote=True)


# A keepalived or Apache config value: refused unless it is one plain word.
config_word = functools.partial(_escaped, "config file", _config_word)
# One shell word, quoted by shlex; never a line break (so comments stay comments).
shell_word = functools.partial(_escaped, "shell script", _shell_quote)
html_text = functools.partial(_escaped, "web page", _html_escape)


def template_text(name: str) -> str:
    """One file of cloud-init/ as shipped with the package (a template or a script)."""
    return (files(TEMPLATE_PACKAGE) / name).read_text(encoding="utf-8")


def _environment(finalize: Callable[[object], Escaped]) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(template_text),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # A line that holds only a block tag ({% if %}, {% for %}...) writes nothing:
        # neither its indentation nor its line break.
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        finalize=finalize,
    )
    environment.filters.update(yaml_block=yaml_block, apt_word=apt_word)
    return environment


# Every `{{ value }}` goes through the escaper of the file it lands in, so a value
# that validation let through by mistake still cannot become code there.
FINALIZERS: dict[str, Callable[[object], Escaped]] = {
    ".yaml.j2": yaml_scalar,
    ".sh.j2": shell_word,
    ".conf.j2": config_word,
    ".service.j2": config_word,  # systemd units: one plain word per value
    ".html.j2": html_text,
}
# One Jinja environment per kind of file, made when first used (not at import).
_ENVIRONMENTS: dict[str, jinja2.Environment] = {}


@dataclass(frozen=True)
class MemberView:
    """What differs between members: resolved once addresses are known."""

    name: str
    address: str
    peers: tuple[str, ...]
    priority: int


@dataclass(frozen=True)
class RenderedFile:
    path: str
    mode: str
    content: str


def _render(template: str, **context: object) -> str:
    kinds = [suffix for suffix in FINALIZERS if template.endswith(suffix)]
    if not kinds:
        raise RenderError(f"{template}: no escaping rule for this kind of file; add one to "
                          "render.FINALIZERS")
    if kinds[0] not in _ENVIRONMENTS:
        _ENVIRONMENTS[kinds[0]] = _environment(FINALIZERS[kinds[0]])
    return _ENVIRONMENTS[kinds[0]].get_template(template).render(**context)


def _format_advert(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.2f}".rstrip("0")


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g}"


def web_check_on(settings: Settings) -> bool:
    return settings.web_check_interval > 0


def services(settings: Settings) -> tuple[str, ...]:
    """The member's services in start order: Apache, its fast check, keepalived."""
    return ("apache2", *((WEB_CHECK_SERVICE,) if web_check_on(settings) else ()), "keepalived")


def instance_name(settings: Settings) -> str:
    return f"{settings.name.replace('-', '_')}_vip"


def keepalived_conf(settings: Settings, member: MemberView, vip: str, vrid: int,
                    auth_pass: str | None) -> str:
    if settings.uses_auth and not (auth_pass and AUTH_PASS.fullmatch(auth_pass)):
        # The secret itself is never put in an error message.
        raise RenderError("the VRRPv2 secret must be 1 to 8 base64url characters "
                          f"({len(auth_pass or '')} characters given)")
    return _render(
        "keepalived.conf.j2",
        member_name=member.name,
        script_user=SCRIPT_USER,
        garp_refresh=GARP_REFRESH_SECONDS,
        garp_refresh_repeat=GARP_REFRESH_REPEAT,
        realtime_vrrp=settings.realtime_vrrp,
        vrrp_rt_priority=VRRP_RT_PRIORITY,
        max_auto_priority=MAX_AUTO_PRIORITY,
        vrrp_rlimit_rttime=VRRP_RLIMIT_RTTIME_US,
        web_check_state=WEB_CHECK_STATE if web_check_on(settings) else None,
        interface_file=INTERFACE_FILE,
        own_ip=member.address,
        check_name="check_member",
        check_script_path=MEMBER_CHECK_SCRIPT,
        check_interval=settings.health_check_interval,
        check_timeout=member_check_timeout(settings),
        check_fall=settings.health_check_fall,
        check_rise=settings.health_check_rise,
        instance_name=instance_name(settings),
        vrrp_version=settings.vrrp_version,
        vrid=vrid,
        priority=member.priority,
        advert_int=_format_advert(settings.advert_interval),
        preemption=settings.preemption,
        preempt_delay=settings.preempt_delay,
        peers=member.peers,
        auth_pass=auth_pass if settings.uses_auth else None,
        vip=vip,
        vip_prefix=128 if settings.ip_version == 6 else 32,
    )


def member_check_timeout(settings: Settings) -> int:
    """Seconds keepalived lets check-member.sh run: curl's own limit (the interval),
    plus two gateway pings of at most 1 s each, plus 1 s to start on a slow host."""
    pings = 2 if settings.gateway_check_address else 0
    return settings.health_check_interval + pings + 1


def member_files(settings: Settings, member: MemberView, vip: str, vrid: int,
                 auth_pass: str | None) -> list[RenderedFile]:
    """The files cloud-init writes on one member, in write order."""
    files = [
        RenderedFile(APACHE_PORTS, "0644", _render("apache-ports.conf.j2",
                                                    http_port=settings.http_port)),
        RenderedFile(APACHE_SITE, "0644", _render("apache-site.conf.j2",
                                                   http_port=settings.http_port,
                                                   web_check_agent=WEB_CHECK_SERVICE
                                                   if web_check_on(settings) else None)),
        RenderedFile(INDEX_HTML, "0644", _render("index.html.j2", member_name=member.name)),
        RenderedFile(CHECK_SCRIPT, "0755", _render(
            "check-web.sh.j2", member_name=member.name, http_port=settings.http_port,
            check_http_timeout=settings.health_check_interval)),
        *([RenderedFile(GATEWAY_SCRIPT, "0755", _render(
            "check-gateway.sh.j2", member_name=member.name,
            gateway=settings.gateway_check_address))] if settings.gateway_check_address else []),
        RenderedFile(MEMBER_CHECK_SCRIPT, "0755", _render(
            "check-member.sh.j2", member_name=member.name, web_script=CHECK_SCRIPT,
            gateway_script=GATEWAY_SCRIPT if settings.gateway_check_address else "")),
        *(web_check_files(settings, member) if web_check_on(settings) else []),
        RenderedFile(KEEPALIVED_CONF, "0600",
                     keepalived_conf(settings, member, vip, vrid, auth_pass)),
    ]
    if settings.interface == "auto":
        files.append(RenderedFile(INTERFACE_SCRIPT, "0755",
                                  template_text("vrrp-interface.sh")))
    else:
        files.append(RenderedFile(INTERFACE_FILE, "0644",
                                  f"$VRRP_INTERFACE={config_word(settings.interface)}\n"))
    return files


def web_check_files(settings: Settings, member: MemberView) -> list[RenderedFile]:
    """The fast web check: its script, its systemd unit, and keepalived ordered after it."""
    unit = _render(
        "vrrp-pair-webcheck.service.j2", member_name=member.name, script_path=WEB_CHECK_SCRIPT,
        http_port=settings.http_port, interval=_format_seconds(settings.web_check_interval),
        timeout=_format_seconds(settings.web_check_timeout), fall=settings.health_check_fall,
        rise=settings.health_check_rise, apache_pidfile=APACHE_PIDFILE,
        state_file=WEB_CHECK_STATE, state_dir_name=WEB_CHECK_STATE_DIR.removeprefix("/run/"))
    return [
        RenderedFile(WEB_CHECK_SCRIPT, "0755",
                     template_text("vrrp-pair-webcheck.py")),
        RenderedFile(WEB_CHECK_UNIT, "0644", unit),
        RenderedFile(KEEPALIVED_DROPIN, "0644",
                     template_text("keepalived-after-webcheck.conf")),
    ]


def user_data(settings: Settings, member: MemberView, vip: str, vrid: int,
              auth_pass: str | None) -> str:
    """The whole #cloud-config document for one member."""
    return _render(
        "user-data.yaml.j2",
        member_name=member.name,
        package_source=settings.package_source,
        apt_mirror=settings.apt_mirror,
        apt_mirror_key=settings.apt_mirror_key,
        apt_mirror_keyring=APT_MIRROR_KEYRING,
        packages=PACKAGES,
        files=member_files(settings, member, vip, vrid, auth_pass),
        detect_interface=settings.interface == "auto",
        interface_script_path=INTERFACE_SCRIPT,
        interface_file=INTERFACE_FILE,
        own_ip=member.address,
        reload_units=web_check_on(settings),
        services=services(settings),
    )


def worst_case_user_data(settings: Settings) -> dict[str, str]:
    """Each member's user-data with the longest values the cloud may still fill in
    (addresses Neutron allocates, a three-digit VRID, an 8-character secret): what
    the preview-time size check measures."""
    longest = LONGEST_ADDRESS[settings.ip_version]
    return {name: user_data(settings, MemberView(name=name, address=longest,
                                                 peers=(longest,) * (settings.member_count - 1),
                                                 priority=settings.priorities[index]),
                            vip=longest, vrid=255, auth_pass="A" * 8)
            for index, name in enumerate(settings.member_names)}
