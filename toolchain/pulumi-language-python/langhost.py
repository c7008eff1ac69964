"""A Pulumi language host for Python, written in Python (vrrp-pair).

Pulumi's own host (`pulumi-language-python`, Go) cannot be built here: the Go module proxy
refuses its module. This one implements the same `pulumirpc.LanguageRuntime` gRPC service with
the stubs that ship inside the `pulumi` Python SDK, and runs programs through Pulumi's
`pulumi-language-python-exec` script exactly like the Go host does, so the real CLI can
preview/update Python programs, run Python policy packs and Python plugins (`RunPlugin`).

Started by the CLI as `pulumi-language-python [-flags] <engine address>`; listens on
127.0.0.1:<free port>, prints the port as the first line on stdout and serves until killed,
until the CLI (its parent) goes away, or until the engine stops answering.

GeneratePackage (SDK generation, used by `pulumi package add` / `package gen-sdk`) needs Pulumi's
Go generator (pkg/v3/codegen/python): it runs the small Go helper `vrrp-python-codegen`
(codegen/main.go, built by toolchain/install-language-host) when that is installed next to this
host.
Not implemented (Go code generators too): GenerateProgram, GenerateProject (`pulumi convert`),
Pack -> UNIMPLEMENTED.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Generator, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    language_pb2,
    language_pb2_grpc,
    plugin_pb2,
)
from pulumi.runtime.proto.codegen import hcl_pb2

HOST_NAME = "pulumi-language-python"
EXEC_NAME = "pulumi-language-python-exec"
# Go helper for GeneratePackage (toolchain/install-language-host)
CODEGEN_NAME = "vrrp-python-codegen"
# The exec script exits with this after it has shown the user an actionable message: the
# engine then bails without adding its own error (RunResponse.bail).
EXIT_USER_ACTIONABLE = 32
# Same limits as the CLI's gRPC channels (rpcutil.GrpcChannelOptions).
MAX_MESSAGE = 400 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]
# Python packages that are Pulumi's but never have a resource plugin.
PACKAGES_WITHOUT_PLUGINS = {"pulumi-policy", "pulumi_policy", "pulumi-esc-sdk", "pulumi_esc_sdk"}

VERBOSE = 0
LOG_TO_STDERR = False


def log(level: int, msg: str) -> None:
    """Debug log, only with `pulumi --logflow --logtostderr -v=N` (our stderr is shown)."""
    if LOG_TO_STDERR and level <= VERBOSE:
        print(f"{HOST_NAME}: {msg}", file=sys.stderr, flush=True)


class HostError(Exception):
    """An error the RPC reports to the engine (as gRPC status UNKNOWN, like a Go error)."""


# --------------------------------------------------------------------------------------------
# Command line (Go `flag` syntax: -x=v, -x v, --x=v, --x v; bools without a value)


@dataclass
class Flags:
    tracing: str = ""
    use_executor: str = ""
    engine_address: str = ""
    verbose: int = 0
    logtostderr: bool = False
    positional: list[str] = field(default_factory=list)


STRING_FLAGS = {
    "tracing",
    "use-executor",
    "virtualenv",
    "root",
    "typechecker",
    "toolchain",
    "v",
    "log_dir",
    "log_backtrace_at",
    "stderrthreshold",
    "vmodule",
}
BOOL_FLAGS = {"logtostderr", "alsologtostderr", "logflow"}


def parse_flags(argv: Sequence[str]) -> Flags:
    flags = Flags()
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.lstrip("-").partition("=")
        if name in BOOL_FLAGS:
            values[name] = value if eq else "true"
        elif name in STRING_FLAGS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise SystemExit(f"{HOST_NAME}: flag needs an argument: -{name}")
                value = argv[i]
            values[name] = value
        else:
            raise SystemExit(f"{HOST_NAME}: flag provided but not defined: -{name}")
        i += 1
    flags.positional = list(argv[i:])
    flags.tracing = values.get("tracing", "")
    flags.use_executor = values.get("use-executor", "")
    with contextlib.suppress(ValueError):
        flags.verbose = int(values.get("v", "0"))
    flags.logtostderr = values.get("logtostderr", "false") == "true"
    if flags.positional:
        flags.engine_address = flags.positional[0]
    return flags


def find_beside(name: str, *, executable: bool = True) -> str | None:
    """`name` next to this host as started (the wrapper's $0), next to its real file, on PATH."""
    candidates = []
    argv0 = os.environ.get("PULUMI_LANGUAGE_PYTHON_ARGV0")  # set by the sh wrapper
    if argv0:
        candidates.append(Path(argv0).parent / name)
        candidates.append(Path(os.path.realpath(argv0)).parent / name)
    candidates.append(Path(__file__).resolve().parent / name)
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK if executable else os.R_OK):
            return str(c.absolute())
    return shutil.which(name)


