"""The resource graph VrrpPair declares, checked on the inputs the engine receives."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from vrrp_pair import VrrpPair
from vrrp_pair.vrid import derived_vrid

from labs.pulumi_harness import MOCK_FLOATING_IP, RECIPE_ARGS, RecordingMocks, resolve, run_program


def _recipe(extra: dict[str, Any] | None = None, name: str = "vrrp"
            ) -> tuple[RecordingMocks, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def program() -> Any:
        pair = VrrpPair(name, {**RECIPE_ARGS, **(extra or {})})  # type: ignore[typeddict-item]
        seen["pair"] = pair
        return pulumi.Output.all(
            pair.instance_ids, pair.floating_ip_address, pair.vip_address, pair.member_ips,
            pair.vrid, resolve(pair._user_data[0].is_secret()),
        ).apply(lambda values: seen.update(outputs=values))

    return run_program(program), seen


def test_vip_port_holds_the_vip_and_is_never_bound() -> None:
    mocks, _ = _recipe()
    vip = mocks.named("vrrp-vip")
    assert vip.inputs["fixedIps"] == [{"subnetId": "vrrp-subnet-id", "ipAddress": "10.10.0.200"}]
    assert "deviceId" not in vip.inputs and "deviceOwner" not in vip.inputs
    assert not any(r.inputs.get("networks", [{}])[0].get("port") == "vrrp-vip-id"
                   for r in mocks.of_type("compute/instance:Instance"))


def test_every_member_port_allows_exactly_the_vip_with_port_security() -> None:
    mocks, _ = _recipe()
    ports = [mocks.named(f"vrrp-node-{i}-port") for i in (1, 2)]
    for port, address in zip(ports, ["10.10.0.4", "10.10.0.5"], strict=False):
        assert port.inputs["allowedAddressPairs"] == [{"ipAddress": "10.10.0.200"}]
        assert port.inputs["portSecurityEnabled"] is True
        assert port.inputs["fixedIps"] == [{"subnetId": "vrrp-subnet-id", "ipAddress": address}]
        assert port.inputs["securityGroupIds"] == ["vrrp-members-id"]


def test_floating_ip_goes_to_the_vip_port_after_the_router_interface() -> None:
    mocks, seen = _recipe()
    (fip,) = mocks.of_type("floatingIp:FloatingIp")
    assert fip.inputs["portId"] == "vrrp-vip-id"
    assert fip.inputs["pool"] == "public"
    assert seen["outputs"][1] == MOCK_FLOATING_IP
    assert any(urn.endswith("::vrrp-router-if") for urn in fip.dependencies), fip.dependencies


def test_instances_boot_after_the_router_interface_so_apt_can_reach_out() -> None:
    mocks, _ = _recipe()
    for instance in mocks.of_type("instance:Instance"):
        assert any(urn.endswith("::vrrp-router-if") for urn in instance.dependencies)


def test_instances_are_deleted_before_a_replacement_boots_on_their_port() -> None:
    """Nova refuses a new server on a port the old one still holds (409 in the e2e test)."""
    mocks, _ = _recipe()
    assert {"vrrp-node-1", "vrrp-node-2"} <= mocks.delete_before_replace


def test_router_has_external_gateway_and_interface_on_the_subnet() -> None:
    mocks, _ = _recipe()
    router = mocks.named("vrrp-router")
    assert router.inputs["externalNetworkId"] == RECIPE_ARGS["external_network_id"]
    interface = mocks.named("vrrp-router-if")
    assert interface.inputs == {"routerId": "vrrp-router-id", "subnetId": "vrrp-subnet-id"}


def test_subnet_pools_keep_explicit_addresses_out_of_neutron_allocation() -> None:
    mocks, _ = _recipe()
    subnet = mocks.named("vrrp-subnet")
    assert subnet.inputs["cidr"] == "10.10.0.0/24"
    assert subnet.inputs["gatewayIp"] == "10.10.0.1"
    assert subnet.inputs["allocationPools"] == [
        {"start": "10.10.0.2", "end": "10.10.0.3"},
        {"start": "10.10.0.6", "end": "10.10.0.199"},
        {"start": "10.10.0.201", "end": "10.10.0.254"},
    ]


def test_vrrp_rule_is_scoped_to_the_group_and_the_group_is_on_every_member_port() -> None:
    mocks, _ = _recipe()
    rule = mocks.named("vrrp-vrrp-in")
    assert rule.inputs["protocol"] == "112"
    assert rule.inputs["direction"] == "ingress"
    assert rule.inputs["ethertype"] == "IPv4"
    assert rule.inputs["remoteGroupId"] == "vrrp-members-id"
    assert rule.inputs["securityGroupId"] == "vrrp-members-id"
    assert "remoteIpPrefix" not in rule.inputs
    vrrp_rules = [r for r in mocks.of_type("SecGroupRule")
                  if r.inputs.get("protocol") in ("112", "vrrp")]
    assert len(vrrp_rules) == 1, "Neutron rejects vrrp and 112 given twice"


def test_no_ssh_rule_by_default_and_http_only_where_configured() -> None:
    mocks, _ = _recipe()
    rules = mocks.of_type("SecGroupRule")
    assert not [r for r in rules if r.inputs.get("portRangeMin") == 22]
    http = [r for r in rules if r.inputs.get("portRangeMin") == 80]
    assert [r.inputs["remoteIpPrefix"] for r in http] == ["0.0.0.0/0"]


def test_http_defaults_to_the_subnet_and_ssh_follows_its_cidrs() -> None:
    mocks, _ = _recipe({"http_allowed_cidrs": [], "ssh_allowed_cidrs": ["192.0.2.0/24"],
                        "http_port": 8080})
    rules = mocks.of_type("SecGroupRule")
    http = [r.inputs["remoteIpPrefix"] for r in rules if r.inputs.get("portRangeMin") == 8080]
    ssh = [r.inputs["remoteIpPrefix"] for r in rules if r.inputs.get("portRangeMin") == 22]
    assert http == ["10.10.0.0/24"]
    assert ssh == ["192.0.2.0/24"]


def test_server_group_is_passed_to_every_instance() -> None:
    mocks, _ = _recipe()
    (group,) = mocks.of_type("serverGroup:ServerGroup")
    assert group.inputs["policies"] == "anti-affinity"
    instances = mocks.of_type("instance:Instance")
    assert len(instances) == 2
    for instance in instances:
        assert instance.inputs["schedulerHints"] == [{"group": "vrrp-group-id"}]
        assert instance.inputs["imageName"] == "debian-12"
        assert instance.inputs["flavorName"] == "m1.small"
        assert instance.inputs["networks"][0]["port"].endswith("-port-id")


def test_affinity_none_declares_no_server_group() -> None:
    mocks, _ = _recipe({"server_group_policy": "none"})
    assert not mocks.of_type("serverGroup:ServerGroup")
    assert all("schedulerHints" not in i.inputs for i in mocks.of_type("instance:Instance"))


def test_ids_go_to_id_arguments() -> None:
    image = "0b3e5c0e-7a55-4c8b-9a3c-1f1e1f1e1f1e"
    mocks, _ = _recipe({"image": image, "flavor": "42424242-4242-4242-4242-424242424242"})
    instance = mocks.of_type("instance:Instance")[0]
    assert instance.inputs["imageId"] == image and "imageName" not in instance.inputs
    assert instance.inputs["flavorId"].startswith("4242")


def test_outputs_and_user_data_secrecy() -> None:
    _, seen = _recipe()
    instance_ids, _fip, vip, member_ips, vrid, user_data_secret = seen["outputs"]
    assert instance_ids == ["vrrp-node-1-id", "vrrp-node-2-id"]
    assert vip == "10.10.0.200"
    assert member_ips == ["10.10.0.4", "10.10.0.5"]
    assert vrid == 172  # derived_vrid("own:vrrp", "vrrp"), pinned in tests/test_vrid.py
    assert user_data_secret is True


def test_vrrpv2_secret_is_generated_by_a_command_and_kept_out_of_logs() -> None:
    mocks, seen = _recipe({"vrrp_version": 2, "advert_interval": 1})
    (generator,) = mocks.of_type("command:local:Command")
    assert "urandom" in generator.inputs["create"]
    assert generator.inputs["logging"] == "none"
    # its stdout (the secret) is kept secret in the engine's state, and it is the pair's
    assert mocks.secret_outputs[generator.name] == ["stdout"]
    assert "vrrp" in mocks.ancestors(generator.name)
    user_data = mocks.named("vrrp-node-1").inputs["userData"]
    assert "auth_pass Mk9-sec_" in user_data
    assert seen["outputs"][5] is True
    assert "userData" in mocks.named("vrrp-node-1").secret_inputs


def test_vrrpv3_has_no_secret_and_no_generator() -> None:
    mocks, _ = _recipe()
    assert not mocks.of_type("command:local:Command")
    assert "authentication" not in mocks.named("vrrp-node-1").inputs["userData"]


def test_allocated_addresses_flow_into_keepalived_peers() -> None:
    mocks, seen = _recipe({"member_addresses": [], "vip_address": "", "member_count": 3})
    vip, member_ips = seen["outputs"][2], seen["outputs"][3]
    assert len(set(member_ips)) == 3 and vip not in member_ips
    for port in mocks.of_type("port:Port"):
        if port.name != "vrrp-vip":
            assert port.inputs["allowedAddressPairs"] == [{"ipAddress": vip}]
    for i, own in enumerate(member_ips):
        user_data = mocks.named(f"vrrp-node-{i + 1}").inputs["userData"]
        assert f"unicast_src_ip {own}" in user_data
        for peer in member_ips:
            if peer != own:
                assert f"        {peer}\n" in user_data


def test_existing_network_creates_no_network_subnet_or_router() -> None:
    mocks, _ = _recipe({"existing_network_id": "net-x", "existing_subnet_id": "sub-x",
                        "floating_ip": False})
    assert not mocks.of_type("network:Network")
    assert not mocks.of_type("subnet:Subnet")
    assert not mocks.of_type("router:Router")
    assert mocks.named("vrrp-vip").inputs["networkId"] == "net-x"


def test_external_network_id_is_looked_up_by_name_when_not_given() -> None:
    mocks, _ = _recipe({"external_network_id": ""})
    assert mocks.named("vrrp-router").inputs["externalNetworkId"] == "public-net-id"


def test_two_pairs_on_one_network_get_distinct_names_and_vrids() -> None:
    seen: dict[str, Any] = {}
    shared = {"existing_network_id": "net-x", "existing_subnet_id": "sub-x",
              "floating_ip": False, "member_addresses": [], "vip_address": ""}

    def program() -> Any:
        first = VrrpPair("web", {**RECIPE_ARGS, **shared})  # type: ignore[typeddict-item]
        second = VrrpPair("api", {**RECIPE_ARGS, **shared})  # type: ignore[typeddict-item]
        return pulumi.Output.all(first.vrid, second.vrid, first.instance_ids,
                                 second.instance_ids).apply(lambda v: seen.update(v=v))

    mocks = run_program(program)
    web_vrid, api_vrid, _, _ = seen["v"]
    assert web_vrid != api_vrid
    names = [(r.typ, r.name) for r in mocks.resources]
    assert len(names) == len(set(names))
    assert {r.name for r in mocks.of_type("instance:Instance")} == {
        "web-node-1", "web-node-2", "api-node-1", "api-node-2"}


def test_derived_vrid_collision_moves_to_the_next_free_id() -> None:
    from vrrp_pair.vrid import VridRegistry

    registry = VridRegistry()
    first = registry.claim("existing:n", "a", None)
    registry._claimed["existing:n"][derived_vrid("existing:n", "b")] = "someone"
    second = registry.claim("existing:n", "b", None)
    assert second != first and second != derived_vrid("existing:n", "b")
    assert 1 <= second <= 255


def test_explicit_vrid_used_twice_on_one_network_is_refused() -> None:
    from vrrp_pair import VrrpPairConfigError

    shared = {"existing_network_id": "net-x", "existing_subnet_id": "sub-x",
              "floating_ip": False, "virtual_router_id": 7}

    def program() -> Any:
        VrrpPair("web", {**RECIPE_ARGS, **shared})  # type: ignore[typeddict-item]
        other: Any = {**RECIPE_ARGS, **shared, "member_addresses": ["10.10.0.8", "10.10.0.9"],
                      "vip_address": "10.10.0.201"}
        VrrpPair("api", other)

    with pytest.raises(VrrpPairConfigError, match=r"virtualRouterId: 7 .* pair 'web' already"):
        run_program(program)
