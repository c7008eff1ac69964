"""Rewrites the golden files: what the renderer makes for each variant, member by member.

    python -m tests.golden.regenerate

tests/test_golden_rendering.py compares the renderer's output with the files in this
folder, `<variant>/<member>/<file>`: each file the member's user-data writes (by its base
name) and the whole `user-data.yaml`. Files copied verbatim from cloud-init/ (the web
check's script, the interface script, keepalived's systemd drop-in) are not repeated
as files of their own; they are in user-data.yaml.

Every value is fixed (addresses, VRID) and the only secret, the VRRPv2 password, is
the fake FAKE_AUTH_PASS, so the output is the same on every machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from vrrp_pair import render
from vrrp_pair.settings import parse_settings

from labs.pulumi_harness import RECIPE_ARGS
from tests import REPO_ROOT as ROOT

GOLDEN_DIR = Path(__file__).resolve().parent
NAME = "vrrp"
VRID = 42
# A test value, not a secret: VRRPv2 PASS auth carries at most 8 base64url characters.
FAKE_AUTH_PASS = "FAKE-PW0"
# Neutron would allocate these when memberAddresses is empty.
ALLOCATED = {4: ["10.10.0.11", "10.10.0.12", "10.10.0.13"],
             6: ["fd00:10::11", "fd00:10::12", "fd00:10::13"]}
ALLOCATED_VIP = {4: "10.10.0.100", 6: "fd00:10::100"}
MIRROR_KEY = (ROOT / "tests" / "data" / "mirror-key.asc").read_text()  # a public test key

BASE: dict[str, Any] = RECIPE_ARGS  # the recipe: two members, VIP .200, a floating IP

# variant -> settings (snake_case, as parse_settings takes them). Defaults: VRRPv3,
# packages from the internet, gateway check on, fast web check on, interface auto,
# preemption never.
VARIANTS: dict[str, dict[str, Any]] = {
    "vrrpv3": BASE,
    "vrrpv2": {**BASE, "vrrp_version": 2, "advert_interval": 1, "preemption": "always"},
    "mirror": {**BASE, "package_source": "mirror",
               "apt_mirror": "http://10.10.0.250:8080/debian", "apt_mirror_key": MIRROR_KEY},
    "preinstalled-eth0": {**BASE, "package_source": "preinstalled", "interface": "eth0",
                          "http_port": 8080},
    "no-gateway-check": {**BASE, "gateway_check": False},
    "no-web-check": {**BASE, "web_check_interval": 0},
    "three-members": {**BASE, "member_count": 3, "member_addresses": [], "vip_address": "",
                      "preemption": "delayed", "preempt_delay": 10},
    "ipv6": {**BASE, "subnet_cidr": "fd00:10::/64", "vip_address": "fd00:10::200",
             "member_addresses": ["fd00:10::4", "fd00:10::5"], "floating_ip": False,
             "http_allowed_cidrs": ["::/0"]},
}

# Written as they are in cloud-init/: user-data.yaml holds them.
VERBATIM = {render.WEB_CHECK_SCRIPT, render.INTERFACE_SCRIPT, render.KEEPALIVED_DROPIN}


def render_variant(variant: str) -> dict[str, str]:
    """`<member>/<file>` -> content, for every member of `variant`."""
    settings = parse_settings(NAME, VARIANTS[variant])
    addresses = ([str(a) for a in settings.member_addresses]
                 or ALLOCATED[settings.ip_version][:settings.member_count])
    vip = str(settings.vip_address or ALLOCATED_VIP[settings.ip_version])
    auth_pass = FAKE_AUTH_PASS if settings.uses_auth else None
    out: dict[str, str] = {}
    for index, name in enumerate(settings.member_names):
        member = render.MemberView(
            name=name, address=addresses[index],
            peers=tuple(a for j, a in enumerate(addresses) if j != index),
            priority=settings.priorities[index])
        for file in render.member_files(settings, member, vip, VRID, auth_pass):
            if file.path not in VERBATIM:
                key = f"{name}/{Path(file.path).name}"
                assert key not in out, f"two files named {key}"
                out[key] = file.content
        out[f"{name}/user-data.yaml"] = render.user_data(settings, member, vip, VRID, auth_pass)
    return out


def render_all() -> dict[str, str]:
    """`<variant>/<member>/<file>` -> content."""
    return {f"{variant}/{key}": text for variant in VARIANTS
            for key, text in render_variant(variant).items()}


def golden_files() -> dict[str, str]:
    """The checked-in golden files, keyed like render_all()."""
    return {path.relative_to(GOLDEN_DIR).as_posix(): path.read_text()
            for variant in sorted(p for p in GOLDEN_DIR.iterdir() if p.is_dir()
                                  and p.name != "__pycache__")
            for path in sorted(variant.rglob("*")) if path.is_file()}


def main() -> None:
    for directory in GOLDEN_DIR.iterdir():
        if directory.is_dir() and directory.name != "__pycache__":
            shutil.rmtree(directory)
    rendered = render_all()
    for key, text in rendered.items():
        path = GOLDEN_DIR / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(rendered)} files for {len(VARIANTS)} variants under {GOLDEN_DIR}")


if __name__ == "__main__":
    main()
