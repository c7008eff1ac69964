"""Pulumi.yaml, Pulumi.dev.yaml, README and the component agree with each other."""

from __future__ import annotations

import ast
import importlib.machinery
import re
import tomllib
import types
from pathlib import Path
from typing import Any

import yaml
from vrrp_pair.settings import DEFAULTS, parse_settings, setting_name
from vrrp_pair.stack_config import PAIR_NAME_KEY
from vrrp_pair.vrrp_pair import setting_types

from labs.toolchain import PLUGINS

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
CONFIG = PROJECT["config"]


def test_every_component_setting_is_declared_in_pulumi_yaml_and_nothing_else() -> None:
    fields = {setting_name(f) for f in setting_types()}
    assert set(CONFIG) == fields | {PAIR_NAME_KEY}
    assert set(DEFAULTS) == set(setting_types())


def test_pulumi_yaml_defaults_are_the_component_defaults() -> None:
    for field, default in DEFAULTS.items():
        spec = CONFIG[setting_name(field)]
        if field in ("image", "flavor"):
            assert "default" not in spec, "image and flavor are required"
            continue
        declared = spec["default"]
        assert str(declared) == str(default), (field, declared, default)
        assert spec["description"].strip()


def test_pulumi_yaml_config_and_readme_table_are_generated_from_the_args() -> None:
    """VrrpPairArgs (types, docstrings) and DEFAULTS are the one declaration of a setting."""
    loader = importlib.machinery.SourceFileLoader("config_reference",
                                                  str(ROOT / "scripts" / "config-reference"))
    module: Any = types.ModuleType(loader.name)
    module.__file__ = loader.path
    loader.exec_module(module)
    fix = "run .venv/bin/python scripts/config-reference --write"
    pulumi_yaml = (ROOT / "Pulumi.yaml").read_text()
    assert module.pulumi_yaml(pulumi_yaml) == pulumi_yaml, fix
    readme = (ROOT / "README.md").read_text()
    assert module.readme(readme) == readme, fix
    block = module.config_block()
    assert block["advertInterval"]["description"].startswith("Seconds between VRRP adverts")
    assert "default" not in block["image"] and block["memberCount"]["default"] == 2


def test_dev_stack_reproduces_the_recipe() -> None:
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values = {key.split(":", 1)[1]: value for key, value in stack.items()}
    by_field = {f: values[setting_name(f)] for f in DEFAULTS if setting_name(f) in values}
    settings = parse_settings(values[PAIR_NAME_KEY], by_field)
    assert str(settings.subnet) == "10.10.0.0/24"
    assert [str(a) for a in settings.member_addresses] == ["10.10.0.4", "10.10.0.5"]
    assert str(settings.vip_address) == "10.10.0.200"
    assert settings.floating_ip and settings.member_count == 2
    assert settings.member_names == ("vrrp-node-1", "vrrp-node-2")


def test_readme_names_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "sudo scripts/deploy\n" in readme and "sudo scripts/test\n" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def _documented_outputs() -> dict[str, bool]:
    """VrrpPair's declared outputs -> whether a docstring follows the declaration."""
    tree = ast.parse((ROOT / "components" / "vrrp_pair.py").read_text())
    (cls,) = (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "VrrpPair")
    outputs = {}
    for stmt, after in zip(cls.body, [*cls.body[1:], None], strict=True):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            outputs[stmt.target.id] = (isinstance(after, ast.Expr)
                                       and isinstance(after.value, ast.Constant)
                                       and isinstance(after.value.value, str))
    return outputs


def _program_exports() -> dict[str, str]:
    """`pulumi.export("name", pair.attribute)` calls of __main__.py: name -> attribute."""
    exports = {}
    for node in ast.walk(ast.parse((ROOT / "__main__.py").read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "export"):
            name, value = node.args
            assert isinstance(name, ast.Constant) and isinstance(name.value, str)
            assert isinstance(value, ast.Attribute)
            exports[name.value] = value.attr
    return exports


def test_every_output_is_documented_and_exported_by_the_program() -> None:
    outputs = _documented_outputs()
    assert len(outputs) >= 14, outputs  # not vacuous: the 14 of this writing
    assert [name for name, documented in outputs.items() if not documented] == []
    exports = _program_exports()
    assert sorted(exports.values()) == sorted(outputs)
    for export, attribute in exports.items():
        assert export == re.sub(r"_([a-z])", lambda m: m.group(1).upper(), attribute), export


def test_every_setting_named_in_an_error_is_a_real_setting() -> None:
    """Errors name settings by their camelCase key, as literals in settings.py: each one
    must be a setting's name as setting_name() makes it (a typo or a renamed setting fails)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / "components" / "settings.py").read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("[0-9a-f"):  # a regular expression, not prose
                continue
            named |= set(re.findall(r"\b[a-z]+[A-Z][A-Za-z]*\b", node.value))
    assert len(named) >= 25, named  # most settings are named somewhere
    assert named - {setting_name(field) for field in DEFAULTS} == set()


def test_the_provider_sdks_and_the_built_plugins_have_one_version() -> None:
    """pyproject.toml pins the SDKs; versions.env the plugins the toolchain builds."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(requirement.split("==") for requirement in declared)
    assert pins["pulumi-openstack"] == PLUGINS["openstack"]
    assert pins["pulumi-command"] == PLUGINS["command"]
    assert all("==" in requirement for requirement in declared), declared  # exact pins
