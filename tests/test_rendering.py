"""What the rendered files say for the settings that change them."""

from __future__ import annotations

import yaml

from components import render
from tests.rendered import VARIANTS, rendered_user_data, written_files


def _first(variant: str) -> str:
    return next(iter(rendered_user_data(VARIANTS[variant]).values()))


def test_own_subnet_gets_the_gateway_isolation_check() -> None:
    files = written_files(_first("recipe-default"))
    conf = files[render.KEEPALIVED_CONF]["content"]
    assert "vrrp_script check_gateway" in conf and "        check_gateway\n" in conf
    assert "ping -n -q -c 1 -W 1 10.10.0.1 " in files[render.GATEWAY_SCRIPT]["content"]
    assert "garp_master_refresh 1\n" in conf


def test_existing_subnet_without_gateway_ip_has_no_gateway_check() -> None:
    args = {**VARIANTS["recipe-default"], "existing_network_id": "n", "existing_subnet_id": "s",
            "floating_ip": False}
    user_data = next(iter(rendered_user_data(args).values()))
    conf = written_files(user_data)[render.KEEPALIVED_CONF]["content"]
    assert "check_gateway" not in conf
    assert render.GATEWAY_SCRIPT not in written_files(user_data)
    # The optional block leaves the next one on a line of its own (it was
    # "}vrrp_instance vrrp_vip {": found by the property tests).
    assert "}\n\nvrrp_instance " in conf


def test_mirror_uses_a_signed_by_keyring_and_sets_internet_sources_aside() -> None:
    document = yaml.safe_load(_first("mirror-with-key"))
    assert document["apt"]["sources_list"] == (
        f"deb [signed-by={render.APT_MIRROR_KEYRING}] http://10.10.0.250:8080/debian "
        "$RELEASE main\n")
    keyring = written_files(_first("mirror-with-key"))[render.APT_MIRROR_KEYRING]
    assert "defer" not in keyring, "the key must exist before apt runs"
    assert "BEGIN PGP PUBLIC KEY BLOCK" in keyring["content"]
    assert "sources.list.d/*.sources" in " ".join(map(str, document["bootcmd"][0]))


def test_preinstalled_image_installs_nothing() -> None:
    document = yaml.safe_load(_first("preinstalled-eth0-8080"))
    assert "packages" not in document and "apt" not in document
    files = written_files(_first("preinstalled-eth0-8080"))
    assert files[render.INTERFACE_FILE]["content"] == "$VRRP_INTERFACE=eth0\n"
    assert "Listen 8080" in files[render.APACHE_PORTS]["content"]


def test_vm_image_and_mirror_hold_exactly_the_packages_the_user_data_installs() -> None:
    from pathlib import Path

    script = (Path(__file__).resolve().parent / "vmlab" / "build-image").read_text()
    line = next(x for x in script.splitlines() if x.startswith("service_packages=("))
    assert tuple(line.split("(", 1)[1].split(")", 1)[0].split()) == render.PACKAGES
