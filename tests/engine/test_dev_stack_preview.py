"""`pulumi preview` of the real stacks, offline, through the real engine and providers.

* the dev stack (this repo's Pulumi.yaml + Pulumi.dev.yaml + __main__.py, copied to a temporary
  project) and a VRRPv2 variant of it: the planned resource types and counts, derived from the
  config, and no secret in plain text in `pulumi preview --json`;
* the example consumer (examples/consumer), with the component from a wheel built from this
  repository in a fresh venv: two pairs on one existing network;
* the policy pack (policy/): passes on the dev stack, fails on tests/engine/bad_stack;
* `pulumi package add provider/` from a Python consumer, and a preview through the generated SDK.

Offline: `vrrp-pair:externalNetworkId` is a fixed fake UUID (no network look-up), and
`openstack:authUrl` points at 127.0.0.1:1 where nothing listens; the openstack provider's delayed
auth never contacts it in a preview of new resources.

Needs the toolchain (CLI, our language host, vrrp-python-codegen) and the openstack and command
plugins registered in .tools/pulumi/home (or VRRP_TOOLS_DIR/home):

    VRRP_PULUMI_VERSION=v3.274.1 bash toolchain/install-pulumi-toolchain || [ $? -eq 3 ]
    toolchain/install-language-host
    toolchain/providers/build

Without them these tests skip locally and FAIL when CI=true. State goes to a temporary file://
backend, plugins are symlinked into a temporary PULUMI_HOME; nothing is written to the repository.
Run with `-s` to see the preview summaries and the policy pack's report on the bad stack.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from labs.toolchain import TOOLS, engine_env

from .test_language_host import (
    BIN,
    REPO,
    Cli,
    pulumi_only_venv,
    require,
    venv_dir,
    write_project,
)

PASSPHRASE = "dev-stack-preview-test"
FAKE_EXTERNAL_NETWORK_ID = "5e7c1d2a-0b0b-4c4c-8d8d-0123456789ab"
OFFLINE_AUTH_URL = "http://127.0.0.1:1/v3"
PASSWORD = "os-Passw0rd-must-not-print"
# A real public key (aptMirrorKey is parsed); kept secret here to follow a secret
# config value into userData: no line of its body may be printed.
MIRROR_KEY = (Path(__file__).resolve().parents[1] / "data" / "mirror-key.asc").read_text()
MIRROR_KEY_SECRET = MIRROR_KEY.splitlines()[2]
PROVIDERS = {"openstack": "pulumi_openstack", "command": "pulumi_command"}

STACK = "pulumi:pulumi:Stack"
PAIR = "vrrp-pair:index:VrrpPair"
NETWORK = "openstack:networking/network:Network"
SUBNET = "openstack:networking/subnet:Subnet"
ROUTER = "openstack:networking/router:Router"
ROUTER_IF = "openstack:networking/routerInterface:RouterInterface"
SECGROUP = "openstack:networking/secGroup:SecGroup"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
PORT = "openstack:networking/port:Port"
SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
INSTANCE = "openstack:compute/instance:Instance"
FLOATING_IP = "openstack:networking/floatingIp:FloatingIp"
COMMAND = "command:local:Command"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how preview --json shows an unknown value

POLICY_PACK = REPO / "policy"
POLICY_CONFIG = POLICY_PACK / "dev-config.json"
BAD_STACK = Path(__file__).resolve().parent / "bad_stack"
# Every policy of the pack, and what the bad stack does to violate it.
BAD_STACK_VIOLATIONS = {
    "vrrp-ingress-from-remote-group": "bad-vrrp-in",
    "no-world-ssh-or-http": "bad-ssh-in",
    "member-port-security": "bad-node-1-port",
    "address-pairs-single-host": "bad-node-1-port",
    "address-pairs-match-vip-port": "vrrp-bad-stack-dev",
    "members-anti-affine": "vrrp-bad-stack-dev",
}


# --- the engine: CLI + host + plugins in a temporary PULUMI_HOME ---------------------------------


def plugin_versions() -> dict[str, str]:
    """The plugin versions the venv's provider SDKs ask the engine for."""
    py = venv_dir() / "bin" / "python"
    code = (
        "import importlib.metadata as m, json, sys; json.dump({n: m.version(d) for n, d in "
        f"{PROVIDERS!r}.items()}}, sys.stdout)"
    )
    res = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    require(res.returncode == 0, f"{py} lacks pulumi_openstack/pulumi_command: {res.stderr}")
    return dict(json.loads(res.stdout))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the CLI: temporary backend and PULUMI_HOME holding the plugins."""
    require((BIN / "pulumi").is_file(), f"no Pulumi CLI at {BIN / 'pulumi'}")
    require((BIN / "pulumi-language-python").exists(), "no pulumi-language-python (ours)")
    require((BIN / "pulumi-language-python-exec").is_file(), "no pulumi-language-python-exec")
    root = tmp_path_factory.mktemp("engine")
    env = engine_env(root, PASSPHRASE, drop=("PULUMI_", "OS_"))
    plugins = root / "home" / "plugins"
    plugins.mkdir()
    for name, version in plugin_versions().items():
        plugin_dir = TOOLS / "home" / "plugins" / f"resource-{name}-v{version}"
        binary = plugin_dir / f"pulumi-resource-{name}"
        require(
            binary.is_file(),
            f"no {name} {version} plugin at {binary} (toolchain/providers/build registers it)",
        )
        # A real directory with a symlinked binary: the CLI ignores symlinked plugin directories.
        (plugins / binary.parent.name).mkdir()
        (plugins / binary.parent.name / binary.name).symlink_to(binary)
    return env


def preview_json(cli: Cli, stack: str, *extra: str) -> dict[str, Any]:
    res = cli.run("preview", "--json", "--stack", stack, *extra)
    assert res.stdout.lstrip().startswith("{"), res.stdout[:2000]
    return dict(json.loads(res.stdout))


def created(preview: Mapping[str, Any]) -> collections.Counter[str]:
    steps = preview["steps"]
    assert {s["op"] for s in steps} == {"create"}, [(s["op"], s["urn"]) for s in steps]
    return collections.Counter(s["newState"]["type"] for s in steps)


def show(title: str, counts: Mapping[str, int]) -> None:
    print(f"\n== {title}: {sum(counts.values())} to create")
    for typ, n in sorted(counts.items()):
        print(f"   {n:3d}  {typ}")


def config_set(cli: Cli, stack: str, config: Mapping[str, str], secret: bool = False) -> None:
    """`pulumi config set`, the value on stdin (it may start with "-" or span lines)."""
    for key, value in config.items():
        res = subprocess.run(
            [str(BIN / "pulumi"), "config", "set", key, "--stack", stack, "--non-interactive",
             "--secret" if secret else "--plaintext"],
            input=value, cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.returncode == 0, f"pulumi config set {key}: {res.stdout}{res.stderr}"


# --- what the config says the plan must be -------------------------------------------------------


def project_defaults() -> dict[str, Any]:
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    return {key: spec["default"] for key, spec in declared.items() if "default" in spec}


def dev_config() -> dict[str, Any]:
    raw = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    return {key.removeprefix("vrrp-pair:"): value for key, value in raw.items()
            if key.startswith("vrrp-pair:")}  # fmt: skip


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def expected_pair(config: Mapping[str, Any]) -> collections.Counter[str]:
    """The resources one VrrpPair creates for these (camelCase) settings, defaults filled in."""
    c = {**project_defaults(), **config}
    members = int(c["memberCount"])
    own_network = not c["existingNetworkId"]
    router = own_network and bool(c["externalNetworkId"] or c["externalNetwork"])
    http_cidrs = list(c["httpAllowedCidrs"]) or [c["subnetCidr"]]
    commands = (
        (int(c["vrrpVersion"]) == 2)  # the VRRPv2 auth secret, generated at create time
        + (truthy(c["smokeCheck"]) or truthy(c["failoverDrill"]))
        + truthy(c["failoverDrill"])
    )
    counts = collections.Counter({
        PAIR: 1,
        NETWORK: int(own_network),
        SUBNET: int(own_network),
        ROUTER: int(router),
        ROUTER_IF: int(router),
        SECGROUP: 1,
        RULE: 1 + len(http_cidrs) + len(c["sshAllowedCidrs"]),  # VRRP + HTTP + SSH
        PORT: 1 + members,  # VIP + members
        SERVER_GROUP: int(c["serverGroupPolicy"] != "none"),
        INSTANCE: members,
        FLOATING_IP: int(truthy(c["floatingIp"])),
        COMMAND: commands,
    })
    return +counts  # drop zeros


# --- the dev stack -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev(engine: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The repo's dev project in a temporary directory (program, Pulumi.yaml, Pulumi.dev.yaml),
    virtualenv pointed at the repo's (where this checkout is installed as `vrrp_pair`)."""
    project = tmp_path_factory.mktemp("dev-project")
    spec = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    spec["runtime"]["options"]["virtualenv"] = str(venv_dir())
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    shutil.copy(REPO / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    shutil.copy(REPO / "__main__.py", project / "__main__.py")
    cli = Cli(env=engine, cwd=project)
    cli.run("stack", "init", "dev")
    config_set(cli, "dev", {
        "vrrp-pair:externalNetworkId": FAKE_EXTERNAL_NETWORK_ID,
        "openstack:authUrl": OFFLINE_AUTH_URL,
    })  # fmt: skip
    config_set(cli, "dev", {"openstack:password": PASSWORD}, secret=True)
    return cli


def assert_user_data_secret(preview: Mapping[str, Any]) -> None:
    instances = [s for s in preview["steps"] if s["newState"]["type"] == INSTANCE]
    assert instances
    for step in instances:
        assert step["newState"]["inputs"]["userData"] == "[secret]", step["urn"]


def test_dev_stack_plan(dev: Cli) -> None:
    preview = preview_json(dev, "dev")
    text = json.dumps(preview)
    counts = created(preview)
    show("dev stack (Pulumi.dev.yaml)", counts)

    expected = expected_pair(dev_config())
    expected[STACK] = 1
    assert counts == expected
    # The recipe: network, subnet, router + interface, group, VRRP + HTTP 0.0.0.0/0 rules, VIP +
    # 2 member ports, anti-affinity group, 2 members, floating IP; no command in VRRPv3.
    assert counts == {STACK: 1, PAIR: 1, NETWORK: 1, SUBNET: 1, ROUTER: 1, ROUTER_IF: 1,
                      SECGROUP: 1, RULE: 2, PORT: 3, SERVER_GROUP: 1, INSTANCE: 2,
                      FLOATING_IP: 1}  # fmt: skip

    urns = [s["urn"] for s in preview["steps"]]
    assert len(set(urns)) == len(urns)
    routers = [s for s in preview["steps"] if s["newState"]["type"] == ROUTER]
    assert routers[0]["newState"]["inputs"]["externalNetworkId"] == FAKE_EXTERNAL_NETWORK_ID
    assert PASSWORD not in text
    assert preview["config"]["openstack:password"] == "[secret]"
    assert_user_data_secret(preview)

    # Control: the secret is really in the stack's config (and plain values are in the JSON).
    stored = dev.run("config", "get", "openstack:password", "--stack", "dev").stdout
    assert stored.strip() == PASSWORD
    assert preview["config"]["vrrp-pair:image"] == "debian-12"


def test_vrrpv2_variant_keeps_secrets(dev: Cli) -> None:
    """VRRPv2: the PASS secret comes from a command.local.Command at create time (unknown in
    preview), and a secret config value (the mirror key) flows into userData."""
    shutil.copy(dev.cwd / "Pulumi.dev.yaml", dev.cwd / "Pulumi.v2.yaml")  # same salt, same keys
    dev.run("stack", "init", "v2")
    variant = {
        "vrrpVersion": "2",
        "advertInterval": "1",
        "packageSource": "mirror",
        "aptMirror": "http://mirror.example.invalid/debian",
    }
    config_set(dev, "v2", {f"vrrp-pair:{k}": v for k, v in variant.items()})
    config_set(dev, "v2", {"vrrp-pair:aptMirrorKey": MIRROR_KEY}, secret=True)

    res = dev.run("preview", "--json", "--stack", "v2")
    preview = json.loads(res.stdout)
    counts = created(preview)
    show("dev stack, VRRPv2 variant", counts)
    expected = expected_pair({**dev_config(), **variant})
    expected[STACK] = 1
    assert counts == expected
    assert counts[COMMAND] == 1

    for secret in (MIRROR_KEY_SECRET, PASSWORD):
        assert secret not in res.stdout + res.stderr
    assert preview["config"]["vrrp-pair:aptMirrorKey"] == "[secret]"
    stored = dev.run("config", "get", "vrrp-pair:aptMirrorKey", "--stack", "v2").stdout
    assert MIRROR_KEY_SECRET in stored
    assert_user_data_secret(preview)
    (auth,) = (s for s in preview["steps"] if s["newState"]["type"] == COMMAND)
    assert auth["urn"].endswith("::vrrp-vrrp-auth")
    assert "stdout" in auth["newState"].get("additionalSecretOutputs", []), auth["newState"]


# --- another team's stack: the example consumer, with the component from the built wheel --------

EXAMPLE = REPO / "examples" / "consumer"


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def example_pairs() -> dict[str, dict[str, Any]]:
    """Each pair's settings (camelCase, as the project's config) from the example's stack file."""
    config = yaml.safe_load((EXAMPLE / "Pulumi.shared.yaml").read_text())["config"]
    shared = config["vrrp-consumer:shared"]
    return {name: {camel(k): v for k, v in {**shared, **own}.items()}
            for name, own in config["vrrp-consumer:pairs"].items()}  # fmt: skip


@pytest.fixture(scope="module")
def consumer_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel built from this repository and its pinned dependencies
    (pip fetches them from the package index): no checkout on its path."""
    root = tmp_path_factory.mktemp("consumer-env")
    subprocess.run([str(venv_dir() / "bin" / "python"), "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(root / "dist"), str(REPO)], check=True, timeout=600)  # fmt: skip
    (wheel,) = (root / "dist").glob("vrrp_pair-*.whl")
    venv = root / "venv"
    subprocess.run([str(venv_dir() / "bin" / "python"), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel),
                    "-c", str(REPO / "requirements.lock")], check=True, timeout=900)  # fmt: skip
    return venv


def consumer_preview(engine: dict[str, str], venv: Path, project: Path,
                     stack: str) -> dict[str, Any]:
    """`preview --json` of a consumer project in `project` (the example's Pulumi.yaml, run by the
    venv that holds the wheel), on a new stack with the offline auth URL."""
    spec = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    spec["runtime"]["options"]["virtualenv"] = str(venv)
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    cli = Cli(env=engine, cwd=project)
    cli.run("stack", "init", stack)
    config_set(cli, stack, {"openstack:authUrl": OFFLINE_AUTH_URL})
    return preview_json(cli, stack)


def test_the_installed_package_runs_its_checks_without_the_checkout(consumer_venv: Path,
                                                                     tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [str(consumer_venv / "bin" / "python"), "-c",
         "import json, vrrp_pair, vrrp_pair.render as r;"
         " print(json.dumps([vrrp_pair.__file__, r.template_text('keepalived.conf.j2')]))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    module_file, template = json.loads(where.stdout)
    assert Path(module_file).is_relative_to(consumer_venv), module_file
    assert template == (REPO / "cloud-init" / "keepalived.conf.j2").read_text()
    check = subprocess.run([str(consumer_venv / "bin" / "python"), "-m", "vrrp_pair.failover_check",
                            "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert check.returncode == 0 and "smoke" in check.stdout, check.stdout + check.stderr


def test_the_example_consumer_previews_two_pairs_from_the_wheel(
        engine: dict[str, str], consumer_venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "consumer"
    shutil.copytree(EXAMPLE, project)
    preview = consumer_preview(engine, consumer_venv, project, "shared")
    counts = created(preview)
    show("example consumer stack, two VrrpPair on one existing network", counts)

    pairs = example_pairs()
    expected = collections.Counter({STACK: 1})
    for name, cfg in pairs.items():
        expected += expected_pair(cfg)
        children = collections.Counter(
            s["newState"]["type"] for s in preview["steps"]
            if s["newState"].get("parent", "").endswith(f"::{PAIR}::{name}"))  # fmt: skip
        assert children + collections.Counter({PAIR: 1}) == expected_pair(cfg), name
    assert counts == expected
    assert NETWORK not in counts and ROUTER not in counts  # both on the existing network

    urns = [s["urn"] for s in preview["steps"]]
    assert len(set(urns)) == len(urns)
    names = [s["newState"]["inputs"]["name"] for s in preview["steps"]
             if "name" in s["newState"].get("inputs", {})]  # fmt: skip
    assert len(set(names)) == len(names), collections.Counter(names).most_common(3)
    for name in pairs:
        assert any(n.startswith(f"{name}-") for n in names)
    ports = [s["newState"]["inputs"] for s in preview["steps"] if s["newState"]["type"] == PORT]
    assert {p["networkId"] for p in ports} == {cfg["existingNetworkId"] for cfg in pairs.values()}
    assert len({cfg["existingNetworkId"] for cfg in pairs.values()}) == 1


OWN_NETWORK_PROGRAM = """\
import pulumi
import pulumi_openstack as openstack
from vrrp_pair import VrrpPair

net = openstack.networking.Network("apps", name="apps")
subnet = openstack.networking.Subnet("apps", network_id=net.id, cidr="10.30.0.0/24")
pair = VrrpPair("api", {"existing_network_id": net.id, "existing_subnet_id": subnet.id,
                        "subnet_cidr": "10.30.0.0/24", "gateway_ip": "10.30.0.1",
                        "vip_address": "10.30.0.10",
                        "member_addresses": ["10.30.0.11", "10.30.0.12"],
                        "image": "debian-12", "flavor": "m1.small"})
pulumi.export("vrid", pair.vrid)
"""


def test_a_consumer_puts_a_pair_on_the_network_it_declares(
        engine: dict[str, str], consumer_venv: Path, tmp_path: Path) -> None:
    """existingNetworkId/existingSubnetId as outputs of the consumer's own resources, through
    the real engine: unknown in preview, so the ports wait for them; nothing else is made."""
    project = tmp_path / "own-network"
    project.mkdir()
    (project / "__main__.py").write_text(OWN_NETWORK_PROGRAM)
    preview = consumer_preview(engine, consumer_venv, project, "own")
    counts = created(preview)
    show("a pair on the consumer's own network (outputs as IDs)", counts)
    assert counts[NETWORK] == 1 and counts[SUBNET] == 1 and ROUTER not in counts
    pair_children = [s for s in preview["steps"]
                     if s["newState"].get("parent", "").endswith(f"::{PAIR}::api")]
    assert pair_children and not {NETWORK, SUBNET} & {s["newState"]["type"] for s in pair_children}
    ports = [s["newState"]["inputs"] for s in preview["steps"] if s["newState"]["type"] == PORT]
    assert len(ports) == 3
    for port in ports:  # not known before the consumer's network exists: the engine's unknown
        assert port["networkId"] == UNKNOWN, port
        assert port["fixedIps"][0]["subnetId"] == UNKNOWN, port
    assert {p["fixedIps"][0]["ipAddress"] for p in ports} == {
        "10.30.0.10", "10.30.0.11", "10.30.0.12"}


# --- the policy pack ------------------------------------------------------------------------------

VIOLATION = re.compile(r"^\s*- \[(mandatory|advisory|remediate)\]\s+(\S+)\s+\(([^)]*)\)", re.M)


def policy_report(output: str) -> str:
    start = output.find("Policies:")
    assert start >= 0, output
    end = output.find("\nOutputs:", start)
    report = output[start:] if end < 0 else output[start:end]
    return report.split("\nDiagnostics:")[0]


def with_policy_pack(cli: Cli, stack: str, config: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["preview", "--stack", stack, "--policy-pack", str(POLICY_PACK)]
    if config:
        args += ["--policy-pack-config", str(POLICY_CONFIG)]
    return cli.run(*args, check=False)


def test_policy_pack_passes_the_dev_stack(dev: Cli) -> None:
    res = with_policy_pack(dev, "dev")
    report = policy_report(res.stdout)
    print(f"\n== policy pack on the dev stack (exit {res.returncode})\n{report}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not [v for v in VIOLATION.findall(report) if v[0] == "mandatory"], report
    # Every policy really ran: none was skipped for reading an ID unknown in preview.
    assert "can't run policy" not in res.stdout, res.stdout

    # Without dev-config.json, HTTP from 0.0.0.0/0 (the dev stack's httpAllowedCidrs) is a
    # violation: the pack really evaluates the dev stack's rules, and reads its config.
    strict = with_policy_pack(dev, "dev", config=False)
    assert strict.returncode != 0, strict.stdout
    assert re.search(r"\[mandatory\]\s+no-world-ssh-or-http\s+\(openstack:networking:"
                     r"SecGroupRule: vrrp-http-in-0\.0\.0\.0-0\)", strict.stdout), strict.stdout
    assert "TCP port 80 is open to 0.0.0.0/0" in strict.stdout


def test_policy_pack_fails_the_bad_stack(engine: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "bad_stack"
    shutil.copytree(BAD_STACK, project)
    spec = yaml.safe_load((project / "Pulumi.yaml").read_text())
    spec["runtime"]["options"]["virtualenv"] = str(venv_dir())
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    cli = Cli(env=engine, cwd=project)
    cli.run("stack", "init", "dev")
    config_set(cli, "dev", {"openstack:authUrl": OFFLINE_AUTH_URL})

    res = with_policy_pack(cli, "dev")
    report = policy_report(res.stdout)
    print(f"\n== policy pack on tests/engine/bad_stack (exit {res.returncode})\n{report}")
    assert res.returncode != 0, res.stdout
    assert "error: preview failed" in res.stdout + res.stderr

    found = {(level, name, where.rsplit(": ", 1)[-1]) for level, name, where in
             VIOLATION.findall(report)}  # fmt: skip
    for policy, resource in BAD_STACK_VIOLATIONS.items():
        assert policy in report, f"{policy} missing from\n{report}"
        assert f"can't run policy '{policy}'" not in report, report
        assert ("mandatory", policy, resource) in found, f"{policy} on {resource}:\n{report}"


# --- the component through `pulumi package add` ---------------------------------------------------

SDK_PAIR = {
    "image": "debian-12",
    "flavor": "m1.small",
    "externalNetworkId": FAKE_EXTERNAL_NETWORK_ID,
    "vipAddress": "10.30.0.200",
    "subnetCidr": "10.30.0.0/24",
    "floatingIp": True,
    "externalNetwork": "public",
}


def test_package_add_and_preview_through_the_generated_sdk(
    engine: dict[str, str], tmp_path: Path
) -> None:
    require((BIN / "vrrp-python-codegen").is_file(), "no vrrp-python-codegen (GeneratePackage)")
    provider_files = sorted(p.name for p in (REPO / "provider").iterdir())
    venv = pulumi_only_venv(tmp_path / "consumer-venv")
    args = ", ".join(f"{snake(k)}={v!r}" for k, v in SDK_PAIR.items())
    project = write_project(
        tmp_path / "sdk-consumer",
        f"""
        import pulumi
        import pulumi_vrrp_pair as vrrp_pair

        pair = vrrp_pair.VrrpPair("sdkpair", {args})
        pulumi.export("vipAddress", pair.vip_address)
        """,
        name="sdk-consumer",
    )
    (project / "Pulumi.yaml").write_text(
        (project / "Pulumi.yaml").read_text().replace(str(venv_dir()), str(venv))
    )
    cli = Cli(env=engine, cwd=project)
    added = cli.run("package", "add", str(REPO / "provider"))
    assert "import pulumi_vrrp_pair as vrrp_pair" in added.stdout
    assert (project / "sdks" / "vrrp-pair" / "pulumi_vrrp_pair" / "__init__.py").is_file()
    assert "./sdks/vrrp-pair" in (project / "requirements.txt").read_text()
    assert sorted(p.name for p in (REPO / "provider").iterdir()) == provider_files

    cli.run("stack", "init", "dev")
    config_set(cli, "dev", {"openstack:authUrl": OFFLINE_AUTH_URL})
    preview = preview_json(cli, "dev")
    counts = created(preview)
    show("consumer through `pulumi package add provider/` (generated SDK)", counts)
    expected = expected_pair(SDK_PAIR)
    expected[STACK] = 1
    assert counts == expected
    (component,) = (s for s in preview["steps"] if s["newState"]["type"] == PAIR)
    assert component["urn"].endswith(f"{PAIR}::sdkpair")
    assert not component["newState"]["custom"]
    assert_user_data_secret(preview)

