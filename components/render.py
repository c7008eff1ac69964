"""Renders the files in cloud-init/ into one member's user-data.

This is the only place that turns settings into file contents, so the unit
tests, `cloud-init schema`, `keepalived -t` and the namespace lab all check
the same bytes a VM receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from .settings import Settings

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "cloud-init"

KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"
INTERFACE_FILE = "/etc/keepalived/vrrp-interface.conf"
CHECK_SCRIPT = "/etc/keepalived/check-web.sh"
GATEWAY_SCRIPT = "/etc/keepalived/check-gateway.sh"
INTERFACE_SCRIPT = "/usr/local/sbin/vrrp-pair-interface"
INDEX_HTML = "/var/www/html/index.html"
APACHE_PORTS = "/etc/apache2/ports.conf"
# apt reads an armoured .asc keyring itself: no gpg needed in the image.
APT_MIRROR_KEYRING = "/etc/apt/keyrings/vrrp-pair-mirror.asc"
APACHE_SITE = "/etc/apache2/sites-available/000-default.conf"
PACKAGES = ("keepalived", "apache2", "curl", "iputils-ping")
SCRIPT_USER = "nobody"
# 1 s, not Octavia's 5 s: the namespace lab measured the client's gap after a
# split brain heals at 0.03/0.18/0.82 s (min/median/max) with 1 s, against
# 0.12/0.98/2.05 s with 5 s.
GARP_REFRESH_SECONDS = 1
GATEWAY_FALL = 2
GATEWAY_RISE = 2
GARP_REFRESH_REPEAT = 2

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


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
    return _environment.get_template(template).render(**context)


def _format_advert(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.2f}".rstrip("0")


def instance_name(settings: Settings) -> str:
    return f"{settings.name.replace('-', '_')}_vip"


def keepalived_conf(settings: Settings, member: MemberView, vip: str, vrid: int,
                    auth_pass: str | None) -> str:
    return _render(
        "keepalived.conf.j2",
        member_name=member.name,
        script_user=SCRIPT_USER,
        garp_refresh=GARP_REFRESH_SECONDS,
        garp_refresh_repeat=GARP_REFRESH_REPEAT,
        interface_file=INTERFACE_FILE,
        own_ip=member.address,
        check_name="check_web",
        check_script_path=CHECK_SCRIPT,
        check_interval=settings.health_check_interval,
        check_timeout=settings.health_check_interval + 1,
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
        gateway=settings.gateway_check_address,
        gateway_script_path=GATEWAY_SCRIPT,
        gateway_fall=GATEWAY_FALL,
        gateway_rise=GATEWAY_RISE,
    )


def member_files(settings: Settings, member: MemberView, vip: str, vrid: int,
                 auth_pass: str | None) -> list[RenderedFile]:
    """The files cloud-init writes on one member, in write order."""
    files = [
        RenderedFile(APACHE_PORTS, "0644", _render("apache-ports.conf.j2",
                                                    http_port=settings.http_port)),
        RenderedFile(APACHE_SITE, "0644", _render("apache-site.conf.j2",
                                                   http_port=settings.http_port)),
        RenderedFile(INDEX_HTML, "0644", _render("index.html.j2", member_name=member.name)),
        RenderedFile(CHECK_SCRIPT, "0755", _render(
            "check-web.sh.j2", member_name=member.name, http_port=settings.http_port,
            check_http_timeout=settings.health_check_interval)),
        *([RenderedFile(GATEWAY_SCRIPT, "0755", _render(
            "check-gateway.sh.j2", member_name=member.name,
            gateway=settings.gateway_check_address))] if settings.gateway_check_address else []),
        RenderedFile(KEEPALIVED_CONF, "0600",
                     keepalived_conf(settings, member, vip, vrid, auth_pass)),
    ]
    if settings.interface == "auto":
        files.append(RenderedFile(INTERFACE_SCRIPT, "0755",
                                  (TEMPLATE_DIR / "vrrp-interface.sh").read_text()))
    else:
        files.append(RenderedFile(INTERFACE_FILE, "0644",
                                  f"$VRRP_INTERFACE={settings.interface}\n"))
    return files


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
    )
