"""Smoke test of the local OpenStack built by ``scripts/local-cloud up``.

Runs only when VRRP_LOCAL_CLOUD=1 is set (CI brings the cloud up first and sets
it), or when a local cloud's clouds.yaml exists and keystone answers on
127.0.0.1:5000. Everything goes through openstacksdk as the regular ``demo``
user (cloud ``vrrp-local``), the same resources the stack creates: network,
subnet, router with a gateway on ``public``, router interface, a security group
with a VRRP (protocol 112) rule from its own group, ports with port security
and allowed-address-pairs, an anti-affinity server group, two servers on the
pre-created ports (ACTIVE, on different hosts), a floating IP on the VIP port.
Plus the rejections Neutron itself must give.
"""

import contextlib
import os
import time
import uuid
from typing import Any

import pytest

from labs.cloud.location import CLOUD, CLOUDS_YAML

IMAGE = os.environ.get("VRRP_LOCAL_CLOUD_IMAGE", "cirros")
FLAVOR = os.environ.get("VRRP_LOCAL_CLOUD_FLAVOR", "m1.small")




@pytest.fixture(scope="module")
def conn():
    openstack = pytest.importorskip("openstack")
    from openstack import config as os_config

    loader = os_config.OpenStackConfig(config_files=[str(CLOUDS_YAML)])
    region = loader.get_one(cloud=CLOUD)
    connection = openstack.connection.Connection(config=region)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def admin_conn():
    openstack = pytest.importorskip("openstack")
    from openstack import config as os_config

    loader = os_config.OpenStackConfig(config_files=[str(CLOUDS_YAML)])
    connection = openstack.connection.Connection(config=loader.get_one(cloud=CLOUD + "-admin"))
    yield connection
    connection.close()


class Cleanup:
    """Deletes what a test created, in reverse order, even when it failed."""

    def __init__(self) -> None:
        self.steps: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

    def add(self, fn, *args, **kwargs):
        self.steps.append((fn, args, kwargs))

    def run(self):
        errors = []
        for fn, args, kwargs in reversed(self.steps):
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                errors.append("{}: {}".format(getattr(fn, "__name__", fn), exc))
        self.steps = []
        return errors


@pytest.fixture
def cleanup():
    c = Cleanup()
    yield c
    errors = c.run()
    assert not errors, f"cleanup failed: {errors}"


def _name(prefix: str) -> str:
    return f"lc-test-{prefix}-{uuid.uuid4().hex[:6]}"


def _network(conn, cleanup, cidr):
    net = conn.network.create_network(name=_name("net"))
    cleanup.add(conn.network.delete_network, net, ignore_missing=True)
    subnet = conn.network.create_subnet(
        name=_name("subnet"), network_id=net.id, ip_version=4, cidr=cidr
    )
    cleanup.add(conn.network.delete_subnet, subnet, ignore_missing=True)
    return net, subnet


def _wait_deleted_server(conn, server):
    conn.compute.delete_server(server, ignore_missing=True)
    with contextlib.suppress(Exception):
        conn.compute.wait_for_delete(server, interval=1, wait=120)


def _http_status(exc: Exception) -> int:
    response = getattr(exc, "response", None)
    return int(getattr(exc, "status_code", None) or getattr(response, "status_code", 0) or 0)


def test_catalog_and_bootstrap_resources(conn):
    assert conn.network.find_network("public", ignore_missing=False) is not None
    assert conn.image.find_image(IMAGE, ignore_missing=False) is not None
    assert conn.compute.find_flavor(FLAVOR, ignore_missing=False) is not None
    services = {s["type"] for s in conn.service_catalog}
    assert {"identity", "network", "compute", "image", "placement"} <= services


