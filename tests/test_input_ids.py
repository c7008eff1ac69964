"""Network, subnet and external network IDs given as another resource's outputs: the
consumer's own network, declared in the same program, carries the pair."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_openstack as openstack
import pytest
from vrrp_pair import VrrpPair, VrrpPairConfigError

from labs.pulumi_harness import RECIPE_ARGS, RecordingMocks, run_program

ON_OWN_NETWORK = {"floating_ip": False, "member_addresses": [], "vip_address": ""}


def _pairs_on_consumer_networks(names: list[str]) -> tuple[RecordingMocks, dict[str, Any]]:
    """Each pair on a network and subnet that the program itself declares."""
    seen: dict[str, Any] = {}

    def program() -> Any:
        vrids: list[pulumi.Output[Any]] = []
        for name in names:
            network = openstack.networking.Network(f"{name}-own-net")
            subnet = openstack.networking.Subnet(
                f"{name}-own-subnet", network_id=network.id, cidr="10.10.0.0/24")
            pair = VrrpPair(name, {**RECIPE_ARGS, **ON_OWN_NETWORK,  # type: ignore[typeddict-item]
                                   "existing_network_id": network.id,
                                   "existing_subnet_id": subnet.id})
            vrids.append(pair.vrid)
            vrids.append(pair.network_id)
        return pulumi.Output.all(*vrids).apply(lambda v: seen.update(values=v))

    return run_program(program), seen


def test_a_pair_runs_on_the_consumers_network_and_subnet_outputs() -> None:
    mocks, seen = _pairs_on_consumer_networks(["web"])
    assert [r.name for r in mocks.of_type("network:Network")] == ["web-own-net"]
    assert [r.name for r in mocks.of_type("subnet:Subnet")] == ["web-own-subnet"]
    for port in ("web-vip", "web-node-1-port", "web-node-2-port"):
        inputs = mocks.named(port).inputs
        assert inputs["networkId"] == "web-own-net-id"
        assert inputs["fixedIps"][0]["subnetId"] == "web-own-subnet-id"
    assert seen["values"][1] == "web-own-net-id"


def test_pairs_on_output_networks_get_distinct_vrids_that_are_the_same_every_run() -> None:
    _, first = _pairs_on_consumer_networks(["web", "api", "db"])
    _, again = _pairs_on_consumer_networks(["web", "api", "db"])
    vrids = first["values"][0::2]
    assert len(set(vrids)) == 3, vrids
    assert again["values"][0::2] == vrids


@pytest.mark.parametrize("setting", ["existing_network_id", "existing_subnet_id",
                                     "external_network_id"])
def test_a_bad_id_from_an_output_fails_naming_the_setting_and_no_port_uses_it(
        setting: str) -> None:
    mocks = RecordingMocks()
    args = {**RECIPE_ARGS, setting: pulumi.Output.from_input("not an id")}
    if setting != "external_network_id":
        args = {**args, **ON_OWN_NETWORK, "existing_network_id": "net-x",
                "existing_subnet_id": "sub-x", setting: pulumi.Output.from_input("not an id")}
    camel = "".join(w if i == 0 else w.title() for i, w in enumerate(setting.split("_")))

    def program() -> Any:
        pair = VrrpPair("vrrp", args)  # type: ignore[arg-type]
        return pulumi.Output.all(pair.vip_port_id, pair.instance_ids)

    with pytest.raises(Exception, match=rf"{camel}: 'not an id' is not valid"):
        run_program(program, mocks)
    assert not any("not an id" in repr(r.inputs) for r in mocks.resources)


def test_an_output_id_counts_as_given_for_the_both_or_neither_rule() -> None:
    def program() -> Any:
        network = openstack.networking.Network("own-net")
        VrrpPair("vrrp", {**RECIPE_ARGS, **ON_OWN_NETWORK,  # type: ignore[typeddict-item]
                          "existing_network_id": network.id})

    with pytest.raises(VrrpPairConfigError, match=r"existingSubnetId: '' is not valid"):
        run_program(program)
