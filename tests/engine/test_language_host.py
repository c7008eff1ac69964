"""The real Pulumi CLI runs Python programs through our host (toolchain/pulumi-language-python).

Needs the toolchain in .tools/pulumi (or VRRP_TOOLS_DIR):

    VRRP_PULUMI_VERSION=v3.274.1 bash toolchain/install-pulumi-toolchain   # exit 3 is fine here
    toolchain/install-language-host

Without it these tests skip locally, and FAIL when CI=true: CI must have installed it.
Every stack lives in a temporary file:// backend with a temporary PULUMI_HOME; nothing is
written to the repository or to the toolchain's home.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labs.toolchain import BIN, engine_env
from tests import gate

REPO = Path(__file__).resolve().parents[2]
SECRET = "vrrp-Sekr3t-do-not-print"
PASSPHRASE = "language-host-test"
INSTALL_HINT = (
    "run `bash toolchain/install-pulumi-toolchain` (exit 3 is fine) and "
    "`toolchain/install-language-host`"
)


def venv_dir() -> Path:
    """The interpreter programs run in: the repo's .venv, else the one running the tests."""
    repo_venv = REPO / ".venv"
    if (repo_venv / "bin" / "python").exists():
        return repo_venv.resolve()
    return Path(sys.prefix)


def require(ok: bool, why: str) -> None:
    gate.require(ok, f"{why}; {INSTALL_HINT}")


@pytest.fixture(scope="module")
def toolchain() -> Path:
    require((BIN / "pulumi").is_file(), f"no Pulumi CLI at {BIN / 'pulumi'}")
    require(
        (BIN / "pulumi-language-python").exists(),
        f"no language host at {BIN / 'pulumi-language-python'}",
    )
    require(
        (BIN / "pulumi-language-python-exec").is_file(),
        f"no {BIN / 'pulumi-language-python-exec'}",
    )
    venv = venv_dir()
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import pulumi, grpc"], capture_output=True
    )
    require(probe.returncode == 0, f"{venv} has no pulumi SDK")
    return BIN


@dataclass
class Cli:
    env: dict[str, str]
    cwd: Path

    def run(
        self, *args: str, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [str(BIN / "pulumi"), *args, "--non-interactive", "--color", "never"],
            cwd=cwd or self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and res.returncode != 0:
            pytest.fail(
                f"pulumi {' '.join(args)} exited {res.returncode}\n"
                f"--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
            )
        return res


def write_project(path: Path, program: str, name: str = "lhtest") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    virtualenv: {venv_dir()}\n"
    )
    (path / "__main__.py").write_text(textwrap.dedent(program))
    return path


PROGRAM = """
    import pulumi

    class Box(pulumi.ComponentResource):
        def __init__(self, name, opts=None):
            super().__init__("lhtest:index:Box", name, None, opts)
            self.size = pulumi.Output.from_input(42)
            self.register_outputs({"size": self.size})

    config = pulumi.Config()
    token = config.require_secret("token")
    box = Box("box")
    pulumi.export("x", 1)
    pulumi.export("boxSize", box.size)
    pulumi.export("token", token)
    pulumi.export("tokenLength", token.apply(len))
    pulumi.export("stack", pulumi.get_stack())
"""


@pytest.fixture
def cli(toolchain: Path, tmp_path: Path) -> Iterator[Cli]:
    env = engine_env(tmp_path, PASSPHRASE)
    project = write_project(tmp_path / "project", PROGRAM)
    yield Cli(env=env, cwd=project)


def init_stack(cli: Cli) -> None:
    cli.run("stack", "init", "dev")
    cli.run("config", "set", "--secret", "token", SECRET)


def test_cli_finds_our_host(cli: Cli) -> None:
    about = cli.run("about").stdout
    assert re.search(r"^language\s+python\s", about, re.MULTILINE), about
    assert "vrrp-pair python language host" in about


