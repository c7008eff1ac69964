"""Boots the exact user-data VrrpPair renders in real Debian 12 VMs (QEMU, TCG).

Network safety: everything lives in two network namespaces this module creates
and deletes (`<id>-lab` with the bridge, the taps, QEMU and the apt repository;
`<id>-cli` with the client). Nothing is added to the root namespace and the VMs
have no route anywhere but the lab subnet.

    with Lab.create(package_source="mirror", member_count=2) as lab:
        lab.boot_all()
        lab.wait_serving()
        ...
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SUBNET = "10.10.0.0/24"
PREFIX = 24
GATEWAY_ADDRESS = "10.10.0.1"  # answers pings on the lab bridge; no route beyond it
MIRROR_ADDRESS = "10.10.0.2"  # the lab namespace's bridge: serves the apt repository
MIRROR_PORT = 8080
CLIENT_ADDRESS = "10.10.0.100"
VIP = "10.10.0.200"
HTTP_PORT = 80
MEMBER_ADDRESSES = ("10.10.0.4", "10.10.0.5", "10.10.0.6")
MEMORY_MIB = os.environ.get("VMLAB_MEMORY", "640")  # guest RAM
TB_SIZE_MIB = os.environ.get("VMLAB_TB_SIZE", "128")  # TCG translation cache
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} vmlab: {message}", file=sys.stderr, flush=True)


def run(*argv: str, check: bool = True, capture: bool = False,
        timeout: float | None = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, text=True, timeout=timeout,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)


# --- images --------------------------------------------------------------------------

def image_dir() -> Path:
    """Builds (cold, minutes) or finds (warm, instant) the cached images."""
    env_dir = os.environ.get("VMLAB_IMAGE_DIR")
    if env_dir:
        return Path(env_dir)
    out = run(str(HERE / "build-image"), capture=True, timeout=3600).stdout.strip()
    return Path(out.splitlines()[-1])


VARIANTS = {
    # An image whose apt sources are deb822 (/etc/apt/sources.list.d/debian.sources, no
    # sources.list), as Debian's bookworm container/LXD images ship them.
    "deb822": ["rm /etc/apt/sources.list",
               "write {debian_sources} /etc/apt/sources.list.d/debian.sources"],
    # An image without the gpg binary (cloud-init needs it to install an apt key).
    "nogpg": ["rm /usr/bin/gpg"],
}
DEBIAN_SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def image_variant(images: Path, names: str) -> Path:
    """base.raw changed lab-side (debugfs, no mount) to mimic other images; cached.

    `names` is "+"-joined keys of VARIANTS, e.g. "deb822+nogpg"."""
    out = images / "variants" / f"{names}.raw"
    if out.exists():
        return out
    out.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "debian.sources"
        sources.write_text(DEBIAN_SOURCES)
        commands = [c.format(debian_sources=sources)
                    for name in names.split("+") for c in VARIANTS[name]]
        (Path(tmp) / "cmds").write_text("\n".join(commands) + "\n")
        partial = out.with_suffix(".tmp")
        run("cp", "--sparse=always", str(images / "base.raw"), str(partial))
        run("debugfs", "-w", "-f", str(Path(tmp) / "cmds"), str(partial), capture=True)
        partial.rename(out)
    return out


# --- rendering -------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    name: str
    address: str
    user_data: str
    index: int

    @property
    def mac(self) -> str:
        last = int(self.address.rsplit(".", 1)[1])
        return f"52:54:00:0a:00:{last:02x}"

    @property
    def tap(self) -> str:
        return f"tap{self.index + 1}"


TCG_TOLERANT: dict[str, Any] = {
    "advert_interval": 1,
    "health_check_interval": 3,
    "health_check_fall": 2,
    # The fast web check, slowed down for an emulated guest (defaults 0.1 s / 0.25 s):
    # each request costs the guest tens of milliseconds of emulated CPU (checker and
    # Apache), and on a loaded host keepalived's own scripts already time out there.
    "web_check_interval": 1,
    "web_check_timeout": 2,
}


def render_members(package_source: str, member_count: int = 2, name: str = "vrrp",
                   extra: dict[str, Any] | None = None, apt_mirror_key: str = "") -> list[Member]:
    """Runs VrrpPair under Pulumi mocks and returns each member's `userData` input."""
    import pulumi

    from components import VrrpPair
    from tests.pulumi_harness import run_program

    args: dict[str, Any] = {
        "subnet_cidr": SUBNET,
        "member_count": member_count,
        "member_addresses": list(MEMBER_ADDRESSES[:member_count]),
        "vip_address": VIP,
        "http_port": HTTP_PORT,
        "image": "debian-12",
        "flavor": "m1.small",
        "package_source": package_source,
        # Emulated (TCG) guests run many times slower than real ones: a 1 s curl
        # health check or a 0.2 s advert can miss its deadline there and flap the
        # VIP. Timing is measured in the namespace lab; this lab proves cloud-init
        # and failover behaviour, with timings a slow guest can keep.
        **TCG_TOLERANT,
    }
    if package_source == "mirror":
        args["apt_mirror"] = f"http://{MIRROR_ADDRESS}:{MIRROR_PORT}/"
        args["apt_mirror_key"] = apt_mirror_key
    args.update(extra or {})

    def program() -> Any:
        pair = VrrpPair(name, args)  # type: ignore[arg-type]
        return pulumi.Output.all(pair.member_names, pair.member_ips)

    mocks = run_program(program)
    instances = mocks.of_type("compute/instance:Instance")
    ports = {r.name: r for r in mocks.of_type("networking/port:Port")}
    members = []
    for i, instance in enumerate(sorted(instances, key=lambda r: r.name)):
        port = ports[f"{instance.name}-port"]
        address = port.inputs["fixedIps"][0]["ipAddress"]
        members.append(Member(instance.name, address, instance.inputs["userData"], i))
    return members


