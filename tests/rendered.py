"""Each member's user-data, rendered through the component under Pulumi mocks, for the
variants the unit tests check with real tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from labs.namespace.render import PairSpec, render_pairs
from labs.pulumi_harness import RECIPE_ARGS


def rendered_user_data(args: dict[str, Any], name: str = "vrrp") -> dict[str, str]:
    """member name -> the exact #cloud-config text Nova would receive (the labs' renderer,
    with exactly these arguments)."""
    (members,) = render_pairs([PairSpec(name, args)], base={})
    return {member.name: member.user_data for member in members}


def written_files(user_data: str) -> dict[str, dict[str, Any]]:
    """path -> write_files entry, as cloud-init parses it."""
    document = yaml.safe_load(user_data)
    return {entry["path"]: entry for entry in document["write_files"]}


VARIANTS: dict[str, dict[str, Any]] = {
    "recipe-default": dict(RECIPE_ARGS),
    "vrrpv2-auth": {**RECIPE_ARGS, "vrrp_version": 2, "advert_interval": 1,
                    "preemption": "always"},
    "three-allocated": {**RECIPE_ARGS, "member_count": 3, "member_addresses": [],
                        "vip_address": "", "preemption": "delayed", "preempt_delay": 10},
    "mirror-with-key": {**RECIPE_ARGS, "package_source": "mirror",
                        "apt_mirror": "http://10.10.0.250:8080/debian",
                        "apt_mirror_key": (Path(__file__).parent / "data" / "mirror-key.asc"
                                           ).read_text()},
    "preinstalled-eth0-8080": {**RECIPE_ARGS, "package_source": "preinstalled",
                               "interface": "eth0", "http_port": 8080},
    "no-web-check": {**RECIPE_ARGS, "web_check_interval": 0},
    "ipv6": {**RECIPE_ARGS, "subnet_cidr": "fd00:10::/64", "vip_address": "fd00:10::200",
             "member_addresses": ["fd00:10::4", "fd00:10::5"], "floating_ip": False,
             "http_allowed_cidrs": ["::/0"]},
}
