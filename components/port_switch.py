"""Turns a member's network port off and on, and says whether it is on.

The failover drill disables the master's port; everything here serves getting it
back: `restore` re-enables a port (retrying while the API or command fails) and
then waits until the switch itself reports it enabled, or raises RestoreFailed
with the command a person can run instead.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]
RESTORE_DEADLINE = 60.0


@dataclass(frozen=True)
class PortState:
    enabled: bool | None  # None: this switch cannot tell
    detail: str


class PortSwitch(Protocol):
    """A member's port: off, on, and what it is now."""

    def port_id(self, member: str) -> str: ...
    def disable(self, member: str) -> None: ...
    def enable(self, member: str) -> None: ...
    def state(self, member: str) -> PortState: ...
    def manual_restore(self, member: str) -> str: ...


class CommandSwitch:
    """Shell templates with {member} and {port_id}: the labs' bridge-port block.
    `check` exits 0 while the port is enabled (optional: without it, unverified)."""

    def __init__(self, disable: str, enable: str, ports: dict[str, str],
                 check: str = "") -> None:
        self._disable, self._enable, self._check, self._ports = disable, enable, check, ports

    def port_id(self, member: str) -> str:
        return self._ports.get(member, "")

    def _command(self, template: str, member: str) -> str:
        return template.format(member=shlex.quote(member),
                               port_id=shlex.quote(self.port_id(member)))

    def disable(self, member: str) -> None:
        subprocess.run(self._command(self._disable, member), shell=True, check=True)

    def enable(self, member: str) -> None:
        subprocess.run(self._command(self._enable, member), shell=True, check=True)

    def state(self, member: str) -> PortState:
        if not self._check:
            return PortState(None, "no --check-cmd to verify with")
        result = subprocess.run(self._command(self._check, member), shell=True, check=False,
                                capture_output=True, text=True)
        return PortState(result.returncode == 0, f"check command exited {result.returncode}")

    def manual_restore(self, member: str) -> str:
        return self._command(self._enable, member)


class NeutronSwitch:
    """`admin_state_up` of the member's Neutron port: the recipe's failover test."""

    def __init__(self, ports: dict[str, str]) -> None:
        import openstack  # openstacksdk; reads OS_CLOUD / clouds.yaml / OS_* like the CLI

        self._ports = ports
        self._conn = openstack.connect()
        self._network = self._conn.network

    def port_id(self, member: str) -> str:
        return self._ports[member]

    def disable(self, member: str) -> None:
        self._network.update_port(self._ports[member], admin_state_up=False)

    def enable(self, member: str) -> None:
        self._network.update_port(self._ports[member], admin_state_up=True)

    def state(self, member: str) -> PortState:
        port = self._network.get_port(self._ports[member])
        return PortState(bool(port.is_admin_state_up),
                         f"admin_state_up={port.is_admin_state_up}, status={port.status}")

    def manual_restore(self, member: str) -> str:
        return f"openstack port set --enable {shlex.quote(self._ports[member])}"

    def booted(self, member: str) -> bool | None:
        """Whether the member's server has finished booting: cloud-init's last line
        ("Cloud-init v. ... finished at ...", after the user-data started keepalived) in
        its console log; None where that cannot be told (no server on the port yet, no
        console log, an API that refuses it)."""
        try:
            server_id = self._network.get_port(self._ports[member]).device_id
            if not server_id:
                return None
            output = self._conn.compute.get_server_console_output(server_id).get("output")
        except Exception:  # console logs are optional in OpenStack
            return None
        if not output:
            return None
        return cloud_init_finished(output)


def cloud_init_finished(console: str) -> bool:
    """cloud-init's final line in a console log: "[  205.7] cloud-init[400]: Cloud-init v.
    22.4.2 finished at ..." (the kernel's time stamp and the unit's name come first)."""
    return any("Cloud-init v." in line and " finished at " in line
               for line in console.splitlines())


@dataclass(frozen=True)
class Restored:
    member: str
    port_id: str
    verified: bool | None  # None: the switch cannot tell
    detail: str


class RestoreFailed(RuntimeError):
    """The port could not be re-enabled (or not seen enabled) before the deadline."""

    def __init__(self, member: str, port_id: str, reason: str, command: str) -> None:
        super().__init__(f"could not re-enable {member}'s port {port_id}: {reason}; "
                         f"restore it with: {command}")
        self.member, self.port_id, self.command = member, port_id, command


def restore(switch: PortSwitch, member: str, deadline: float = RESTORE_DEADLINE,
            interval: float = 1.0, clock: Clock = time.monotonic) -> Restored:
    """Enable `member`'s port and wait until the switch reports it enabled."""
    start = clock()
    last_error = ""
    while True:
        try:
            switch.enable(member)
            break
        except Exception as error:  # the API or command may fail for a moment
            last_error = f"{type(error).__name__}: {error}"
        if clock() - start >= deadline:
            raise RestoreFailed(member, switch.port_id(member), last_error,
                                switch.manual_restore(member))
        time.sleep(interval)
    while True:
        try:
            state = switch.state(member)
        except Exception as error:
            state = PortState(False, f"could not read the port: {type(error).__name__}: {error}")
        if state.enabled is not False:
            return Restored(member, switch.port_id(member), state.enabled, state.detail)
        if clock() - start >= deadline:
            raise RestoreFailed(member, switch.port_id(member),
                                f"still not enabled after {deadline:.0f} s ({state.detail})",
                                switch.manual_restore(member))
        time.sleep(interval)