# --- QEMU control channels -------------------------------------------------------------

def _connect(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(path))
    return sock


def qmp(path: Path, command: str, arguments: dict[str, Any] | None = None,
        timeout: float = 10.0) -> Any:
    """One QMP command on QEMU's monitor socket."""
    with _connect(path, timeout) as sock, sock.makefile("rw") as stream:
        json.loads(stream.readline())  # greeting
        for request in ({"execute": "qmp_capabilities"},
                        {"execute": command, **({"arguments": arguments} if arguments else {})}):
            stream.write(json.dumps(request) + "\n")
            stream.flush()
            while True:
                line = stream.readline()
                if not line:
                    return None  # QEMU quit
                reply = json.loads(line)
                if "error" in reply:
                    raise RuntimeError(f"QMP {command}: {reply['error']}")
                if "return" in reply:
                    break
        return reply["return"]


_request_ids = itertools.count(int(time.time() * 1000) % 10**9)


def agent(vm_dir: Path, command: str, timeout: float = 60.0) -> tuple[int, str, str]:
    """Runs `command` in the VM through the lab agent on virtio-serial (no SSH, no login)."""
    with open(vm_dir / "agent.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        request_id = next(_request_ids)
        with _connect(vm_dir / "agent.sock", timeout + 5) as sock:
            sock.sendall(json.dumps({"id": request_id, "cmd": command,
                                     "timeout": timeout}).encode() + b"\n")
            buf = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"agent of {vm_dir.name} closed the channel")
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    with contextlib.suppress(ValueError):
                        reply = json.loads(line)
                        if reply.get("id") == request_id:
                            return reply["rc"], reply["out"], reply["err"]


# --- VMs -------------------------------------------------------------------------------

