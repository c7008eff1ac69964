"""Fixtures of the tests that use the local cloud through the engine (tests/e2e, tests/cloud):
the Pulumi engine and openstacksdk connections, from labs/cloud/stack.py, behind the gate."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from labs.cloud import stack as lab
from labs.cloud.location import CLOUD, CLOUDS_YAML, cloud_answers
from tests import gate


def require(ok: bool, why: str) -> None:
    gate.require(ok, why, strict=os.environ.get("VRRP_LOCAL_CLOUD") == "1")


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    require(CLOUDS_YAML.is_file(), f"no {CLOUDS_YAML}: run `scripts/local-cloud up`")
    require(cloud_answers(), "keystone does not answer on 127.0.0.1:5000")
    connection = lab.connect(CLOUD)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def admin_conn() -> Iterator[Any]:
    connection = lab.connect(CLOUD + "-admin")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """PATH, a private PULUMI_HOME with our provider plugins, a file backend."""
    try:
        return lab.engine_setup(tmp_path_factory.mktemp("e2e"))
    except lab.ToolchainMissing as missing:
        require(False, str(missing))
        raise