def test_vrrp_pair_topology_goes_active(conn, admin_conn, cleanup):
    public = conn.network.find_network("public", ignore_missing=False)
    net, subnet = _network(conn, cleanup, "10.77.0.0/24")

    router = conn.network.create_router(
        name=_name("router"), external_gateway_info={"network_id": public.id}
    )
    cleanup.add(conn.network.delete_router, router, ignore_missing=True)
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    cleanup.add(conn.network.remove_interface_from_router, router, subnet=subnet.id)

    sg = conn.network.create_security_group(name=_name("sg"), description="vrrp pair")
    cleanup.add(conn.network.delete_security_group, sg, ignore_missing=True)
    rule = conn.network.create_security_group_rule(
        security_group_id=sg.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="112",
        remote_group_id=sg.id,
    )
    assert rule.protocol == "112" and rule.remote_group_id == sg.id

    vip = conn.network.create_port(
        name=_name("vip"),
        network_id=net.id,
        fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.77.0.100"}],
        security_group_ids=[sg.id],
    )
    cleanup.add(conn.network.delete_port, vip, ignore_missing=True)

    ports = []
    for i, ip in enumerate(("10.77.0.11", "10.77.0.12")):
        port = conn.network.create_port(
            name=_name(f"node{i}"),
            network_id=net.id,
            fixed_ips=[{"subnet_id": subnet.id, "ip_address": ip}],
            security_group_ids=[sg.id],
            port_security_enabled=True,
            allowed_address_pairs=[{"ip_address": "10.77.0.100"}],
        )
        cleanup.add(conn.network.delete_port, port, ignore_missing=True)
        assert port.is_port_security_enabled is True
        assert [p["ip_address"] for p in port.allowed_address_pairs] == ["10.77.0.100"]
        ports.append(port)

    group = conn.compute.create_server_group(name=_name("sg-aa"), policy="anti-affinity")
    cleanup.add(conn.compute.delete_server_group, group, ignore_missing=True)

    image = conn.image.find_image(IMAGE, ignore_missing=False)
    flavor = conn.compute.find_flavor(FLAVOR, ignore_missing=False)
    servers = []
    for i, port in enumerate(ports):
        server = conn.compute.create_server(
            name=_name(f"node{i}"),
            image_id=image.id,
            flavor_id=flavor.id,
            networks=[{"port": port.id}],
            scheduler_hints={"group": group.id},
        )
        cleanup.add(_wait_deleted_server, conn, server)
        servers.append(server)
    started = time.time()
    servers = [
        conn.compute.wait_for_server(s, status="ACTIVE", interval=1, wait=180) for s in servers
    ]
    print(f"servers ACTIVE after {time.time() - started:.1f}s")

    hosts = {admin_conn.compute.get_server(s.id).compute_host for s in servers}
    assert len(hosts) == 2, f"anti-affinity: both servers on {hosts}"
    for port in ports:
        bound = admin_conn.network.get_port(port.id)
        assert bound.binding_host_id in hosts
        assert bound.binding_vif_type == "ovs"
        assert bound.device_id in {s.id for s in servers}

    fip = conn.network.create_ip(floating_network_id=public.id, port_id=vip.id)
    cleanup.add(conn.network.delete_ip, fip, ignore_missing=True)
    assert fip.fixed_ip_address == "10.77.0.100"
    assert fip.floating_ip_address.startswith("172.24.4.")


def test_neutron_rejects_floating_ip_without_router(conn, cleanup):
    from openstack import exceptions

    public = conn.network.find_network("public", ignore_missing=False)
    net, _subnet = _network(conn, cleanup, "10.78.0.0/24")
    port = conn.network.create_port(name=_name("orphan"), network_id=net.id)
    cleanup.add(conn.network.delete_port, port, ignore_missing=True)
    with pytest.raises(exceptions.HttpException) as err:
        fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
        cleanup.add(conn.network.delete_ip, fip, ignore_missing=True)
    assert _http_status(err.value) == 404
    assert "is not reachable from subnet" in str(err.value)


def test_neutron_rejects_address_pairs_without_port_security(conn, cleanup):
    from openstack import exceptions

    net, _subnet = _network(conn, cleanup, "10.79.0.0/24")
    with pytest.raises(exceptions.HttpException) as err:
        port = conn.network.create_port(
            name=_name("nosec"),
            network_id=net.id,
            port_security_enabled=False,
            allowed_address_pairs=[{"ip_address": "10.79.0.100"}],
        )
        cleanup.add(conn.network.delete_port, port, ignore_missing=True)
    assert _http_status(err.value) == 409
    assert "Port Security must be enabled" in str(err.value)


def test_neutron_rejects_vrrp_rule_duplicating_112(conn, cleanup):
    from openstack import exceptions

    sg = conn.network.create_security_group(name=_name("sgdup"))
    cleanup.add(conn.network.delete_security_group, sg, ignore_missing=True)
    conn.network.create_security_group_rule(
        security_group_id=sg.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="112",
        remote_group_id=sg.id,
    )
    with pytest.raises(exceptions.HttpException) as err:
        conn.network.create_security_group_rule(
            security_group_id=sg.id,
            direction="ingress",
            ethertype="IPv4",
            protocol="vrrp",
            remote_group_id=sg.id,
        )
    assert _http_status(err.value) == 409
    assert "Security group rule already exists" in str(err.value)