def find_executor(flags: Flags) -> str:
    """`pulumi-language-python-exec` next to this host, as the Go host looks for it."""
    found = flags.use_executor or find_beside(EXEC_NAME, executable=False)
    if not found:
        raise SystemExit(f"{HOST_NAME}: missing executor {EXEC_NAME} (next to the host or on PATH)")
    return found


# --------------------------------------------------------------------------------------------
# The program's Python: `runtime.options` of Pulumi.yaml / PulumiPolicy.yaml / PulumiPlugin.yaml


def options_of(info: Any) -> dict[str, Any]:
    if info is None or not info.HasField("options"):
        return {}
    return json_format.MessageToDict(info.options)


def python_cmd() -> str:
    """The interpreter used without a virtualenv: PULUMI_PYTHON_CMD, else python3, else python."""
    cmd = os.environ.get("PULUMI_PYTHON_CMD")
    if cmd:
        return cmd
    return shutil.which("python3") or shutil.which("python") or "python3"


@dataclass
class PythonEnv:
    """How to run Python for one program/plugin (the Go host's `toolchain.Toolchain`)."""

    root: str
    program_dir: str
    toolchain: str = "pip"
    virtualenv: str = ""  # the option as written
    venv_path: str = ""  # resolved, absolute ("" = no virtualenv)
    typechecker: str = ""

    @classmethod
    def from_info(cls, info: Any, *, plugin: bool = False) -> PythonEnv:
        root = info.root_directory if info is not None else ""
        program_dir = (info.program_directory if info is not None else "") or root
        opts = options_of(info)
        env = cls(root=root or os.getcwd(), program_dir=program_dir or os.getcwd())
        venv = opts.get("virtualenv", "")
        if not isinstance(venv, str):
            raise HostError("virtualenv option must be a string")
        tc = opts.get("toolchain", "pip")
        if tc not in ("pip", "uv", "poetry"):
            raise HostError(f"unsupported toolchain option: {tc}")
        checker = opts.get("typechecker", "")
        if checker not in ("", "mypy", "pyright"):
            raise HostError(f"unsupported typechecker option: {checker}")
        env.toolchain, env.typechecker = tc, checker
        if tc == "pip" and not venv and plugin:
            venv = "venv"  # plugins never run in the ambient Python
        if tc == "uv" and not venv:
            venv = ".venv"
        if tc == "poetry" and not venv:
            venv = env._poetry_env()
        env.virtualenv = venv
        if venv:
            env.venv_path = venv if os.path.isabs(venv) else os.path.join(env.root, venv)
            env.venv_path = os.path.normpath(env.venv_path)
        return env

    def _poetry_env(self) -> str:
        poetry = shutil.which("poetry")
        if not poetry:
            raise HostError("the toolchain option is poetry, but poetry is not on PATH")
        out = subprocess.run(
            [poetry, "env", "info", "--path"],
            cwd=self.program_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0 or not out.stdout.strip():
            raise HostError(f"`poetry env info --path` failed: {out.stderr.strip()}")
        return out.stdout.strip()

    @property
    def python(self) -> str:
        if self.venv_path:
            return os.path.join(self.venv_path, "bin", "python")
        return python_cmd()

    def is_venv(self) -> bool:
        return bool(self.venv_path) and os.path.isfile(
            os.path.join(self.venv_path, "bin", "python")
        )

    def validate(self) -> None:
        """Fail like the Go host's ValidateVenv when the virtualenv option is unusable."""
        if not self.venv_path or self.is_venv():
            return
        what = (
            "doesn't appear to be a virtual environment"
            if os.path.isdir(self.venv_path)
            else "doesn't exist"
        )
        req = os.path.join(self.program_dir, "requirements.txt")
        raise HostError(
            f"The 'virtualenv' option in Pulumi.yaml is set to {self.virtualenv!r}, but "
            f"{self.venv_path!r} {what}.\nRun `pulumi install` to create it, or:\n"
            f"    1. python3 -m venv {self.venv_path}\n"
            f"    2. {self.venv_path}/bin/python -m pip install -r {req}"
        )

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (or ours) with the virtualenv activated: PATH, VIRTUAL_ENV, no PYTHONHOME."""
        env = dict(os.environ if base is None else base)
        if self.venv_path:
            env.pop("PYTHONHOME", None)
            vbin = os.path.join(self.venv_path, "bin")
            env["PATH"] = vbin + (os.pathsep + env["PATH"] if env.get("PATH") else "")
            env["VIRTUAL_ENV"] = self.venv_path
        return env

    def command(self, *args: str) -> list[str]:
        return [self.python, *args]

    def run_json(self, args: list[str], failure: str) -> Any:
        """Runs this interpreter in the program's directory and parses its JSON output."""
        res = subprocess.run(
            self.command(*args),
            env=self.environ(),
            cwd=self.program_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            raise HostError(f"{failure}: {res.stderr.strip()}")
        return json.loads(res.stdout)


# Runs inside the program's interpreter: its installed distributions, with their
# pulumi-plugin.json (read from <location>/<module>/pulumi-plugin.json like the Go host).
LIST_PACKAGES = r"""
import importlib.metadata as md, json, re, os, sys
seen = {}
for d in md.distributions():
    name = d.metadata["Name"]
    if not name:
        continue
    norm = re.sub(r"[-_.]+", "-", name).lower()
    if norm in seen:
        continue
    loc = str(d.locate_file(""))
    plugin = None
    p = os.path.join(loc, norm.replace("-", "_"), "pulumi-plugin.json")
    if os.path.isfile(p):
        try:
            with open(p, encoding="utf-8") as f:
                plugin = json.load(f)
        except Exception as e:
            plugin = {"__error__": f"{p}: {e}"}
    seen[norm] = {"name": norm, "version": d.version, "location": loc, "plugin": plugin}
json.dump(list(seen.values()), sys.stdout)
"""


def list_packages(py: PythonEnv) -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = py.run_json(
        ["-c", LIST_PACKAGES], f"listing the packages of {py.python} failed")
    return packages


PEP440 = re.compile(
    r"^(?P<rel>\d+(?:\.\d+)*)(?:(?P<pre>a|b|rc)(?P<pren>\d*))?"
    r"(?:\.post(?P<post>\d*))?(?:\.dev(?P<dev>\d*))?$"
)


def plugin_version(version: str) -> str | None:
    """PEP 440 -> semver as the Go host does (1.0 -> 1.0.0, 1.2a3 -> 1.2.0-alpha.3, ...)."""
    m = PEP440.match(version)
    if not m:
        return None
    segs = m.group("rel").split(".")
    segs += ["0"] * (3 - len(segs))
    out = ".".join(segs)
    if m.group("pre"):
        out += "-" + {"a": "alpha", "b": "beta", "rc": "rc"}[m.group("pre")] + "." + m.group("pren")
    if m.group("post") is not None:
        out += "+post" + m.group("post")
    if m.group("dev") is not None:
        out += ("" if m.group("post") is not None else "+") + "dev" + m.group("dev")
    return out


def required_packages(py: PythonEnv) -> list[plugin_pb2.PackageDependency]:
    deps = []
    for pkg in list_packages(py):
        plugin = pkg["plugin"]
        if isinstance(plugin, dict) and "__error__" in plugin:
            raise HostError(plugin["__error__"])
        name: str = pkg["name"]
        is_pulumi = plugin is not None or name.startswith(("pulumi-", "pulumi_"))
        if not is_pulumi or name in PACKAGES_WITHOUT_PLUGINS:
            continue
        plugin = plugin or {}
        if plugin and not plugin.get("resource", False):
            continue
        pname = plugin.get("name") or name.removeprefix("pulumi-")
        version = plugin.get("version") or plugin_version(pkg["version"])
        if not version:
            log(5, f"cannot derive a plugin version for {name} {pkg['version']}; skipped")
            continue
        if not version.startswith("v"):
            version = "v" + version
        dep = plugin_pb2.PackageDependency(
            name=pname, kind="resource", version=version, server=plugin.get("server", "")
        )
        param = plugin.get("parameterization")
        if param:
            dep.parameterization.CopyFrom(
                plugin_pb2.PackageParameterization(
                    name=param.get("name", ""),
                    version=param.get("version", ""),
                    value=base64.b64decode(param.get("value", "") or ""),
                )
            )
        deps.append(dep)
    log(5, f"required packages: {[(d.name, d.version) for d in deps]}")
    return deps


# --------------------------------------------------------------------------------------------
# Child processes


class Children:
    """Processes we started, so Cancel/shutdown can stop them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()

    def add(self, p: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(p)

    def remove(self, p: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(p)

    def stop_all(self, grace: float = 5.0) -> None:
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            stop_process(p, grace)


def stop_process(p: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if p.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        p.send_signal(signal.SIGINT)
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            p.kill()
        p.wait()


def stream_process(
    cmd: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    children: Children,
    context: Any,
    out_type: Any,
) -> Generator[Any, None, int]:
    """Run `cmd`, yielding `out_type(stdout=...)`/`out_type(stderr=...)` per chunk of output;
    returns its exit status (negative: killed by that signal)."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    children.add(proc)
    context.add_callback(lambda: stop_process(proc, 2.0))  # the CLI cancelled or went away
    chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

    def pump(name: str, stream: Any) -> None:
        while True:
            data = os.read(stream.fileno(), 65536)
            if not data:
                break
            chunks.put((name, data))
        chunks.put((name, b""))

    threads = [
        threading.Thread(target=pump, args=("stdout", proc.stdout), daemon=True),
        threading.Thread(target=pump, args=("stderr", proc.stderr), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        open_streams = 2
        while open_streams:
            name, data = chunks.get()
            if not data:
                open_streams -= 1
                continue
            yield out_type(**{name: data})
        return proc.wait()
    finally:
        children.remove(proc)
        stop_process(proc, 2.0)


# --------------------------------------------------------------------------------------------
# The service


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, executor: str, engine_address: str, tracing: str) -> None:
        self.executor = executor
        self.engine_address = engine_address
        self.tracing = tracing
        self.children = Children()

    # -- helpers ----------------------------------------------------------------------------

    def _engine_logger(self) -> tuple[Any, Any]:
        """(info, error) callables logging ephemeral messages to the engine, or to stderr."""
        if not self.engine_address:

            def to_stderr(msg: str) -> None:
                sys.stderr.write(msg)
                sys.stderr.flush()

            return to_stderr, to_stderr
        channel = grpc.insecure_channel(self.engine_address, options=GRPC_OPTIONS)
        stub = engine_pb2_grpc.EngineStub(channel)
        stream_id = random.randint(1, 2**31 - 1)

        def make(severity: Any) -> Any:
            def send(msg: str) -> None:
                if msg.strip():
                    stub.Log(
                        engine_pb2.LogRequest(
                            severity=severity, message=msg, ephemeral=True, streamId=stream_id
                        )
                    )

            return send

        return make(engine_pb2.INFO), make(engine_pb2.ERROR)

    def _ensure_venv(self, py: PythonEnv, info_log: Any, err_log: Any) -> None:
        """Create the virtualenv and install requirements.txt when it is missing or empty."""
        if not py.venv_path or py.is_venv():
            return
        if os.path.isdir(py.venv_path) and os.listdir(py.venv_path):
            py.validate()  # exists, not empty, not a venv: error out
        self._create_venv(py, info_log, err_log)

    def _create_venv(self, py: PythonEnv, info_log: Any, err_log: Any) -> None:
        base = python_cmd()
        steps = [[base, "-m", "venv", py.venv_path]]
        req = self._requirements(py)
        if req:
            steps.append([py.python, "-m", "pip", "install", "-r", req])
        for cmd in steps:
            info_log(f"$ {' '.join(cmd)}\n")
            res = subprocess.run(
                cmd,
                cwd=py.program_dir,
                env=py.environ(),
                capture_output=True,
                text=True,
                check=False,
            )
            if res.stdout:
                info_log(res.stdout)
            if res.returncode != 0:
                err_log(res.stderr)
                raise HostError(f"`{' '.join(cmd)}` failed with exit code {res.returncode}")

    @staticmethod
    def _requirements(py: PythonEnv) -> str | None:
        for d in (py.program_dir, py.root):
            p = os.path.join(d, "requirements.txt")
            if os.path.isfile(p):
                return p
        return None

    @staticmethod
    def _fail(context: Any, err: Exception) -> Any:
        context.abort(grpc.StatusCode.UNKNOWN, str(err))

    # -- RPCs -------------------------------------------------------------------------------

    def Handshake(self, request: Any, context: Any) -> Any:
        if request.engine_address:
            self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=host_version())

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        try:
            py = PythonEnv.from_info(request.info)
            self._ensure_venv(py, *self._engine_logger())
            py.validate()
            return language_pb2.GetRequiredPackagesResponse(packages=required_packages(py))
        except HostError as e:
            return self._fail(context, e)

    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:
        try:
            py = PythonEnv.from_info(request.info if request.HasField("info") else None)
            py.validate()
            plugins = [
                plugin_pb2.PluginDependency(
                    name=d.name, kind=d.kind, version=d.version, server=d.server
                )
                for d in required_packages(py)
                if not d.HasField("parameterization")
            ]
            return language_pb2.GetRequiredPluginsResponse(plugins=plugins)
        except HostError as e:
            return self._fail(context, e)

    def Run(self, request: Any, context: Any) -> Any:
        if not self.engine_address:
            return self._fail(
                context,
                HostError("when debugging or running explicitly, call Handshake before Run"),
            )
        try:
            py = PythonEnv.from_info(request.info)
            py.validate()
        except HostError as e:
            return self._fail(context, e)
        if request.attach_debugger:
            return language_pb2.RunResponse(
                error="attaching a debugger is not supported by this language host"
            )

        args: list[str] = []

        def opt(name: str, value: str) -> None:
            if value:
                args.extend([f"--{name}", value])

        opt("monitor", request.monitor_address)
        opt("engine", self.engine_address)
        opt("project", request.project)
        opt("root_directory", request.info.root_directory)
        opt("stack", request.stack)
        opt("pwd", request.pwd)
        opt("dry_run", "true" if request.dryRun else "false")
        opt("parallel", str(request.parallel))
        opt("tracing", self.tracing)
        opt("organization", request.organization)
        args.append(request.info.entry_point or request.program or ".")
        args.extend(request.args)

        env = py.environ()
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))

        if py.typechecker:
            err = self._typecheck(py, env)
            if err:
                return self._fail(context, HostError(err))

        cmd = py.command(self.executor, *args)
        log(5, f"launching {' '.join(cmd)}")
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            # stdout/stderr are ours: the CLI reads them and shows them as the program's output.
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        except OSError as e:
            return language_pb2.RunResponse(
                error=f"problem executing program (could not run language executor): {e}"
            )
        self.children.add(proc)
        try:
            code = proc.wait()
        finally:
            self.children.remove(proc)
        if code == 0:
            return language_pb2.RunResponse()
        if code == EXIT_USER_ACTIONABLE:
            return language_pb2.RunResponse(bail=True)
        if code < 0:
            return language_pb2.RunResponse(
                error=f"program exited unexpectedly: signal: {signal.Signals(-code).name}"
            )
        return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {code}")

    def _typecheck(self, py: PythonEnv, env: dict[str, str]) -> str | None:
        checker = py.typechecker
        probe = subprocess.run(
            py.command("-c", f"import {checker}"), env=env, capture_output=True, check=False
        )
        if probe.returncode != 0:
            return (
                f"The typechecker option is set to {checker}, but {checker} is not installed. "
                f"Please add an entry for {checker} to requirements.txt and install it."
            )
        targs = ["-m", checker]
        if checker == "mypy" and py.venv_path:
            targs += ["--exclude", os.path.relpath(py.venv_path, py.program_dir)]
        targs.append(py.program_dir)
        res = subprocess.run(py.command(*targs), env=env, cwd=py.program_dir, check=False)
        return f"{checker} failed: exit status {res.returncode}" if res.returncode else None

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        """Create the virtualenv if needed, then `pip install -r requirements.txt` into it.

        pip only contacts its index (PyPI) for requirements that are not already satisfied.
        Without a `virtualenv` option (pip toolchain) the ambient Python is left alone.
        """
        out = language_pb2.InstallDependenciesResponse
        try:
            py = PythonEnv.from_info(
                request.info if request.HasField("info") else None, plugin=request.is_plugin
            )
        except HostError as e:
            context.abort(grpc.StatusCode.UNKNOWN, str(e))
            return
        yield out(stdout=b"Installing dependencies...\n\n")
        cmds: list[list[str]] = []
        if not py.venv_path:
            yield out(stdout=b"No virtualenv option: leaving the ambient Python alone.\n")
        else:
            if not py.is_venv():
                cmds.append([python_cmd(), "-m", "venv", py.venv_path])
            req = self._requirements(py)
            if req:
                cmds.append([py.python, "-m", "pip", "install", "-r", req])
        for cmd in cmds:
            yield out(stdout=f"$ {' '.join(cmd)}\n".encode())
            code = yield from stream_process(
                cmd,
                cwd=py.program_dir,
                env=py.environ(),
                children=self.children,
                context=context,
                out_type=out,
            )
            if code:
                context.abort(
                    grpc.StatusCode.UNKNOWN, f"`{' '.join(cmd)}` failed with exit code {code}"
                )
                return
        yield out(stdout=b"Finished installing dependencies\n\n")

    def RuntimeOptionsPrompts(self, request: Any, context: Any) -> Any:
        return language_pb2.RuntimeOptionsResponse()

    def Template(self, request: Any, context: Any) -> Any:
        return language_pb2.TemplateResponse()

    def About(self, request: Any, context: Any) -> Any:
        try:
            py = PythonEnv.from_info(request.info if request.HasField("info") else None)
            res = subprocess.run(
                py.command(
                    "-c",
                    "import sys, platform; print(sys.executable); print(platform.python_version())",
                ),
                env=py.environ(),
                capture_output=True,
                text=True,
                check=False,
            )
            if res.returncode != 0:
                raise HostError(f"running {py.python} failed: {res.stderr.strip()}")
            exe, version = [*res.stdout.splitlines(), "", ""][:2]
            return language_pb2.AboutResponse(
                executable=exe,
                version=version,
                metadata={
                    "toolchain": py.toolchain,
                    "virtualenv": py.venv_path,
                    "host": "vrrp-pair python language host",
                },
            )
        except HostError as e:
            return self._fail(context, e)

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        try:
            py = PythonEnv.from_info(request.info if request.HasField("info") else None)
            py.validate()
            args = ["-m", "pip", "list", "--format", "json"]
            if not request.transitiveDependencies:
                args.append("--not-required")
            listed = py.run_json(args, "failed to get python dependencies")
            deps = [
                language_pb2.DependencyInfo(
                    name=re.sub(r"[-_.]+", "-", d["name"]).lower(), version=d["version"]
                )
                for d in listed
            ]
            return language_pb2.GetProgramDependenciesResponse(dependencies=deps)
        except HostError as e:
            return self._fail(context, e)

    def RunPlugin(self, request: Any, context: Any) -> Iterator[Any]:
        """Run a Python plugin (policy pack, component provider, ...) and stream its output.

        Like the Go host: `python <dir> args...` when the plugin has a __main__.py, otherwise
        `python -m pulumi.run.plugin <pyproject name> args...` for a buildable package.
        """
        out = language_pb2.RunPluginResponse
        try:
            py = PythonEnv.from_info(request.info, plugin=True)
            py.validate()
            root = py.root
            if os.path.isfile(os.path.join(root, "__main__.py")):
                cmd = py.command(request.info.program_directory or root, *request.args)
            else:
                name = pyproject_name(root)
                if not name:
                    raise HostError(
                        "plugin is not runnable, it provides neither __main__.py nor a "
                        "buildable pyproject.toml"
                    )
                cmd = py.command("-m", "pulumi.run.plugin", name, *request.args)
        except HostError as e:
            context.abort(grpc.StatusCode.UNKNOWN, str(e))
            return
        base = dict(kv.split("=", 1) for kv in request.env if "=" in kv) or None
        env = py.environ(base)
        # The CLI reads the plugin's port from its first stdout line: don't let it sit in a
        # block buffer (pulumi_policy writes it without flushing).
        env["PYTHONUNBUFFERED"] = "1"
        log(5, f"RunPlugin: {' '.join(cmd)} (cwd {request.pwd})")
        try:
            code = yield from stream_process(
                cmd,
                cwd=request.pwd or root,
                env=env,
                children=self.children,
                context=context,
                out_type=out,
            )
        except OSError as e:
            context.abort(
                grpc.StatusCode.UNKNOWN,
                f"problem executing plugin program (could not run language executor): {e}",
            )
            return
        if code:
            yield out(exitcode=code if code > 0 else -1)

    def Cancel(self, request: Any, context: Any) -> Any:
        self.children.stop_all()
        return empty_pb2.Empty()

    def _needs_codegen(self, context: Any, what: str) -> Any:
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"{what} is not supported by this Python language host (vrrp-pair): it needs "
            "Pulumi's Go code generator (pkg/v3/codegen/python), which is not available here",
        )

    def GenerateProgram(self, request: Any, context: Any) -> Any:
        return self._needs_codegen(context, "GenerateProgram")

    def GenerateProject(self, request: Any, context: Any) -> Any:
        return self._needs_codegen(context, "GenerateProject")

    def Pack(self, request: Any, context: Any) -> Any:
        return self._needs_codegen(context, "Pack")

    def GeneratePackage(self, request: Any, context: Any) -> Any:
        helper = find_beside(CODEGEN_NAME)
        if not helper:
            return self._needs_codegen(
                context, f"GeneratePackage (SDK generation; {CODEGEN_NAME} is not installed)"
            )
        payload = json.dumps(
            {
                "directory": request.directory,
                "schema": request.schema,
                "loaderTarget": request.loader_target,
                "extraFiles": {
                    k: base64.b64encode(v).decode() for k, v in request.extra_files.items()
                },
            }
        )
        res = subprocess.run(
            [helper, "generate-package"],
            input=payload,
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            return self._fail(context, HostError(res.stderr.strip() or f"{helper} failed"))
        diags = [
            hcl_pb2.Diagnostic(severity=d["severity"], summary=d["summary"], detail=d["detail"])
            for d in json.loads(res.stdout or "{}").get("diagnostics", [])
        ]
        return language_pb2.GeneratePackageResponse(diagnostics=diags)

    def Link(self, request: Any, context: Any) -> Any:
        """Add generated SDK directories to the program's dependencies (installed afterwards by
        InstallDependencies): requirements.txt for pip, `uv add` / `poetry add` otherwise."""
        try:
            py = PythonEnv.from_info(request.info)
            root = py.root
            modules = []
            for dep in request.packages:
                path = dep.path if os.path.isabs(dep.path) else os.path.join(".", dep.path)
                modules.append((dep.package.name, sdk_module(os.path.join(root, dep.path))))
                if py.toolchain == "pip":
                    add_requirement(os.path.join(root, "requirements.txt"), path)
                else:
                    res = subprocess.run(
                        [py.toolchain, "add", path],
                        cwd=root,
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if res.returncode != 0:
                        raise HostError(f"`{py.toolchain} add {path}` failed: {res.stderr}")
        except (HostError, OSError) as e:
            return self._fail(context, e)
        lines = ["You can then import the SDK in your Python code with:", ""]
        for name, module in modules:
            alias = re.sub(r"\W", "_", name)
            lines.append(f"  import {module} as {alias}")
        return language_pb2.LinkResponse(import_instructions="\n".join(lines) + "\n")


def sdk_module(sdk_dir: str) -> str:
    """The import name of a generated SDK: its (only) top-level package directory."""
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(sdk_dir)):
            if os.path.isfile(os.path.join(sdk_dir, entry, "__init__.py")):
                return entry
    return "pulumi_" + re.sub(r"\W", "_", os.path.basename(sdk_dir.rstrip("/")))


def add_requirement(requirements: str, line: str) -> None:
    existing: list[str] = []
    if os.path.exists(requirements):
        with open(requirements, encoding="utf-8") as f:
            existing = f.read().splitlines()
    if line in (x.strip() for x in existing):
        return
    with open(requirements, "a", encoding="utf-8") as f:
        if existing and existing[-1] != "":
            f.write("\n")
        f.write(line + "\n")


def pyproject_name(root: str) -> str | None:
    try:
        with open(os.path.join(root, "pyproject.toml"), "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as e:
        raise HostError(f"parsing pyproject.toml: {e}") from e
    name = (data.get("project") or {}).get("name")
    backend = (data.get("build-system") or {}).get("build-backend")
    return name if name and backend else None


def host_version() -> str:
    """The version we report: PULUMI_LANGUAGE_PYTHON_VERSION, else the host's pulumi SDK."""
    v = os.environ.get("PULUMI_LANGUAGE_PYTHON_VERSION")
    if v:
        return v
    try:
        import importlib.metadata as md

        return plugin_version(md.version("pulumi")) or "3.0.0"
    except Exception:
        return "3.0.0"


# --------------------------------------------------------------------------------------------
# Lifetime


def engine_alive(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            return True
    except (OSError, ValueError):
        return False


def watchdog(engine_address: str, stop: threading.Event) -> None:
    """Exit when the CLI (our parent) is gone or the engine stops answering (like the Go
    host's health check), so a killed CLI never leaves language hosts behind."""
    parent = os.getppid()
    failing_since: float | None = None
    while not stop.wait(1.0):
        if os.getppid() != parent:
            stop.set()
            return
        if not engine_address:
            continue
        if engine_alive(engine_address):
            failing_since = None
        elif failing_since is None:
            failing_since = time.monotonic()
        elif time.monotonic() - failing_since > 30:
            stop.set()
            return


def main(argv: Sequence[str]) -> int:
    global VERBOSE, LOG_TO_STDERR
    flags = parse_flags(argv)
    VERBOSE, LOG_TO_STDERR = flags.verbose, flags.logtostderr
    executor = find_executor(flags)
    log(3, f"executor {executor}, engine {flags.engine_address or '(none)'}")

    host = LanguageHost(executor, flags.engine_address, flags.tracing)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=GRPC_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    if not port:
        print(f"{HOST_NAME}: could not start language host RPC server", file=sys.stderr)
        return 1
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=watchdog, args=(flags.engine_address, stop), daemon=True).start()
    while not stop.wait(1.0):
        pass
    host.children.stop_all(grace=2.0)
    server.stop(grace=1.0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
