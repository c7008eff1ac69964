"""Reads a stack's Pulumi config into VrrpPairArgs, by the types the args declare."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import pulumi

from .settings import setting_name
from .vrrp_pair import VrrpPairArgs, setting_types

PAIR_NAME_KEY = "pairName"
DEFAULT_PAIR_NAME = "vrrp"
PAIR_NAME_DESCRIPTION = ("Name of the pair; prefixes every resource (members are"
                         " <pairName>-node-N).")


def _reader(config: pulumi.Config, annotation: Any) -> Callable[[str], Any]:
    if annotation is bool:
        return config.get_bool
    if annotation is int:
        return config.get_int
    if annotation is float:
        return config.get_float
    if annotation is str:
        return config.get
    return config.get_object  # lists arrive as JSON


def read_args(config: pulumi.Config) -> VrrpPairArgs:
    """Every VrrpPair setting present in config (camelCase keys), with its declared type."""
    args: dict[str, Any] = {}
    for field, annotation in setting_types().items():
        value = _reader(config, annotation)(setting_name(field))
        if value is not None:
            args[field] = value
    return typing.cast(VrrpPairArgs, args)


def pair_name(config: pulumi.Config) -> str:
    return config.get(PAIR_NAME_KEY) or DEFAULT_PAIR_NAME
