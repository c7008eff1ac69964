"""The schema other languages see for VrrpPair, as Pulumi's own analyzer infers it."""

from __future__ import annotations

from pulumi.provider.experimental.analyzer import Analyzer
from vrrp_pair.settings import DEFAULTS, setting_name
from vrrp_pair.vrrp_pair import TYPE_TOKEN, VrrpPair


def test_type_token_matches_the_provider_name() -> None:
    assert TYPE_TOKEN == "vrrp-pair:index:VrrpPair"


def test_every_setting_and_output_is_in_the_inferred_schema() -> None:
    definition = Analyzer("vrrp-pair").analyze_component(VrrpPair)
    assert set(definition.inputs) == {setting_name(f) for f in DEFAULTS}
    assert all(d.description for d in definition.inputs.values())
    assert {"vipAddress", "floatingIpAddress", "memberNames", "memberIps", "memberPortIds",
            "instanceIds", "vrid", "securityGroupId"} <= set(definition.outputs)
    assert str(definition.inputs["advertInterval"].type) == "PropertyType.NUMBER"
    assert str(definition.outputs["vrid"].type) == "PropertyType.INTEGER"
