"""Declares the post-deploy checks that pulumi-command runs (never in preview)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_command as command

from .failover_check import command_line
from .settings import Settings

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def check_url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/"


def _environment() -> dict[str, str]:
    """The check module is imported from this checkout, with this Python."""
    return {"PYTHONPATH": PACKAGE_ROOT, "PYTHONUNBUFFERED": "1"}


def declare_checks(settings: Settings, target: pulumi.Output[str],
                   members: list[tuple[str, pulumi.Output[str]]],
                   triggers: list[pulumi.Output[str]], parent: pulumi.Resource,
                   depends_on: list[pulumi.Resource]
                   ) -> tuple[command.local.Command | None, command.local.Command | None]:
    """A smoke check that the address serves, and an optional failover drill.

    Both re-run when a member instance or port changes (they are triggers)."""
    smoke = drill = None
    url = target.apply(lambda address: check_url(address, settings.http_port))
    if settings.smoke_check or settings.failover_drill:
        smoke = command.local.Command(
            f"{settings.name}-smoke-check",
            create=url.apply(lambda u: command_line(
                "smoke", ["--url", u, "--deadline", str(settings.check_deadline)])),
            environment=_environment(),
            triggers=triggers,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on))
    if settings.failover_drill:
        member_options = pulumi.Output.all(*[port for _, port in members]).apply(
            lambda ports: [option for (name, _), port_id in zip(members, ports, strict=False)
                           for option in ("--member", f"{name}={port_id}")])
        drill = command.local.Command(
            f"{settings.name}-failover-drill",
            create=pulumi.Output.all(url, member_options).apply(
                lambda values: command_line("drill", ["--url", values[0], *values[1]])),
            environment=_environment(),
            triggers=triggers,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[smoke] if smoke else []))
    return smoke, drill


def parsed(check: command.local.Command | None) -> pulumi.Output[dict[str, Any] | None]:
    """The JSON a check printed, or None when the check is off."""
    if check is None:
        return pulumi.Output.from_input(None)
    return check.stdout.apply(lambda out: json.loads(out) if out else None)

