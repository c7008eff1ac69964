"""Declares the post-deploy checks that pulumi-command runs (never in preview).

The failover drill disables a port, so it runs when it is created and again only
when its `triggers` change (the member instances and ports): everything else in
its command (the interpreter path, the URL) may move
between runs of `pulumi up`, and an update only re-prints its last result. The
smoke check only reads, and runs again on any change.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_openstack as openstack

from .failover_check import command_line
from .settings import Settings

# What an update runs instead of the check: the previous stdout, which pulumi-command
# passes in PULUMI_COMMAND_STDOUT (addPreviousOutputInEnv, on by default).
REPRINT_LAST_RESULT = "printf '%s\\n' \"$PULUMI_COMMAND_STDOUT\""


def check_url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/"


def _environment() -> dict[str, str]:
    """The check module runs from the installed package, with this Python, unbuffered
    so that its progress reaches `pulumi up` as it happens."""
    return {"PYTHONUNBUFFERED": "1"}


def check_command(name: str, create: pulumi.Input[str], triggers: list[Any],
                  opts: pulumi.ResourceOptions, rerun_on_update: bool = False
                  ) -> command.local.Command:
    """A local command that runs on create and when `triggers` change; on other changes
    it re-prints its last result, unless `rerun_on_update`."""
    return command.local.Command(name, create=create,
                                 update=None if rerun_on_update else REPRINT_LAST_RESULT,
                                 environment=_environment(), triggers=triggers, opts=opts)


def _member_options(members: list[tuple[str, pulumi.Output[str]]]
                    ) -> pulumi.Output[list[str]]:
    return pulumi.Output.all(*[port for _, port in members]).apply(
        lambda ports: [option for (name, _), port_id in zip(members, ports, strict=True)
                       for option in ("--member", f"{name}={port_id}")])


def declare_port_repair(settings: Settings, members: list[tuple[str, pulumi.Output[str]]],
                        parent: pulumi.Resource) -> command.local.Command:
    """Re-enables member ports found disabled (a drill killed before it could restore).

    Each `pulumi up` and preview reads every member port's admin_state_up from
    Neutron; the ports found down are this command's triggers, so a change replaces
    it and it runs `failover_check restore` for them."""
    def state(port_id: pulumi.Output[str]) -> pulumi.Output[list[Any]]:
        port = openstack.networking.get_port_output(
            port_id=port_id, opts=pulumi.InvokeOptions(parent=parent))
        return pulumi.Output.all(port_id, port.admin_state_up)

    names = [name for name, _ in members]
    down = pulumi.Output.all(*[state(port) for _, port in members]).apply(
        lambda rows: [(names[i], port) for i, (port, up) in enumerate(rows) if up is False])
    return check_command(
        f"{settings.name}-port-repair",
        create=down.apply(lambda ports: command_line("restore", [
            option for name, port in ports for option in ("--member", f"{name}={port}")])),
        triggers=[down.apply(lambda ports: [port for _, port in ports])],
        opts=pulumi.ResourceOptions(parent=parent))


def drill_wait_options(settings: Settings) -> list[str]:
    """The drill runs right after the smoke check's first answer, while the pair may
    still be settling (the second member finishing its boot, an election): it waits, up
    to the check deadline, for a master that has answered steadily for five adverts
    (at least 3 s) before it disables anything."""
    settle = max(3.0, 5 * settings.advert_interval)
    return ["--settle", f"{settle:g}", "--wait", str(settings.check_deadline)]


def declare_checks(settings: Settings, target: pulumi.Output[str],
                   members: list[tuple[str, pulumi.Output[str]]],
                   triggers: list[pulumi.Output[str]], parent: pulumi.Resource,
                   depends_on: list[pulumi.Resource]
                   ) -> tuple[command.local.Command | None, command.local.Command | None]:
    """A smoke check that the address serves, and an optional failover drill.

    Both run again when a member instance or port changes (their triggers); the
    drill only then. With the drill, a port repair runs first."""
    smoke = drill = None
    url = target.apply(lambda address: check_url(address, settings.http_port))
    repair = [declare_port_repair(settings, members, parent)] if settings.failover_drill else []
    if settings.smoke_check or settings.failover_drill:
        smoke = check_command(
            f"{settings.name}-smoke-check",
            create=url.apply(lambda u: command_line(
                "smoke", ["--url", u, "--deadline", str(settings.check_deadline)])),
            triggers=triggers, rerun_on_update=True,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[*depends_on, *repair]))
    if settings.failover_drill:
        drill = check_command(
            f"{settings.name}-failover-drill",
            create=pulumi.Output.all(url, _member_options(members)).apply(
                lambda values: command_line("drill", ["--url", values[0], *values[1],
                                                      *drill_wait_options(settings)])),
            triggers=triggers,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[smoke] if smoke else []))
    return smoke, drill


def parsed(check: command.local.Command | None) -> pulumi.Output[dict[str, Any] | None]:
    """The JSON a check printed, or None when the check is off."""
    if check is None:
        return pulumi.Output.from_input(None)
    return check.stdout.apply(lambda out: json.loads(out) if out else None)
