"""What a consumer's stack relies on when it declares a VrrpPair beside its own resources:
everything the pair makes is the component's child (so `pulumi destroy` of the component,
aliases and its resource options reach all of it), and every read from OpenStack goes to
the provider the consumer gave the component, not to the default cloud."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_openstack as openstack
from vrrp_pair import VrrpPair

from labs.pulumi_harness import RECIPE_ARGS, RecordingMocks, run_program

# the drill's port reads and the external network looked up by name (no id given)
ARGS: dict[str, Any] = {**RECIPE_ARGS, "smoke_check": True, "failover_drill": True,
                        "external_network": "public", "external_network_id": ""}


def declare(with_provider: bool) -> RecordingMocks:
    def program() -> Any:
        opts = None
        if with_provider:
            cloud = openstack.Provider("consumer-cloud", cloud="consumers-own")
            opts = pulumi.ResourceOptions(providers={"openstack": cloud})
        pair = VrrpPair("vrrp", ARGS, opts=opts)  # type: ignore[arg-type]
        return pair.floating_ip_address

    return run_program(program, RecordingMocks())


def test_everything_the_pair_makes_is_the_components_child() -> None:
    mocks = declare(with_provider=False)
    assert len(mocks.resources) > 15
    orphans = [r.name for r in mocks.resources if "vrrp" not in mocks.ancestors(r.name)]
    assert orphans == []


def test_every_read_goes_to_the_provider_the_consumer_gave() -> None:
    mocks = declare(with_provider=True)
    reads = [call for call in mocks.invoke_calls if call.token.startswith("openstack:")]
    assert {call.token for call in reads} >= {"openstack:networking/getNetwork:getNetwork",
                                              "openstack:networking/getPort:getPort"}
    assert all("::consumer-cloud::" in call.provider for call in reads), [
        (call.token, call.provider) for call in reads]


def test_the_external_network_is_looked_up_among_external_networks_by_name() -> None:
    mocks = declare(with_provider=False)
    (lookup,) = [call.args for call in mocks.invoke_calls
                 if call.token == "openstack:networking/getNetwork:getNetwork"]
    assert lookup == {"name": "public", "external": True}
