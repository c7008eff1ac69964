"""The local cloud's services use no file outside its state dir and its venv.

A fresh machine has no /etc/keystone, /etc/nova, ...: an option left at a default path
there works only on a machine where that path happens to exist (keystone's receipts key
repository, default /etc/keystone/fernet-keys/, failed `keystone-manage bootstrap` on a
fresh Debian 12). Every service's generated config is loaded by oslo.config with the
service's and its libraries' options (scripts/localcloud/config_paths.py, in the cloud's
venv), and every absolute path it names must be ours.
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest

from labs.cloud.location import STATE

REPO = Path(__file__).resolve().parents[2]
CONFIG_PATHS = REPO / "scripts" / "localcloud" / "config_paths.py"

# service: (oslo project, its own options namespace, config files under STATE/etc)
SERVICES: dict[str, tuple[str, str, list[str]]] = {
    "keystone": ("keystone", "keystone", ["keystone/keystone.conf"]),
    "placement": ("placement", "placement.conf", ["placement/placement.conf"]),
    "glance": ("glance", "glance.api", ["glance/glance-api.conf"]),
    "neutron": ("neutron", "neutron,neutron.ml2,neutron.ml2.ovn",
                ["neutron/neutron.conf", "neutron/ml2_conf.ini"]),
    "nova": ("nova", "nova.conf", ["nova/nova.conf"]),
    # nova-compute (fake driver, or libvirt with the data plane) and nova-metadata
    "nova-compute-1": ("nova", "nova.conf", ["nova/nova.conf", "nova/compute-1.conf"]),
    # the data plane only: Neutron's OVN agent (metadata extension) of hypervisor 1
    "neutron-ovn-agent-hv1": ("neutron", "neutron,neutron.agent,neutron.base.agent,"
                              "neutron.ml2.ovn.agent,neutron.ovn.metadata.agent",
                              ["neutron/ovn-agent-hv1.ini"]),
}
DATA_PLANE_ONLY = {"neutron-ovn-agent-hv1"}
# Files that are not oslo.config files, or that only extend one listed above, or that
# are another hypervisor's copy of one listed above.
NOT_SERVICE_CONFIGS = ("-paste.ini", "api-paste.ini", "cell0-db.conf", "compute-",
                       "ovn-agent-hv")

# Defaults of features the local cloud does not turn on: the service never opens them.
UNUSED_FEATURES = {
    "federation.sso_callback_template": "no federation",
    "saml.certfile": "no SAML", "saml.keyfile": "no SAML", "saml.idp_metadata_path": "no SAML",
    "jwt_tokens.jws_public_key_repository": "token provider is fernet, not jws",
    "jwt_tokens.jws_private_key_repository": "token provider is fernet, not jws",
    "oslo_middleware.http_basic_auth_user_file": "auth_strategy keystone, not http_basic",
    "DEFAULT.web": "no SPICE/noVNC console proxy",
    "libvirt.vzstorage_log_path": "no Virtuozzo storage",
    "vmware.serial_log_dir": "no VMware driver",
    "ovn_evpn.frr_vty_socket": "no EVPN (FRR)",
}


@functools.cache
def cloud_venv() -> Path:
    return Path(subprocess.run([str(REPO / "scripts" / "local-cloud"), "venv"], check=True,
                               capture_output=True, text=True).stdout.strip())


def ovn_driver() -> bool:
    """Whether Neutron's ML2 runs the OVN mechanism driver (the data plane)."""
    ml2 = (STATE / "etc" / "neutron" / "ml2_conf.ini").read_text()
    return any(line.replace(" ", "") == "mechanism_drivers=ovn" for line in ml2.splitlines())


def service_paths(project: str, namespace: str, files: list[str]) -> list[tuple[str, str]]:
    out = subprocess.run(
        [str(cloud_venv() / "bin" / "python"), str(CONFIG_PATHS), project, namespace,
         *(str(STATE / "etc" / f) for f in files)],
        check=True, capture_output=True, text=True, timeout=300)
    return [(option, path) for option, path in json.loads(out.stdout)]


def test_every_generated_config_is_checked() -> None:
    listed = {f for _, _, files in SERVICES.values() for f in files}
    generated = {str(p.relative_to(STATE / "etc")) for p in (STATE / "etc").rglob("*")
                 if p.is_file()}
    unchecked = {f for f in generated - listed
                 if not any(part in f for part in NOT_SERVICE_CONFIGS)}
    assert not unchecked, f"add these generated configs to SERVICES: {sorted(unchecked)}"


@pytest.mark.parametrize("service", [
    pytest.param(s, marks=pytest.mark.dataplane) if s in DATA_PLANE_ONLY else s
    for s in sorted(SERVICES)])
def test_service_uses_no_path_outside_the_cloud(service: str) -> None:
    project, namespace, files = SERVICES[service]
    assert (STATE / "etc" / files[0]).is_file(), f"the cloud has no {files[0]}"
    if service == "neutron" and not ovn_driver():
        # fake compute: ML2 runs the local cloud's own mechanism driver, and the server
        # never registers or reads the OVN driver's options
        namespace = "neutron,neutron.ml2"
    ours = (str(STATE) + "/", str(cloud_venv()) + "/", "/dev/")
    foreign = [(option, path) for option, path in service_paths(project, namespace, files)
               if not path.startswith(ours) and option not in UNUSED_FEATURES]
    assert not foreign, f"{service} would use paths outside {STATE}: {foreign}"
