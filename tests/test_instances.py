"""The members as Nova is asked for them, input by input, as literals (user-data has its
own golden files): names, the port each boots on, the anti-affinity group, image and
flavor by name or by ID, the key pair and config drive only when asked for, the
metadata that says which pair and priority; and the outputs that list them."""

from __future__ import annotations

from typing import Any

import pulumi
from vrrp_pair import VrrpPair

from labs.pulumi_harness import RECIPE_ARGS, RecordingMocks, run_program

IMAGE_ID = "6f2b0c1e-4c1a-4f8e-9a43-0b6f3f0d7c11"
FLAVOR_ID = "1b2c3d4e-0000-4000-8000-000000000001"


def declared(args: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each server's inputs but user-data (and the server group's), and the outputs."""
    seen: dict[str, Any] = {}

    def program() -> Any:
        pair = VrrpPair("vrrp", args)  # type: ignore[arg-type]
        outputs = {"member_names": pair.member_names, "member_port_ids": pair.member_port_ids,
                   "instance_ids": pair.instance_ids, "member_ips": pair.member_ips}
        return pulumi.Output.all(**outputs).apply(lambda values: seen.update(values))

    mocks: RecordingMocks = run_program(program)
    servers = {r.name: {k: v for k, v in r.inputs.items() if k != "userData"}
               for r in mocks.resources if r.typ.startswith("openstack:compute/")}
    return servers, seen


def test_members_by_image_and_flavor_name_without_key_or_config_drive() -> None:
    servers, outputs = declared(RECIPE_ARGS)

    def member(n: int, priority: str) -> dict[str, Any]:
        return {"name": f"vrrp-node-{n}", "imageName": "debian-12", "flavorName": "m1.small",
                "networks": [{"port": f"vrrp-node-{n}-port-id"}],
                "schedulerHints": [{"group": "vrrp-group-id"}],
                "metadata": {"vrrp-pair": "vrrp", "vrrp-priority": priority}}

    assert servers == {"vrrp-group": {"name": "vrrp-group", "policies": "anti-affinity"},
                       "vrrp-node-1": member(1, "100"), "vrrp-node-2": member(2, "90")}
    assert outputs == {"member_names": ["vrrp-node-1", "vrrp-node-2"],
                       "member_port_ids": ["vrrp-node-1-port-id", "vrrp-node-2-port-id"],
                       "instance_ids": ["vrrp-node-1-id", "vrrp-node-2-id"],
                       "member_ips": ["10.10.0.4", "10.10.0.5"]}


def test_members_by_image_and_flavor_id_with_key_and_config_drive() -> None:
    servers, _ = declared({**RECIPE_ARGS, "image": IMAGE_ID, "flavor": FLAVOR_ID,
                           "key_pair": "ops", "config_drive": True,
                           "server_group_policy": "soft-anti-affinity"})
    node = servers["vrrp-node-1"]
    assert (node["imageId"], node["flavorId"]) == (IMAGE_ID, FLAVOR_ID)
    assert "imageName" not in node and "flavorName" not in node
    assert (node["keyPair"], node["configDrive"]) == ("ops", True)
    assert servers["vrrp-group"]["policies"] == "soft-anti-affinity"
