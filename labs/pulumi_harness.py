"""Runs VrrpPair under Pulumi mocks and records what it asked the engine to create."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
MOCK_FLOATING_IP = "203.0.113.10"
MOCK_AUTH_SECRET = "Mk9-sec_"
MOCK_COMMAND_STDOUT = {  # by the last word of the command's name
    "auth": MOCK_AUTH_SECRET + "\n",
    "check": '{"served_by": "vrrp-node-1", "seconds_to_first_answer": 1.5}\n',
    "drill": '{"old_master": "vrrp-node-1", "new_master": "vrrp-node-2", '
             '"downtime_seconds": 0.42}\n',
    "repair": '{"checked": [], "restored": []}\n',
}


@dataclass
class Recorded:
    typ: str
    name: str
    inputs: dict[str, Any]
    secret_inputs: set[str] = field(default_factory=set)
    dependencies: list[str] = field(default_factory=list)


def unwrap_secrets(value: Any, path: str, secrets: set[str]) -> Any:
    """Mocks see secrets as wrapped dicts: unwrap them and remember where they were."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            secrets.add(path)
            return unwrap_secrets(value["value"], path, secrets)
        return {k: unwrap_secrets(v, f"{path}.{k}" if path else k, secrets)
                for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """Also records each registration's dependencies, parent and URN, which
    MockResourceArgs lacks."""

    def RegisterResource(self, request: Any) -> Any:
        mocks: RecordingMocks = self.mocks  # type: ignore[assignment]
        mocks.dependencies[request.name] = list(request.dependencies)
        if request.deleteBeforeReplace:
            mocks.delete_before_replace.add(request.name)
        mocks.parents[request.name] = request.parent
        mocks.secret_outputs[request.name] = list(request.additionalSecretOutputs)
        response = super().RegisterResource(request)
        mocks.urns[response.urn] = request.name
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        mocks: RecordingMocks = self.mocks  # type: ignore[assignment]
        name = mocks.urns.get(request.urn, request.urn)
        mocks.registered_outputs[name] = pulumi.runtime.rpc.deserialize_properties(
            request.outputs)
        return super().RegisterResourceOutputs(request)


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes inputs back as outputs and fills in what Neutron/Nova would compute."""

    resources: list[Recorded] = field(default_factory=list)
    dependencies: dict[str, list[str]] = field(default_factory=dict)
    delete_before_replace: set[str] = field(default_factory=set)
    # Where Neutron allocates from, and what it never hands out (the pair's own
    # explicit addresses and the gateway).
    subnet: str = "10.10.0.0/24"
    reserved: set[str] = field(default_factory=set)
    # Port IDs that Neutron reports admin_state_up=false for (getPort).
    disabled_ports: set[str] = field(default_factory=set)
    # Every invoke's token, in call order (a data-source read, or a command run now).
    invokes: list[str] = field(default_factory=list)
    # Every invoke whole (token, arguments, the provider it went to), in call order.
    invoke_calls: list[pulumi.runtime.MockCallArgs] = field(default_factory=list)
    # Every registration's parent URN ("" for the stack), and the name of each URN.
    parents: dict[str, str] = field(default_factory=dict)
    # What each component registered as its outputs (register_outputs), by name.
    registered_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each registration's additional_secret_outputs (kept secret in the engine's state).
    secret_outputs: dict[str, list[str]] = field(default_factory=dict)
    urns: dict[str, str] = field(default_factory=dict)
    _next_ip: int = 100

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        secrets: set[str] = set()
        inputs = unwrap_secrets(dict(args.inputs), "", secrets)
        outputs = dict(args.inputs)
        if args.typ == "openstack:networking/port:Port":
            fixed = [f.get("ipAddress") for f in inputs.get("fixedIps", [])]
            outputs["allFixedIps"] = [ip or self._allocate() for ip in fixed]
        elif args.typ == "openstack:networking/floatingIp:FloatingIp":
            outputs["address"] = MOCK_FLOATING_IP
        elif args.typ == "command:local:Command":
            outputs["stdout"] = MOCK_COMMAND_STDOUT[args.name.rsplit("-", 2)[-1]]
        if args.typ != "vrrp-pair:index:VrrpPair":
            self.resources.append(Recorded(args.typ, args.name, inputs, secrets,
                                           self.dependencies.get(args.name, [])))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs
             ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        self.invokes.append(args.token)
        self.invoke_calls.append(args)
        if args.token == "openstack:networking/getNetwork:getNetwork":
            return {"id": f"{args.args.get('name')}-net-id", "name": args.args.get("name")}, []
        if args.token == "openstack:networking/getPort:getPort":
            port_id = args.args.get("portId")
            return {"id": port_id, "portId": port_id,
                    "adminStateUp": port_id not in self.disabled_ports}, []
        return {}, []

    def _allocate(self) -> str:
        network = ipaddress.ip_network(self.subnet)
        self._next_ip = min(self._next_ip, network.num_addresses // 2 - 1)
        while True:
            self._next_ip += 1
            address = str(network.network_address + self._next_ip)
            if address not in self.reserved:
                self.reserved.add(address)
                return address

    def ancestors(self, name: str) -> list[str]:
        """The names of a resource's parent, its parent's parent, ... up to the stack."""
        chain: list[str] = []
        while (parent := self.parents.get(name, "")) and parent in self.urns:
            name = self.urns[parent]
            chain.append(name)
        return chain

    def of_type(self, suffix: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ.endswith(suffix)]

    def named(self, name: str) -> Recorded:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{name}: {len(matches)} resources"
        return matches[0]


def run_program(program: Callable[[], Any], mocks: RecordingMocks | None = None,
                preview: bool = False) -> RecordingMocks:
    """Runs `program` (which declares resources and returns an Output to wait
    for) under fresh mocks, and returns the mocks with every recorded resource."""
    from vrrp_pair.vrid import registry

    registry.reset()
    mocks = mocks or RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="vrrp-pair", stack="test", preview=preview,
                             monitor=RecordingMonitor(mocks))

    result: dict[str, Any] = {}

    @pulumi.runtime.test
    def body() -> Any:
        out = program()
        return pulumi.Output.from_input(out).apply(lambda value: result.update(value=value))

    body()
    return mocks


@atexit.register
def _close_event_loop() -> None:
    """Closes the loop the mocks ran on while the interpreter is whole: left to the
    garbage collector at shutdown, it fails on its already-closed self-pipe and prints
    a traceback into scripts' output."""
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_running():
            loop.close()


def resolve(output: Any) -> Any:
    """Used inside a program: wraps an awaitable (e.g. Output.is_secret()) as an Output."""
    return pulumi.Output.from_input(asyncio.ensure_future(output))


RECIPE_ARGS: dict[str, Any] = {
    "subnet_cidr": "10.10.0.0/24",
    "member_addresses": ["10.10.0.4", "10.10.0.5"],
    "vip_address": "10.10.0.200",
    "floating_ip": True,
    "external_network": "public",
    "external_network_id": "11111111-2222-3333-4444-555555555555",
    "image": "debian-12",
    "flavor": "m1.small",
    "http_allowed_cidrs": ["0.0.0.0/0"],
}
