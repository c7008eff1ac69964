"""__main__.py's reading of the stack's config: each setting by the type VrrpPairArgs
declares for it (camelCase keys, lists as JSON), absent ones left to the defaults."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pulumi
import pytest
from vrrp_pair.stack_config import pair_name, read_args

Configure = Callable[[dict[str, str]], pulumi.Config]


@pytest.fixture
def config() -> Iterator[Configure]:
    def use(values: dict[str, str]) -> pulumi.Config:
        pulumi.runtime.set_all_config({f"vrrp-pair:{k}": v for k, v in values.items()})
        return pulumi.Config("vrrp-pair")

    yield use
    pulumi.runtime.set_all_config({})


def test_each_setting_is_read_by_its_declared_type(config: Configure) -> None:
    read = read_args(config({
        "memberCount": "3", "advertInterval": "0.5", "smokeCheck": "true", "image": "debian-12",
        "priorities": "[200, 100, 50]", "existingNetworkId": "net-1", "pairName": "edge"}))
    assert read == {"member_count": 3, "advert_interval": 0.5, "smoke_check": True,
                    "image": "debian-12", "priorities": [200, 100, 50],
                    "existing_network_id": "net-1"}
    assert [type(read[k]) for k in ("member_count", "advert_interval", "smoke_check")] == [
        int, float, bool]


def test_the_pair_is_named_vrrp_unless_the_config_names_it(config: Configure) -> None:
    assert read_args(config({})) == {}
    assert pair_name(config({})) == "vrrp"
    assert pair_name(config({"pairName": "edge"})) == "edge"