def test_preview_up_outputs_destroy(cli: Cli) -> None:
    init_stack(cli)

    preview = cli.run("preview")
    assert "lhtest:index:Box" in preview.stdout
    assert "+ 2 to create" in preview.stdout
    assert SECRET not in preview.stdout + preview.stderr

    preview_json = cli.run("preview", "--json")
    assert SECRET not in preview_json.stdout + preview_json.stderr
    steps = json.loads(preview_json.stdout)["steps"]
    assert {s["newState"]["type"] for s in steps} >= {"pulumi:pulumi:Stack", "lhtest:index:Box"}

    up = cli.run("up", "--yes")
    assert "2 created" in up.stdout
    assert SECRET not in up.stdout + up.stderr

    plain = json.loads(cli.run("stack", "output", "--json").stdout)
    assert plain["x"] == 1
    assert plain["boxSize"] == 42
    assert plain["stack"] == "dev"
    assert plain["token"] == "[secret]"
    shown = json.loads(cli.run("stack", "output", "--json", "--show-secrets").stdout)
    assert shown["token"] == SECRET
    assert shown["tokenLength"] == len(SECRET)

    export = cli.run("stack", "export").stdout
    assert SECRET not in export
    state = json.loads(export)
    types = {r["type"] for r in state["deployment"]["resources"]}
    assert "lhtest:index:Box" in types

    # A second update is a no-op: the program is deterministic.
    again = cli.run("preview", "--expect-no-changes")
    assert SECRET not in again.stdout

    destroy = cli.run("destroy", "--yes")
    assert "deleted" in destroy.stdout
    cli.run("stack", "rm", "--yes")


def test_program_errors_reach_the_user(cli: Cli) -> None:
    init_stack(cli)
    main = cli.cwd / "__main__.py"

    main.write_text("import pulumi\nraise ValueError('boom from the program')\n")
    res = cli.run("preview", check=False)
    assert res.returncode != 0
    assert "boom from the program" in res.stdout + res.stderr
    assert "Program failed with an unhandled exception" in res.stdout + res.stderr

    main.write_text("import sys\nsys.exit(3)\n")
    res = cli.run("preview", check=False)
    assert res.returncode != 0
    assert "program exited with non-zero exit code: 3" in res.stdout + res.stderr


def test_bad_virtualenv_is_explained(cli: Cli) -> None:
    init_stack(cli)
    (cli.cwd / "notavenv").mkdir()
    (cli.cwd / "notavenv" / "README").write_text("not a virtualenv\n")  # empty would be created
    (cli.cwd / "Pulumi.yaml").write_text(
        "name: lhtest\nruntime:\n  name: python\n  options:\n    virtualenv: notavenv\n"
    )
    res = cli.run("preview", check=False)
    assert res.returncode != 0
    assert "doesn't appear to be a virtual environment" in res.stdout + res.stderr


POLICY = """
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

    def no_boxes(args, report_violation):
        if args.resource_type == "lhtest:index:Box":
            report_violation("boxes are not allowed here")

    PolicyPack(
        name="lhtest-policy",
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=[ResourceValidationPolicy(
            name="no-boxes", description="No Box components.", validate=no_boxes)],
    )
"""


def test_python_policy_packs_run_through_run_plugin(cli: Cli, tmp_path: Path) -> None:
    init_stack(cli)
    probe = subprocess.run(
        [str(venv_dir() / "bin" / "python"), "-c", "import pulumi_policy"], capture_output=True
    )
    require(probe.returncode == 0, "the venv has no pulumi-policy")

    pack = tmp_path / "policy"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(
        f"runtime:\n  name: python\n  options:\n    virtualenv: {venv_dir()}\n"
    )
    (pack / "__main__.py").write_text(textwrap.dedent(POLICY))
    res = cli.run("preview", "--policy-pack", str(pack), check=False)
    assert res.returncode != 0, res.stdout
    assert "boxes are not allowed here" in res.stdout
    assert "no-boxes" in res.stdout

    # The repository's own pack (virtualenv ../.venv) against this program: nothing to flag.
    ours = cli.run(
        "preview",
        "--policy-pack", str(REPO / "policy"),
        "--policy-pack-config", str(REPO / "policy" / "dev-config.json"),
    )  # fmt: skip
    assert "vrrp-pair@v" in ours.stdout