@dataclass
class VM:
    lab: Lab
    member: Member
    image: Path
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    boots: int = 0

    @property
    def name(self) -> str:
        return self.member.name

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        seed = self.dir / "seed"
        seed.mkdir(exist_ok=True)
        # The user-data byte for byte as VrrpPair rendered it.
        (seed / "user-data").write_text(self.member.user_data)
        (seed / "meta-data").write_text(
            f"instance-id: {self.name}-{self.lab.id}\nlocal-hostname: {self.name}\n")
        (seed / "network-config").write_text(
            "version: 2\n"
            "ethernets:\n"
            "  eth0:\n"
            f"    match: {{macaddress: \"{self.member.mac}\"}}\n"
            "    set-name: eth0\n"
            f"    addresses: [{self.member.address}/{PREFIX}]\n")
        run("genisoimage", "-quiet", "-output", str(self.dir / "seed.iso"), "-volid", "cidata",
            "-joliet", "-rock", str(seed / "user-data"), str(seed / "meta-data"),
            str(seed / "network-config"))
        run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(self.image),
            str(self.dir / "disk.qcow2"))

    def boot(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        for stale in ("qmp.sock", "agent.sock"):
            (self.dir / stale).unlink(missing_ok=True)
        images = self.lab.images
        self.boots += 1
        argv = [
            "ip", "netns", "exec", self.lab.lab_ns,
            "qemu-system-x86_64", "-name", self.name, "-nodefaults", "-no-user-config",
            "-machine", "q35", "-accel", f"tcg,thread=multi,tb-size={TB_SIZE_MIB}",
            "-cpu", "max", "-smp", "1", "-m", MEMORY_MIB, "-display", "none",
            "-kernel", str(images / "vmlinuz"), "-initrd", str(images / "initrd.img"),
            "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 modprobe.blacklist=floppy "
                       "systemd.show_status=1",
            "-drive", f"file={self.dir / 'disk.qcow2'},if=virtio,format=qcow2,cache=unsafe",
            "-drive", f"file={self.dir / 'seed.iso'},if=virtio,format=raw,readonly=on",
            "-netdev", f"tap,id=n0,ifname={self.member.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={self.member.mac}",
            "-device", "virtio-rng-pci",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent,path={self.dir / 'agent.sock'},server=on,wait=off",
            "-device", "virtserialport,chardev=agent,name=vmlab.cmd",
            "-qmp", f"unix:{self.dir / 'qmp.sock'},server=on,wait=off",
            "-serial", f"file:{self.dir / f'console-{self.boots}.log'}",
        ]
        with open(self.dir / f"qemu-{self.boots}.log", "wb") as qemu_log:
            self.proc = subprocess.Popen(argv, stdout=qemu_log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        (self.dir / "qemu.pid").write_text(str(self.proc.pid))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def peak_rss_mib(self) -> float | None:
        """QEMU's peak resident memory so far (VmHWM; `ip netns exec` execs QEMU in place)."""
        if not self.running:
            return None
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmHWM:"))
        return round(kib / 1024, 1)

    def power_off(self) -> None:
        """Pulls the plug: QEMU quits at once, the guest gets no shutdown."""
        if not self.running:
            return
        with contextlib.suppress(OSError, RuntimeError):
            qmp(self.dir / "qmp.sock", "quit")
        self._reap()

    def _reap(self) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self._reap()

    def set_link(self, up: bool) -> None:
        """The guest sees carrier loss (QEMU `set_link`)."""
        qmp(self.dir / "qmp.sock", "set_link", {"name": "n0", "up": up})

    def exec(self, command: str, timeout: float = 60.0) -> tuple[int, str, str]:
        return agent(self.dir, command, timeout)

    def wait_agent(self, deadline: float) -> None:
        end = time.monotonic() + deadline
        while True:
            if not self.running:
                raise RuntimeError(f"{self.name}: QEMU exited; see {self.dir}")
            try:
                if self.exec("true", timeout=10)[0] == 0:
                    return
            except OSError:
                pass
            if time.monotonic() > end:
                raise TimeoutError(f"{self.name}: lab agent not up after {deadline:.0f} s")
            time.sleep(1)

    def console(self) -> str:
        path = self.dir / f"console-{self.boots}.log"
        return path.read_text(errors="replace") if path.exists() else ""


# --- client-side probing -----------------------------------------------------------------

@dataclass
class Probe:
    at: float
    member: str | None


PROBER = r"""
import sys, time, urllib.request
url, interval, timeout = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
while True:
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            who = r.read(256).decode(errors="replace").strip() or "-"
    except Exception:
        who = "-"
    print(f"{time.monotonic():.4f} {who}", flush=True)
    time.sleep(max(0.0, interval - (time.monotonic() - start)))
"""


class Prober:
    """Polls the VIP from the client namespace and keeps every answer with its time."""

    def __init__(self, lab: Lab, url: str, interval: float = 0.05, timeout: float = 0.5):
        self.path = lab.dir / f"probe-{time.monotonic_ns()}.log"
        self._out = open(self.path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.cli_ns, sys.executable, "-c", PROBER, url,
             str(interval), str(timeout)], stdout=self._out, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def probes(self) -> list[Probe]:
        result = []
        for line in self.path.read_text().splitlines():
            at, _, who = line.partition(" ")
            with contextlib.suppress(ValueError):
                result.append(Probe(float(at), None if who == "-" else who))
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self._out.close()

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def downtime(probes: list[Probe], since: float, old: str) -> tuple[float | None, str | None]:
    """Client-observed downtime after `since`: from the old master's last answer to the
    first answer of another member (None if none answered). Returns (seconds, new)."""
    last_old = max((p.at for p in probes if p.member == old), default=since)
    for p in probes:
        if p.at > since and p.member and p.member != old:
            return p.at - min(last_old, p.at), p.member
    return None, None


# --- the lab ---------------------------------------------------------------------------

@dataclass
class Lab:
    id: str
    dir: Path
    images: Path
    members: list[Member]
    package_source: str
    vms: list[VM] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    created_ns: list[str] = field(default_factory=list)
    keep_files: bool = False  # set by a caller (e.g. a test saw a failure) to keep self.dir

    @property
    def lab_ns(self) -> str:
        return f"{self.id}-lab"

    @property
    def cli_ns(self) -> str:
        return f"{self.id}-cli"

    @property
    def url(self) -> str:
        return f"http://{VIP}:{HTTP_PORT}/"

    @classmethod
    @contextlib.contextmanager
    def create(cls, package_source: str, member_count: int = 2,
               extra: dict[str, Any] | None = None, keep: bool | None = None,
               variant: str = "") -> Iterator[Lab]:
        """`variant`: boot an image_variant() of base.raw (see VARIANTS)."""
        images = image_dir()
        key = (images / "repo-key.asc").read_text() if package_source == "mirror" else ""
        members = render_members(package_source, member_count, extra=extra, apt_mirror_key=key)
        lab_id = f"vmlab{os.getpid()}x{next(_lab_counter)}"
        base = Path(os.environ.get("VMLAB_WORKDIR", tempfile.gettempdir()))
        lab_dir = base / lab_id
        lab_dir.mkdir(parents=True)
        lab = cls(lab_id, lab_dir, images, members, package_source)
        lab.keep_files = os.environ.get("VMLAB_KEEP") == "1" if keep is None else keep
        failed = True
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
        try:
            lab._setup_network()
            image = images / ("preinstalled.raw" if package_source == "preinstalled"
                              else "base.raw")
            if variant:
                image = image_variant(images, variant)
            for member in members:
                vm = VM(lab, member, image, lab_dir / member.name)
                vm.prepare()
                lab.vms.append(vm)
            yield lab
            failed = False
        finally:
            lab.close()
            signal.signal(signal.SIGTERM, previous)
            if failed or lab.keep_files:
                log(f"lab files kept in {lab_dir}")
            else:
                shutil.rmtree(lab_dir, ignore_errors=True)

    def _ns(self, ns: str, *argv: str) -> None:
        run("ip", "-n", ns, *argv)

    def _setup_network(self) -> None:
        for ns in (self.lab_ns, self.cli_ns):
            run("ip", "netns", "add", ns)
            self.created_ns.append(ns)
            self._ns(ns, "link", "set", "lo", "up")
        lab = self.lab_ns
        self._ns(lab, "link", "add", "br0", "type", "bridge", "stp_state", "0",
                 "forward_delay", "0", "mcast_snooping", "0")
        # The subnet's gateway (Neutron's router port): what the isolation check pings.
        self._ns(lab, "addr", "add", f"{GATEWAY_ADDRESS}/{PREFIX}", "dev", "br0")
        self._ns(lab, "addr", "add", f"{MIRROR_ADDRESS}/{PREFIX}", "dev", "br0")
        self._ns(lab, "link", "set", "br0", "up")
        self._ns(lab, "link", "add", "vcli", "type", "veth", "peer", "name", "eth0",
                 "netns", self.cli_ns)
        self._ns(lab, "link", "set", "vcli", "master", "br0", "up")
        self._ns(self.cli_ns, "addr", "add", f"{CLIENT_ADDRESS}/{PREFIX}", "dev", "eth0")
        self._ns(self.cli_ns, "link", "set", "eth0", "up")
        for member in self.members:
            self._ns(lab, "tuntap", "add", "dev", member.tap, "mode", "tap")
            self._ns(lab, "link", "set", member.tap, "master", "br0", "up")
        if self.package_source == "mirror":
            with open(self.dir / "mirror.log", "wb") as out:
                self.procs.append(subprocess.Popen(
                    ["ip", "netns", "exec", lab, sys.executable, "-m", "http.server",
                     str(MIRROR_PORT), "--bind", MIRROR_ADDRESS,
                     "--directory", str(self.images / "repo")],
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    def close(self) -> None:
        for vm in self.vms:
            with contextlib.suppress(Exception):
                vm.kill()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for ns in reversed(self.created_ns):
            run("ip", "netns", "delete", ns, check=False)
        self.created_ns.clear()

    def vm(self, name: str) -> VM:
        return next(vm for vm in self.vms if vm.name == name)

    def boot_all(self) -> float:
        start = time.monotonic()
        for vm in self.vms:
            vm.boot()
        return start

    def curl(self, url: str, timeout: float = 2.0) -> str | None:
        proc = run("ip", "netns", "exec", self.cli_ns, "curl", "-s", "--fail", "--max-time",
                   str(timeout), url, check=False, capture=True, timeout=timeout + 10)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def who_serves(self) -> str | None:
        return self.curl(self.url)

    def wait_serving(self, deadline: float = 900.0, interval: float = 1.0) -> str:
        """Waits until the VIP answers from the client namespace; returns who answered."""
        end = time.monotonic() + deadline
        while True:
            who = self.who_serves()
            if who:
                return who
            dead = [vm.name for vm in self.vms if vm.boots and not vm.running]
            if dead and len(dead) == len([vm for vm in self.vms if vm.boots]):
                raise RuntimeError(f"all VMs exited: {dead}; see {self.dir}")
            if time.monotonic() > end:
                raise TimeoutError(f"{self.url} did not answer within {deadline:.0f} s; "
                                   f"see consoles in {self.dir}")
            time.sleep(interval)

    def wait_member_ready(self, vm: VM, deadline: float = 900.0) -> dict[str, Any]:
        """cloud-init finished on `vm`; returns its result.json (errors must be empty)."""
        vm.wait_agent(deadline)
        # result.json appears when the final stage is done (`cloud-init status --wait`
        # returns at once if asked before cloud-init started).
        rc, out, err = vm.exec("while [ ! -e /run/cloud-init/result.json ]; do sleep 2; done; "
                               "cat /run/cloud-init/result.json", timeout=deadline)
        if rc != 0:
            raise RuntimeError(f"{vm.name}: cloud-init status failed: {err}")
        return json.loads(out)["v1"]

    def keepalived_state(self, vm: VM) -> str:
        """MASTER/BACKUP/FAULT from the journal's last transition (or UNKNOWN)."""
        rc, out, _ = vm.exec("journalctl -b -u keepalived -o cat --no-pager | "
                             "grep -oE 'Entering (MASTER|BACKUP|FAULT) STATE' | tail -n1",
                             timeout=30)
        return out.split()[1] if rc == 0 and out.strip() else "UNKNOWN"

    def collect_logs(self) -> None:
        """Copies each running member's cloud-init and keepalived logs into the lab dir."""
        for vm in self.vms:
            if not vm.running:
                continue
            with contextlib.suppress(Exception):
                vm.exec("true", timeout=3)  # agent not up: skip at once
                _, out, _ = vm.exec(
                    "cat /var/log/cloud-init-output.log; echo ----; "
                    "journalctl -b --no-pager -u cloud-final -u keepalived -u apache2 "
                    "-u vrrp-pair-webcheck "
                    "| tail -n 200",
                    timeout=60)
                (vm.dir / f"guest-logs-{vm.boots}.txt").write_text(out)


_lab_counter = itertools.count(1)


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
