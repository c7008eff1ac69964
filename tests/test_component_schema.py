"""The schema other languages see for VrrpPair, as Pulumi's own analyzer infers it."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from pulumi.provider.experimental.analyzer import Analyzer
from vrrp_pair.settings import DEFAULTS, setting_name
from vrrp_pair.vrrp_pair import TYPE_TOKEN, VrrpPair

from tests import REPO_ROOT


def _provider() -> ModuleType:
    """provider/__main__.py as `pulumi package add` runs it (its __main__ guard not taken)."""
    spec = importlib.util.spec_from_file_location("vrrp_pair_provider",
                                                  REPO_ROOT / "provider" / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_type_token_matches_the_provider_name() -> None:
    provider = _provider()
    assert [VrrpPair] == provider.COMPONENTS
    assert TYPE_TOKEN == f"{provider.PACKAGE_NAME}:index:VrrpPair" == "vrrp-pair:index:VrrpPair"


def test_every_setting_and_output_is_in_the_inferred_schema() -> None:
    provider = _provider()
    (component,) = provider.COMPONENTS
    definition = Analyzer(provider.PACKAGE_NAME).analyze_component(component)
    assert set(definition.inputs) == {setting_name(f) for f in DEFAULTS}
    assert all(d.description for d in definition.inputs.values())
    outputs = VrrpPair.__annotations__  # its own declarations (the outputs)
    assert len(outputs) >= 14
    assert set(definition.outputs) == {setting_name(name) for name in outputs}
    assert all(d.description for d in definition.outputs.values()), [
        name for name, d in definition.outputs.items() if not d.description]
    assert str(definition.inputs["advertInterval"].type) == "PropertyType.NUMBER"
    assert str(definition.outputs["vrid"].type) == "PropertyType.INTEGER"
