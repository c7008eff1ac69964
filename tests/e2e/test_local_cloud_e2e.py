"""End to end: the repository's program, the real Pulumi engine, the local OpenStack.

    scripts/local-cloud up && eval "$(scripts/local-cloud env)"
    VRRP_LOCAL_CLOUD=1 python -m pytest -s tests/e2e

What runs: the repository's program as labs/cloud/stack.py runs it (a temporary copy
with its venv, a file:// backend, our provider plugins, passphrase secrets). The dev
stack keeps Pulumi.dev.yaml as it is (``externalNetwork: public``, ``externalNetworkId``
left empty: the program looks the network up by name through the provider; the test
compares the router's gateway with the ID openstacksdk finds). ``smokeCheck`` and
``failoverDrill`` stay at their default (false): a fake-driver VM serves nothing, so
pulumi-command's checks are off, and the
test asserts it (no command:local:Command in state, the outputs are None).

Then openstacksdk (cloud ``vrrp-local``, the demo project; ``vrrp-local-admin`` only to
read servers' compute hosts) checks what Neutron and Nova hold; a second ``pulumi up``
must change nothing, ``pulumi preview --refresh`` must plan nothing (what refresh itself
rewrites in state is printed), a third member must converge, and ``pulumi destroy`` must
leave the demo project as it found it (every resource type counted, every stack ID gone).
The negative stacks use a network the test makes first without a router: Neutron refuses
the floating IP (404) or the already-taken member address (409).

Gate (as tests/localcloud): VRRP_LOCAL_CLOUD=1 runs (and fails if the cloud or the
toolchain is missing), 0 skips, unset runs when keystone answers on 127.0.0.1:5000.
Run with ``-s`` to see the timings and Neutron's messages.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from labs.cloud.stack import Stack, assert_all_gone, assert_same_census, census, new_stack, say

# Pulumi.dev.yaml, as the checks below expect it.
VIP = "10.10.0.200"
MEMBERS = ["10.10.0.4", "10.10.0.5"]
THIRD = "10.10.0.6"
CIDR = "10.10.0.0/24"
GATEWAY = "10.10.0.1"

# Neutron's own words (see scripts/localcloud/README.md).
NOT_REACHABLE = re.compile(
    r"External network [0-9a-f-]+ is not reachable from subnet [0-9a-f-]+\.\s+"
    r"Therefore, cannot associate Port [0-9a-f-]+ with a Floating IP\.")
ALREADY_ALLOCATED = re.compile(r"IP address ([0-9.]+) already allocated in subnet [0-9a-f-]+")
PORT_IN_USE = re.compile(r"Port [0-9a-f-]+ is still in use\.")


# The fixtures (conn, admin_conn, engine) are tests/cloud_fixtures.py's, through conftest.py.


def refresh_rewrites(text: str) -> dict[str, list[str]]:
    """From `pulumi preview --refresh --diff`: resource -> properties the refresh rewrites.

    (`pulumi refresh --preview-only --diff` prints no property detail with this CLI.)"""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        urn = re.search(r"\[urn=\S+::([^\]]+)\]", line)
        if urn:
            current = urn.group(1)
            continue
        change = re.match(r"^\s+([+~-])\s+(\w+)\s*:", line)
        if current and change and not line.rstrip().endswith(")"):
            found.setdefault(current, []).append(change.group(1) + change.group(2))
    return found


# --------------------------------------------------------------------------- the checks


def check_cloud(conn: Any, admin_conn: Any, outputs: dict[str, Any],
                members: list[str]) -> None:
    """What Neutron and Nova really hold for the pair."""
    net = conn.network
    public = net.find_network("public")
    assert public is not None and public.is_router_external

    vip_port = net.get_port(outputs["vipPortId"])
    assert [ip["ip_address"] for ip in vip_port.fixed_ips] == [VIP]
    assert not vip_port.device_id, f"VIP port is bound to {vip_port.device_id}"
    assert not vip_port.device_owner
    assert vip_port.is_port_security_enabled is True
    subnet_id = vip_port.fixed_ips[0]["subnet_id"]
    subnet = net.get_subnet(subnet_id)
    assert subnet.cidr == CIDR and subnet.gateway_ip == GATEWAY
    network_id = vip_port.network_id

    group_id = outputs["securityGroupId"]
    group = net.get_security_group(group_id)
    assert group.name == "vrrp-members"
    rules = list(net.security_group_rules(security_group_id=group_id))
    vrrp_rules = [r for r in rules if r.protocol in ("112", "vrrp")]
    assert len(vrrp_rules) == 1, [r.to_dict() for r in rules]
    rule = vrrp_rules[0]
    assert (rule.direction, rule.ether_type, rule.remote_group_id) == (
        "ingress", "IPv4", group_id), rule.to_dict()
    assert rule.remote_ip_prefix is None
    say(f"VRRP rule: protocol {rule.protocol}, ingress from group {group_id} (itself)")
    assert vip_port.security_group_ids == [group_id]

    assert outputs["memberIps"] == members
    assert len(outputs["memberPortIds"]) == len(members)
    for address, port_id in zip(members, outputs["memberPortIds"], strict=True):
        port = net.get_port(port_id)
        assert port.network_id == network_id
        assert [ip["ip_address"] for ip in port.fixed_ips] == [address]
        assert [pair["ip_address"] for pair in port.allowed_address_pairs] == [VIP], \
            port.allowed_address_pairs
        assert all(pair.get("mac_address") in (None, port.mac_address)
                   for pair in port.allowed_address_pairs)
        assert port.is_port_security_enabled is True
        assert port.security_group_ids == [group_id]

    fip = net.find_ip(outputs["floatingIpAddress"])
    assert fip is not None
    assert fip.port_id == vip_port.id and fip.fixed_ip_address == VIP
    assert fip.floating_network_id == public.id

    routers = [r for r in net.routers(project_id=conn.current_project_id)
               if r.name == "vrrp-router"]
    assert len(routers) == 1, [r.id for r in routers]
    router = routers[0]
    assert router.external_gateway_info["network_id"] == public.id
    interfaces = list(net.ports(device_id=router.id, device_owner="network:router_interface"))
    assert [(p.network_id, p.fixed_ips) for p in interfaces] == [
        (network_id, [{"subnet_id": subnet_id, "ip_address": GATEWAY}])]
    assert fip.router_id == router.id

    groups = [g for g in conn.compute.server_groups() if g.name == "vrrp-group"]
    assert len(groups) == 1
    server_group = groups[0]
    policy = server_group.policy or (server_group.policies or [None])[0]
    assert policy == "anti-affinity"
    assert set(server_group.member_ids) == set(outputs["instanceIds"])

    hosts = []
    for name, server_id, port_id in zip(outputs["memberNames"], outputs["instanceIds"],
                                        outputs["memberPortIds"], strict=True):
        server = conn.compute.get_server(server_id)
        assert server.name == name and server.status == "ACTIVE", (name, server.status)
        attached = [i.port_id for i in conn.compute.server_interfaces(server)]
        assert attached == [port_id], (name, attached)
        assert net.get_port(port_id).device_id == server_id
        hosts.append(admin_conn.compute.get_server(server_id).compute_host)
    say(f"members on hosts {dict(zip(outputs['memberNames'], hosts, strict=True))}")
    assert len(set(hosts)) == len(hosts), f"anti-affinity broken: {hosts}"


# --------------------------------------------------------------------------- the tests


def test_dev_stack_up_check_converge_destroy(engine: dict[str, Any], conn: Any,
                                            admin_conn: Any) -> None:
    before = census(conn)
    stack = new_stack(engine, "dev")
    dev_yaml = (stack.cwd / "Pulumi.dev.yaml").read_text()
    for key in ("smokeCheck", "failoverDrill", "externalNetworkId"):
        assert f"vrrp-pair:{key}" not in dev_yaml, f"Pulumi.dev.yaml sets {key}"
    say("pulumi-command checks: OFF (smokeCheck and failoverDrill at their default false; "
        "a fake-driver VM serves nothing). externalNetworkId empty: looked up by name 'public'")

    problems: list[str] = []
    stack_ids: dict[str, str] = {}
    try:
        up = stack.pulumi("up", "--yes", "--skip-preview", timed="up (create)")
        assert re.search(r"\+ 16 created", up.stdout), up.stdout[-3000:]
        outputs = stack.outputs()
        stack_ids = stack.cloud_ids()
        say(f"outputs: vip {outputs['vipAddress']}, floating IP {outputs['floatingIpAddress']}, "
            f"members {outputs['memberIps']}, vrid {outputs['vrid']}")

        assert outputs.get("smokeCheck") is None
        assert outputs.get("failoverDowntimeSeconds") is None
        assert outputs.get("failoverNewMaster") is None
        commands = [r["urn"] for r in stack.resources() if r["type"] == "command:local:Command"]
        assert commands == [], commands
        say("smokeCheck output: None; no command:local:Command in state")

        check_cloud(conn, admin_conn, outputs, MEMBERS)

        again = stack.pulumi("up", "--yes", "--expect-no-changes", timed="up (no changes)")
        assert re.search(r"16 unchanged", again.stdout), again.stdout[-3000:]

        drift = stack.pulumi("preview", "--refresh", "--json", "--expect-no-changes",
                             timed="preview --refresh")
        summary = json.loads(drift.stdout)["changeSummary"]
        assert set(summary) == {"same"}, summary
        say(f"preview --refresh plans: {summary}")
        rewrites = refresh_rewrites(
            stack.pulumi("preview", "--refresh", "--diff", timed="preview --refresh --diff")
            .stdout)
        say(f"refresh rewrites these in state (outputs only; no update planned): {rewrites}")
        stack.pulumi("refresh", "--yes", "--skip-preview", timed="refresh")
        stack.pulumi("preview", "--expect-no-changes", timed="preview after refresh")

        stack.config("set", "vrrp-pair:memberCount", "3")
        stack.config("set", "--path", "vrrp-pair:memberAddresses[2]", THIRD)
        grow = stack.pulumi("up", "--yes", check=False, timed="up (third member)")
        stack_ids.update(stack.cloud_ids())
        if grow.returncode != 0:
            in_use = sorted(set(PORT_IN_USE.findall(grow.stdout)))
            problems.append(
                "adding a third member does not converge: `pulumi up` exited "
                f"{grow.returncode}; Nova: {in_use or grow.stdout[-3000:]}. The members' "
                "user-data (unicast peers) changes, openstack.compute.Instance replaces "
                "create-before-delete on the SAME pre-made port, and Nova refuses the port. "
                "Fix in components/vrrp_pair.py: Instance opts delete_before_replace=True.")
            say(problems[-1])
        else:
            outputs = stack.outputs()
            stack_ids.update(stack.cloud_ids())
            check_cloud(conn, admin_conn, outputs, [*MEMBERS, THIRD])
            stack.pulumi("up", "--yes", "--expect-no-changes", timed="up (no changes, 3)")
    finally:
        stack_ids.update(stack.cloud_ids())
        stack.destroy()
    assert stack.resources() == [] or all(
        not r.get("custom") or r["type"].startswith("pulumi:providers:")
        for r in stack.resources())
    assert_all_gone(conn, stack_ids)
    assert_same_census(conn, before, "dev stack")
    stack.pulumi("stack", "rm", "--yes", stack.name)
    say(f"timings (s): { {k: round(v, 1) for k, v in stack.timings.items()} }")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def isolated_network(conn: Any) -> Iterator[tuple[Any, Any]]:
    """A network and subnet with no router to `public`, made outside the stack."""
    tag = uuid.uuid4().hex[:6]
    network = conn.network.create_network(name=f"vrrp-e2e-isolated-{tag}")
    try:
        subnet = conn.network.create_subnet(
            name=f"vrrp-e2e-isolated-{tag}", network_id=network.id, ip_version=4,
            cidr="10.20.0.0/24", gateway_ip="10.20.0.1")
        yield network, subnet
    finally:
        for port in conn.network.ports(network_id=network.id):
            conn.network.delete_port(port, ignore_missing=True)
        conn.network.delete_network(network, ignore_missing=True)


def negative_stack(engine: dict[str, Any], name: str, network: Any, subnet: Any,
                   floating_ip: bool) -> Stack:
    stack = new_stack(engine, name)
    for key, value in (("pairName", name), ("existingNetworkId", network.id),
                       ("existingSubnetId", subnet.id), ("subnetCidr", "10.20.0.0/24"),
                       ("vipAddress", "10.20.0.200"), ("memberCount", "2"),
                       ("floatingIp", "true" if floating_ip else "false"),
                       ("externalNetwork", "public"), ("image", "debian-12"),
                       ("flavor", "m1.small")):
        stack.config("set", f"vrrp-pair:{key}", value)
    stack.config("set", "--path", "vrrp-pair:memberAddresses[0]", "10.20.0.4")
    stack.config("set", "--path", "vrrp-pair:memberAddresses[1]", "10.20.0.5")
    return stack


def fail_then_destroy(stack: Stack, conn: Any, before: dict[str, set[str]],
                      pattern: re.Pattern[str]) -> str:
    """`pulumi up` must fail with Neutron's message; destroy must leave nothing."""
    stack_ids: dict[str, str] = {}
    try:
        up = stack.pulumi("up", "--yes", "--skip-preview", check=False, timed="up (rejected)")
        stack_ids = stack.cloud_ids()
        assert up.returncode != 0, up.stdout[-3000:]
        found = pattern.search(up.stdout + up.stderr)
        assert found, f"no Neutron message matching {pattern.pattern}:\n{up.stdout[-5000:]}"
        errors = [line.strip() for line in up.stdout.splitlines()
                  if line.strip().startswith("error:") and pattern.search(line)]
        say(f"{stack.name}: Neutron rejected: {found.group(0)}")
        say(f"{stack.name}: as the user sees it: {errors[0] if errors else '?'}")
        say(f"{stack.name}: half-made before destroy: {len(stack_ids)} cloud resources "
            f"{sorted(set(stack_ids.values()))}")
    finally:
        stack_ids.update(stack.cloud_ids())
        stack.destroy()
    assert_all_gone(conn, stack_ids)
    assert_same_census(conn, before, f"{stack.name} stack")
    stack.pulumi("stack", "rm", "--yes", stack.name)
    return found.group(0)


def test_floating_ip_without_router_path_is_refused_by_neutron(
        engine: dict[str, Any], conn: Any, isolated_network: tuple[Any, Any]) -> None:
    network, subnet = isolated_network
    before = census(conn)
    stack = negative_stack(engine, "norouter", network, subnet, floating_ip=True)
    message = fail_then_destroy(stack, conn, before, NOT_REACHABLE)
    assert subnet.id in message, message


def test_member_address_taken_is_refused_by_neutron(
        engine: dict[str, Any], conn: Any, isolated_network: tuple[Any, Any]) -> None:
    network, subnet = isolated_network
    squatter = conn.network.create_port(
        name="vrrp-e2e-squatter", network_id=network.id,
        fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.20.0.5"}])
    try:
        before = census(conn)
        stack = negative_stack(engine, "taken", network, subnet, floating_ip=False)
        message = fail_then_destroy(stack, conn, before, ALREADY_ALLOCATED)
        match = ALREADY_ALLOCATED.search(message)
        assert match and match.group(1) == "10.20.0.5"
        assert conn.network.get_port(squatter.id).fixed_ips[0]["ip_address"] == "10.20.0.5"
    finally:
        conn.network.delete_port(squatter, ignore_missing=True)