PROVIDER = """
    from typing import Optional, TypedDict

    import pulumi
    from pulumi.provider.experimental import component_provider_host

    class GreeterArgs(TypedDict):
        name: pulumi.Input[str]

    class Greeter(pulumi.ComponentResource):
        greeting: pulumi.Output[str]

        def __init__(self, name: str, args: GreeterArgs,
                     opts: Optional[pulumi.ResourceOptions] = None):
            super().__init__("tiny:index:Greeter", name, {}, opts)
            self.greeting = pulumi.Output.concat("hello ", args["name"])
            self.register_outputs({"greeting": self.greeting})

    if __name__ == "__main__":
        component_provider_host([Greeter], name="tiny", version="0.1.0")
"""


def pulumi_only_venv(path: Path) -> Path:
    """A venv that sees only the pulumi SDK and its dependencies from ours (no pulumi_openstack,
    whose resource plugin the CLI would then want to download): symlinks, no download. (Installing
    the generated SDK into it later may fetch setuptools from PyPI for pip's build isolation.)"""
    py = venv_dir() / "bin" / "python"
    subprocess.run([str(py), "-m", "venv", str(path)], check=True)  # pip: ensurepip, offline
    lister = textwrap.dedent("""
        import importlib.metadata as md, json, re, sys
        norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
        todo, seen, paths = ["pulumi"], set(), set()
        while todo:
            name = norm(todo.pop())
            if name in seen:
                continue
            seen.add(name)
            try:
                dist = md.distribution(name)
            except md.PackageNotFoundError:
                continue
            for f in dist.files or []:
                top = f.parts[0]
                if top not in ("..", "__pycache__") and not top.endswith(".pth"):
                    paths.add(str(dist.locate_file(top)))
            for req in dist.requires or []:
                if "extra ==" not in req:
                    todo.append(re.split(r"[ ;<>=!~\\[(]", req, maxsplit=1)[0])
        json.dump(sorted(paths), sys.stdout)
    """)
    paths = json.loads(subprocess.run([str(py), "-c", lister], check=True, capture_output=True,
                                      text=True).stdout)  # fmt: skip
    site = next((path / "lib").glob("python3*/site-packages"))
    for p in map(Path, paths):
        if p.exists() and not (site / p.name).exists():
            (site / p.name).symlink_to(p)
    return path


def test_package_add_python_component_provider(cli: Cli, tmp_path: Path) -> None:
    require((BIN / "vrrp-python-codegen").is_file(), "no vrrp-python-codegen (GeneratePackage)")
    venv = pulumi_only_venv(tmp_path / "pvenv")
    provider = tmp_path / "tinyprov"
    provider.mkdir()
    (provider / "PulumiPlugin.yaml").write_text(
        f"runtime:\n  name: python\n  options:\n    virtualenv: {venv}\n"
    )
    (provider / "__main__.py").write_text(textwrap.dedent(PROVIDER))

    schema = json_tail(cli.run("package", "get-schema", str(provider)).stdout)
    assert "tiny:index:Greeter" in schema["resources"]

    project = write_project(
        tmp_path / "consumer",
        """
        import pulumi
        import pulumi_tiny as tiny

        greeter = tiny.Greeter("greeter", name="vrrp")
        pulumi.export("greeting", greeter.greeting)
        """,
        name="consumer",
    )
    (project / "Pulumi.yaml").write_text(
        (project / "Pulumi.yaml").read_text().replace(str(venv_dir()), str(venv))
    )
    added = cli.run("package", "add", str(provider), cwd=project)
    assert "import pulumi_tiny as tiny" in added.stdout
    assert (project / "sdks" / "tiny" / "pulumi_tiny" / "__init__.py").is_file()
    assert "./sdks/tiny" in (project / "requirements.txt").read_text()

    cli.run("stack", "init", "dev", cwd=project)
    cli.run("up", "--yes", cwd=project)
    out = json.loads(cli.run("stack", "output", "--json", cwd=project).stdout)
    assert out["greeting"] == "hello vrrp"
    cli.run("destroy", "--yes", cwd=project)


def json_tail(text: str) -> dict[str, Any]:
    """`pulumi package get-schema` prints dependency-install chatter first, then the schema."""
    start = 0 if text.startswith("{") else text.index("\n{") + 1
    return json.loads(text[start:])
