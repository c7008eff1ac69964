"""A keepalived + Apache failover lab in network namespaces.

Topology (nothing is added to the root namespace):

    <tag>-sw      a Linux bridge `br0`; one veth port per member and one for the client
    <tag>-mN      one namespace per member: `eth0` (the member's fixed IP), `lo`
    <tag>-cl      the client: `eth0` 10.10.0.50/24

Each member runs the real keepalived and the real Apache from Debian's packages
(and the rendered fast web check, vrrp-pair-webcheck, as its systemd unit would)
with the files taken out of its rendered cloud-init user-data. Every member
process also gets its own mount namespace in which the member's directories are
bind-mounted over /etc/keepalived, /var/www/html, /run/apache2 (Apache's pidfile)
and /run/vrrp-pair (the web check's verdict), so the absolute paths in the
rendered files work unchanged. The PID namespace is shared: a member's Apache
is found through its own pidfile, never by name.

<tag> is `vl<pid>-<n>`: unique per process and lab; `close()` removes exactly
what this lab created (its namespaces, the processes inside them, its
directory under /run).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TypeVar

from vrrp_pair.failover_check import client_downtime
from vrrp_pair.probe import Sample

from .render import (
    INTERFACE_FILE,
    INTERFACE_SCRIPT,
    KEEPALIVED_CONF,
    WEB_CHECK_SCRIPT,
    WEB_CHECK_STATE,
    WEB_CHECK_UNIT,
    MemberFiles,
    WrittenFile,
)

T = TypeVar("T")

CLIENT_ADDRESS = "10.10.0.50"
# The subnet's gateway, which Neutron's router interface answers: the client
# namespace holds it too, so the members' isolation check can ping it.
GATEWAY_ADDRESS = "10.10.0.1"
PREFIX_LEN = 24
BRIDGE = "br0"
NIC = "eth0"
RUN_ROOT = Path("/run")
APACHE_MODULES = Path("/usr/lib/apache2/modules")
_labs = itertools.count(1)

# Where a member's files go: VM path prefix -> directory under the member's root.
_FILE_HOMES = (
    ("/etc/systemd/system/", "systemd"),
    ("/etc/keepalived/", "keepalived"),
    ("/var/www/html/", "html"),
    ("/usr/local/sbin/", "sbin"),
    ("/etc/apache2/sites-available/", "apache/sites"),
    ("/etc/apache2/", "apache"),
)

# Runtime directories a member's processes share at their VM paths (mount points
# for the bind mounts below; created empty in the root namespace if missing).
APACHE_RUN_DIR = "/run/apache2"
WEB_CHECK_RUN_DIR = "/run/vrrp-pair"
# The user the web check runs as (its unit says DynamicUser=yes: systemd would
# allocate one; the lab uses nobody).
WEB_CHECK_USER = "nobody"

# Runs "$@" in a private mount namespace where the member's own directories
# replace /etc/keepalived, /var/www/html, /run/apache2 and /run/vrrp-pair (the
# paths the user-data uses).
_MOUNT_WRAPPER = ('kd=$1; html=$2; arun=$3; wrun=$4; shift 4; '
                  'mount --bind "$kd" /etc/keepalived && '
                  'mount --bind "$html" /var/www/html && '
                  f'mount --bind "$arun" {APACHE_RUN_DIR} && '
                  f'mount --bind "$wrun" {WEB_CHECK_RUN_DIR} && exec "$@"')


class LabError(RuntimeError):
    """A lab command failed or a condition was not met in time."""


def sh(*cmd: str, check: bool = True, timeout: float = 30,
       input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(cmd)} -> {result.returncode}: "
                       f"{result.stderr.strip() or result.stdout.strip()}")
    return result


def wait_until(condition: Callable[[], T | None], timeout: float, what: str,
               interval: float = 0.05, diagnose: Callable[[], str] | None = None) -> T:
    """Polls `condition` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = diagnose() if diagnose else ""
            raise LabError(f"timed out after {timeout:.1f}s waiting for {what}"
                           + (f"\n{detail}" if detail else ""))
        time.sleep(interval)


def _netns_inode(name: str) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/run/netns/{name}")
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def pids_in_netns(name: str) -> list[int]:
    """Every process whose network namespace is the named one (ours only)."""
    ident = _netns_inode(name)
    if ident is None:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if st.st_ino == ident[1] and int(entry) != os.getpid():
            pids.append(int(entry))
    return pids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
        return int(text) if text else None
    except (FileNotFoundError, ValueError):
        return None


@dataclass
class Member:
    """One keepalived + Apache member in its own namespace."""

    lab: Lab
    files: MemberFiles
    ns: str
    port: str
    root: Path
    keepalived: subprocess.Popen[bytes] | None = None
    webcheck: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def address(self) -> str:
        return self.files.address

    @property
    def vip(self) -> str:
        return self.files.vip

    # ---- files -------------------------------------------------------------
    def local_path(self, vm_path: str) -> Path:
        for prefix, home in _FILE_HOMES:
            if vm_path.startswith(prefix):
                return self.root / home / vm_path[len(prefix):]
        raise LabError(f"{self.name}: no lab home for {vm_path}")

    def write_files(self) -> None:
        for sub in ("keepalived", "html", "sbin", "apache/sites", "apache/logs",
                    "apache/run", "run", "webcheck-run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o755)
            os.chmod(self.root / sub, 0o755)
        # systemd's RuntimeDirectory= of the web check: owned by its user.
        user = pwd.getpwnam(WEB_CHECK_USER)
        os.chown(self.root / "webcheck-run", user.pw_uid, user.pw_gid)
        for written in self.files.files.values():
            target = self.local_path(written.path)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            target.write_text(written.content)
            os.chmod(target, written.mode)
        (self.root / "apache" / "apache2.conf").write_text(self.apache_conf())

    def apache_conf(self) -> str:
        root = self.root / "apache"
        modules = "\n".join(
            f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so"
            for name in ("mpm_event", "authz_core", "dir", "mime", "setenvif"))
        return f"""# Lab Apache for {self.name}: a self-contained root; the member's rendered
# ports.conf and site are included unchanged. The pidfile is at Debian's path
# ({APACHE_RUN_DIR} is this member's {root}/run, bind-mounted), keep-alive and the
# event MPM's limits as in Debian's apache2.conf and mpm_event.conf.
ServerRoot {root}
ServerName {self.name}
Define APACHE_LOG_DIR {root}/logs
PidFile {APACHE_RUN_DIR}/apache2.pid
DefaultRuntimeDir {root}/run
Mutex file:{root}/run default
ErrorLog {root}/logs/error.log
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
{modules}
User www-data
Group www-data
TypesConfig /etc/mime.types
DirectoryIndex index.html
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
Timeout 5
# Debian's mpm_event.conf (a smaller ServerLimit filled the scoreboard when graceful
# restarts left children finishing keep-alive connections, and Apache stopped answering)
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory /var/www/>
    AllowOverride None
    Require all granted
</Directory>
Include {root}/ports.conf
Include {root}/sites/000-default.conf
"""

    # ---- commands in the member's namespaces ----------------------------------
    def in_ns(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *cmd]

    def in_member(self, *cmd: str) -> list[str]:
        """`cmd` in the member's network namespace and a private mount namespace
        with its files at the VM paths."""
        return self.in_ns("unshare", "--mount", "--propagation", "private",
                          "sh", "-c", _MOUNT_WRAPPER, "lab-member",
                          str(self.root / "keepalived"), str(self.root / "html"),
                          str(self.root / "apache" / "run"), str(self.root / "webcheck-run"),
                          *cmd)

    def run_interface_script(self) -> str:
        """Runs the rendered vrrp-pair-interface exactly as runcmd does
        (arguments taken from the user-data's runcmd)."""
        import yaml

        runcmd = yaml.safe_load(self.files.user_data).get("runcmd", [])
        if INTERFACE_SCRIPT not in self.files.files:
            return self.local_path(INTERFACE_FILE).read_text()
        (step,) = [c for c in runcmd if isinstance(c, list) and c and c[0] == INTERFACE_SCRIPT]
        sh(*self.in_member(str(self.local_path(INTERFACE_SCRIPT)), *map(str, step[1:])),
           timeout=90)
        return self.local_path(INTERFACE_FILE).read_text()

    # ---- Apache ------------------------------------------------------------
    @property
    def apache_pidfile(self) -> Path:
        return self.root / "apache" / "run" / "apache2.pid"

    def apache_pid(self) -> int | None:
        pid = _read_pid(self.apache_pidfile)
        return pid if pid and _alive(pid) else None

    def start_apache(self, wait: bool = True) -> None:
        conf = self.root / "apache" / "apache2.conf"
        sh(*self.in_member("apache2", "-d", str(self.root / "apache"), "-f", str(conf),
                           "-k", "start"))
        if wait:
            wait_until(self.serves_locally, 15, f"Apache of {self.name} to serve",
                       diagnose=lambda: self.tail(self.root / "apache/logs/error.log"))

    def serves_locally(self) -> bool:
        result = sh(*self.in_ns("curl", "-s", "--max-time", "1",
                                f"http://127.0.0.1:{self.files.http_port}/"), check=False)
        return result.returncode == 0 and result.stdout.strip() == self.name

    def stop_apache(self, sig: int = signal.SIGTERM, wait: bool = True) -> None:
        """SIGTERM to Apache's main process: a clean stop (`apachectl stop`). With
        SIGKILL, every process of this member's Apache (its process group), as
        `systemctl kill -s KILL apache2` or the OOM killer would."""
        pid = self.apache_pid()
        if pid is None:
            return
        os.killpg(pid, sig) if sig == signal.SIGKILL else os.kill(pid, sig)
        if wait:
            wait_until(lambda: not _alive(pid), 15, f"Apache of {self.name} to exit")
            # With SIGKILL the pid file stays behind, as after a crash.

    def kill_apache(self) -> None:
        self.stop_apache(signal.SIGKILL)

    def reload_apache(self) -> None:
        """A graceful restart (`apachectl graceful`, what logrotate's postrotate
        does every day): SIGUSR1 to the main process, which stays."""
        pid = self.apache_pid()
        if pid is None:
            raise LabError(f"Apache of {self.name} is not running")
        os.kill(pid, signal.SIGUSR1)

    def hang_apache(self) -> None:
        """SIGSTOP to every process of this member's Apache (found by its pidfile,
        not by name: the lab's members share a PID namespace). The kernel still
        accepts connections into the listen queue; nobody answers them."""
        pid = self.apache_pid()
        if pid is None:
            raise LabError(f"Apache of {self.name} is not running")
        os.killpg(pid, signal.SIGSTOP)

    def resume_apache(self) -> None:
        pid = _read_pid(self.apache_pidfile)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGCONT)

    # ---- the fast web check ------------------------------------------------
    @property
    def web_check_state(self) -> Path:
        return self.root / "webcheck-run" / Path(WEB_CHECK_STATE).name

    def web_check_command(self) -> list[str] | None:
        """The ExecStart of the rendered vrrp-pair-webcheck.service (None without it)."""
        unit = self.files.files.get(WEB_CHECK_UNIT)
        if unit is None:
            return None
        (line,) = [x for x in unit.content.splitlines() if x.startswith("ExecStart=")]
        argv = shlex.split(line.split("=", 1)[1])
        return [str(self.local_path(a)) if a == WEB_CHECK_SCRIPT else a for a in argv]

    def start_webcheck(self, wait: bool = True) -> None:
        """Starts the web check as its unit would (the unit's ExecStart, as an
        unprivileged user) and waits for its first verdict."""
        argv = self.web_check_command()
        if argv is None:
            return
        if self.webcheck is not None and self.webcheck.poll() is None:
            raise LabError(f"the web check of {self.name} already runs")
        user = pwd.getpwnam(WEB_CHECK_USER)
        cmd = self.in_member("setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                             "--clear-groups", *argv)
        with open(self.root / "webcheck.log", "ab") as log:
            self.webcheck = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            proc = self.webcheck
            wait_until(lambda: self.web_check_verdict() is not None or proc.poll() is not None,
                       15, f"the web check of {self.name} to write its verdict",
                       diagnose=lambda: self.tail(self.root / "webcheck.log"))
            if proc.poll() is not None:
                raise LabError(f"the web check of {self.name} exited {proc.returncode}\n"
                               + self.tail(self.root / "webcheck.log"))

    def web_check_verdict(self) -> str | None:
        try:
            return self.web_check_state.read_text().strip()
        except FileNotFoundError:
            return None

    def web_check_log(self) -> str:
        try:
            return (self.root / "webcheck.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ---- keepalived --------------------------------------------------------
    # keepalived's processes and the option naming each one's pid file.
    KEEPALIVED_PIDFILES = {"parent": "-p", "vrrp": "-r", "checkers": "-c", "bfd": "-b"}

    def pidfile(self, which: str) -> Path:
        return self.root / "run" / f"keepalived{'' if which == 'parent' else '_' + which}.pid"

    def start_keepalived(self) -> None:
        if self.keepalived is not None and self.keepalived.poll() is None:
            raise LabError(f"keepalived of {self.name} already runs")
        with open(self.root / "keepalived.log", "ab") as log:
            log.write(f"==== start {time.monotonic():.3f}\n".encode())
            log.flush()
            self.keepalived = self._spawn_keepalived(log)
        proc = self.keepalived
        wait_until(lambda: self.keepalived_pids().get("vrrp") or proc.poll() is not None,
                   15, f"keepalived of {self.name} to start its VRRP process",
                   diagnose=lambda: self.tail(self.root / "keepalived.log"))
        if proc.poll() is not None:
            raise LabError(f"keepalived of {self.name} exited {proc.returncode}\n"
                           + self.tail(self.root / "keepalived.log"))

    def _spawn_keepalived(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        cmd = self.in_member(
            "keepalived", "-n", "-l", "-G", "-P", "-f", KEEPALIVED_CONF,
            *(arg for which, option in self.KEEPALIVED_PIDFILES.items()
              for arg in (option, str(self.pidfile(which)))))
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def keepalived_pids(self) -> dict[str, int]:
        pids = {}
        for which in ("parent", "vrrp"):
            pid = _read_pid(self.pidfile(which))
            if pid and _alive(pid):
                pids[which] = pid
        return pids

    def keepalived_running(self) -> bool:
        return bool(self.keepalived_pids())

    def kill_keepalived(self, sig: int = signal.SIGKILL, group: bool = True,
                        wait: bool = True) -> None:
        """SIGKILL/SIGTERM to keepalived's whole process group, or to its parent only."""
        proc = self.keepalived
        if proc is None or proc.poll() is not None:
            return
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        if wait:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                raise LabError(f"keepalived of {self.name} ignored signal {sig}") from None
            wait_until(lambda: not self.keepalived_pids(), 15,
                       f"every keepalived process of {self.name} to exit")

    def keepalived_log(self) -> str:
        return (self.root / "keepalived.log").read_text(errors="replace")

    # ---- network operations -------------------------------------------------
    def block_port(self) -> None:
        """Neutron admin_state_up=false: the NIC stays up, the switch drops its frames."""
        sh("ip", "netns", "exec", self.lab.switch, "bridge", "link", "set", "dev", self.port,
           "state", "0")

    def unblock_port(self) -> None:
        sh("ip", "netns", "exec", self.lab.switch, "bridge", "link", "set", "dev", self.port,
           "state", "3")

    def link_down(self) -> None:
        sh("ip", "-n", self.ns, "link", "set", NIC, "down")

    def link_up(self) -> None:
        sh("ip", "-n", self.ns, "link", "set", NIC, "up")

    def filter_vrrp(self) -> None:
        """Drops VRRP (IP protocol 112) arriving at this member: a split brain.

        Policy routing (iproute2 only): arriving protocol-112 packets hit a
        blackhole rule placed before the local table."""
        sh("ip", "-n", self.ns, "rule", "add", "pref", "100", "lookup", "local")
        sh("ip", "-n", self.ns, "rule", "del", "pref", "0")
        sh("ip", "-n", self.ns, "rule", "add", "pref", "10", "iif", NIC, "ipproto", "112",
           "blackhole")

    def heal_vrrp(self) -> None:
        sh("ip", "-n", self.ns, "rule", "del", "pref", "10", check=False)
        sh("ip", "-n", self.ns, "rule", "add", "pref", "0", "lookup", "local", check=False)
        sh("ip", "-n", self.ns, "rule", "del", "pref", "100", check=False)

    def addresses(self) -> list[str]:
        out = sh("ip", "-n", self.ns, "-o", "-4", "addr", "show", "dev", NIC).stdout
        return [line.split()[3] for line in out.splitlines()]

    def holds_vip(self, vip: str | None = None) -> bool:
        return f"{vip or self.vip}/32" in self.addresses()

    def kill_everything(self) -> None:
        """SIGKILL to every process in the member's network namespace."""
        for pid in pids_in_netns(self.ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in (self.keepalived, self.webcheck):
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=15)
        wait_until(lambda: not pids_in_netns(self.ns), 15,
                   f"every process of {self.name} to die")

    def crash(self) -> None:
        """Power loss: every process killed, addresses not configured by the
        image (the VIP) gone, NIC down, /run (a tmpfs) emptied."""
        self.kill_everything()
        keepalived_pidfiles = [self.pidfile(which) for which in self.KEEPALIVED_PIDFILES]
        for path in (self.web_check_state, self.apache_pidfile, *keepalived_pidfiles):
            path.unlink(missing_ok=True)
        for cidr in self.addresses():
            if cidr.split("/")[0] != self.address:
                sh("ip", "-n", self.ns, "addr", "del", cidr, "dev", NIC)
        self.link_down()

    def boot(self) -> None:
        """Starts the member again from its files, in the order its services start:
        NIC up, Apache, the web check, keepalived (vrrp-interface.conf stays from
        the first boot)."""
        self.link_up()
        self.start_apache()
        self.start_webcheck()
        self.start_keepalived()

    def reboot(self, down_seconds: float = 2.0) -> None:
        self.crash()
        time.sleep(down_seconds)
        self.boot()

    @staticmethod
    def tail(path: Path, lines: int = 30) -> str:
        try:
            return f"--- {path}\n" + "\n".join(
                path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return f"--- {path}: missing"


class Lab:
    """Namespaces, bridge, members and client for one or more rendered pairs."""

    def __init__(self, pairs: Sequence[Sequence[MemberFiles]], tag: str | None = None,
                 client_address: str = CLIENT_ADDRESS) -> None:
        self.tag = tag or f"vl{os.getpid()}-{next(_labs)}"
        self.switch = f"{self.tag}-sw"
        self.client = f"{self.tag}-cl"
        self.client_address = client_address
        self.root = RUN_ROOT / self.tag
        self.members: list[Member] = []
        index = 0
        for pair in pairs:
            for files in pair:
                index += 1
                # The switch port is named after the member when it fits (so a
                # drill's {member} template can address it), else mN.
                port = files.name if len(files.name) <= 15 else f"m{index}"
                self.members.append(Member(self, files, f"{self.tag}-m{index}", port,
                                           self.root / files.name))
        self.namespaces: list[str] = []
        self._probes: list[Probe] = []

    # ---- lifecycle ---------------------------------------------------------
    def __enter__(self) -> Lab:
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def member(self, name: str) -> Member:
        (found,) = [m for m in self.members if m.name == name]
        return found

    def _add_ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def build(self) -> None:
        """Creates the network and writes every member's files (nothing started)."""
        for mount_point in (APACHE_RUN_DIR, WEB_CHECK_RUN_DIR):
            os.makedirs(mount_point, mode=0o755, exist_ok=True)
        self.root.mkdir(mode=0o755, parents=True, exist_ok=False)
        self._add_ns(self.switch)
        sh("ip", "-n", self.switch, "link", "add", "name", BRIDGE, "type", "bridge",
           "stp_state", "0", "mcast_snooping", "0")
        sh("ip", "-n", self.switch, "link", "set", BRIDGE, "up")
        ends = [(m.ns, m.port, f"{m.address}/{PREFIX_LEN}") for m in self.members]
        ends.append((self.client, "cl", f"{self.client_address}/{PREFIX_LEN}"))
        for ns, port, cidr in ends:
            self._add_ns(ns)
            sh("ip", "-n", self.switch, "link", "add", "name", port, "type", "veth",
               "peer", "name", NIC, "netns", ns)
            sh("ip", "-n", self.switch, "link", "set", port, "master", BRIDGE, "up")
            sh("ip", "-n", ns, "addr", "add", cidr, "dev", NIC)
            sh("ip", "-n", ns, "link", "set", NIC, "up")
        sh("ip", "-n", self.client, "addr", "add", f"{GATEWAY_ADDRESS}/{PREFIX_LEN}", "dev", NIC)
        for member in self.members:
            member.write_files()
            member.run_interface_script()

    def start(self, first: str | None = None, timeout: float = 30) -> Member:
        """First boot: Apache everywhere, then keepalived on `first` (default the
        first member); once it holds the VIP, keepalived on the others in order.
        Returns the master."""
        for member in self.members:
            member.start_apache()
            member.start_webcheck()
        by_pair: dict[str, list[Member]] = {}
        for member in self.members:
            by_pair.setdefault(member.files.pair, []).append(member)
        masters = []
        for members in by_pair.values():
            leader = next((m for m in members if m.name == first), members[0])
            leader.start_keepalived()
            self.wait_vip_holder(leader.vip, leader.name, timeout)
            masters.append(leader)
            for member in members:
                if member is not leader:
                    member.start_keepalived()
        for leader in masters:
            self.wait_serving(leader.vip, leader.name, timeout, http_port=leader.files.http_port)
        return masters[0]

    def close(self) -> None:
        for probe in list(self._probes):
            probe.stop()
        for member in self.members:
            for proc in (member.keepalived, member.webcheck):
                if proc is not None and proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
        for ns in reversed(self.namespaces):
            for _ in range(50):
                pids = pids_in_netns(ns)
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.05)
        for member in self.members:
            for proc in (member.keepalived, member.webcheck):
                if proc is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "delete", ns, check=False)
        self.namespaces.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- observations --------------------------------------------------------
    def vip_holders(self, vip: str | None = None) -> list[str]:
        vip = vip or self.members[0].vip
        return [m.name for m in self.members if m.vip == vip and m.holds_vip(vip)]

    def wait_vip_holder(self, vip: str, name: str, timeout: float) -> None:
        wait_until(lambda: self.vip_holders(vip) == [name], timeout,
                   f"{name} alone to hold {vip}", diagnose=self.diagnose)

    def fetch(self, vip: str | None = None, http_port: int | None = None,
              timeout: float = 1.0) -> str | None:
        """One GET of the VIP from the client: the serving member's name or None."""
        vip = vip or self.members[0].vip
        port = http_port or self.members[0].files.http_port
        result = sh("ip", "netns", "exec", self.client, "curl", "-s", "--max-time",
                    str(timeout), f"http://{vip}:{port}/", check=False, timeout=timeout + 10)
        return result.stdout.strip() if result.returncode == 0 else None

    def wait_serving(self, vip: str | None, name: str, timeout: float,
                     http_port: int | None = None, stable: float = 0.0) -> float:
        """Waits until the client gets `name` from the VIP (and keeps getting it
        for `stable` seconds). Returns the seconds waited."""
        start = time.monotonic()

        def serving() -> bool:
            if self.fetch(vip, http_port, timeout=0.5) != name:
                return False
            until = time.monotonic() + stable
            while time.monotonic() < until:
                if self.fetch(vip, http_port, timeout=0.5) != name:
                    return False
                time.sleep(0.1)
            return True

        wait_until(serving, timeout, f"the client to be served by {name}",
                   interval=0.1, diagnose=self.diagnose)
        return time.monotonic() - start

    def client_neighbour(self, address: str) -> str:
        return sh("ip", "-n", self.client, "neigh", "show", address).stdout.strip()

    def mac_of(self, member: Member) -> str:
        out = sh("ip", "-n", member.ns, "-o", "link", "show", NIC).stdout
        return out.split("link/ether", 1)[1].split()[0]

    def diagnose(self) -> str:
        lines = []
        for m in self.members:
            lines.append(f"{m.name}: addrs={m.addresses()} keepalived={m.keepalived_pids()} "
                         f"apache={m.apache_pid()} web check={m.web_check_verdict()}")
            lines.append(Member.tail(m.root / "keepalived.log", 12))
            lines.append(Member.tail(m.root / "webcheck.log", 4))
        lines.append("client neigh: " + sh("ip", "-n", self.client, "neigh").stdout.strip())
        return "\n".join(lines)

    def probe(self, vip: str | None = None, http_port: int | None = None,
              interval: float = 0.01, timeout: float = 0.25,
              persistent: bool = False) -> Probe:
        """Fresh connections every `interval`, or (persistent) one long-lived
        keep-alive client (see vrrp_pair.probe)."""
        vip = vip or self.members[0].vip
        port = http_port or self.members[0].files.http_port
        probe = Probe(self, f"http://{vip}:{port}/", interval, timeout, persistent)
        self._probes.append(probe)
        return probe


@dataclass(frozen=True)
class Outage:
    """What the client saw around a failure injected at `t0`."""

    t0: float
    downtime: float          # longest gap between successful requests after t0 - 1 s
    takeover: float | None   # t0 -> first request answered by another member
    served_by: str | None    # who answered last
    before: str | None       # who answered just before t0
    failures: int


@dataclass(frozen=True)
class LongLived:
    """What a long-lived keep-alive client (Probe with persistent=True) saw around a
    failure at t0; times are when the client learned of it (request start + latency)."""

    broke_after: float | None  # t0 -> the failed request on the connection of t0
    how: str                   # reset, eof, timeout, refused, ... or "kept" (no break)
    served_again_after: float | None  # t0 -> first answer on a later connection


def _connection(sample: Sample) -> tuple[str, int]:
    result, _, number = sample.result.rpartition("@")
    return result, int(number)


class Probe:
    """Runs the product's prober (vrrp_pair.probe, as the drill probes) in the client
    namespace and collects its samples."""

    def __init__(self, lab: Lab, url: str, interval: float, timeout: float,
                 persistent: bool = False) -> None:
        self.lab, self.url, self.interval = lab, url, interval
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.client, sys.executable, "-m", "vrrp_pair.probe",
             "--url", url, "--interval", str(interval), "--timeout", str(timeout),
             "--duration", "900", *(["--persistent"] if persistent else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            parts = raw.decode(errors="replace").split(None, 2)
            if len(parts) == 3:
                with self._lock:
                    self.samples.append(Sample(float(parts[0]), float(parts[1]),
                                               parts[2].strip()))

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)
        if self in self.lab._probes:
            self.lab._probes.remove(self)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return sorted(self.samples, key=lambda s: s.start)

    def completed_since(self, t: float) -> list[Sample]:
        return [s for s in self.snapshot() if s.start >= t]

    def wait_first_sample(self, timeout: float = 10) -> None:
        wait_until(lambda: self.snapshot(), timeout, "the probe to report")

    def wait_for(self, name: str, since: float, timeout: float, settle: int = 5) -> Sample:
        """Waits until `settle` consecutive requests started after `since` are
        answered by `name`; returns the first of them."""
        def found() -> Sample | None:
            run: list[Sample] = []
            for s in self.completed_since(since):
                run = [*run, s] if s.result == name else []
                if len(run) >= settle:
                    return run[0]
            return None

        return wait_until(found, timeout, f"the probe to see {name} at {self.url}",
                          diagnose=lambda: self.lab.diagnose() + "\nlast samples: "
                          + repr([(round(s.start, 3), s.result) for s in self.snapshot()[-8:]]))

    def long_lived(self, t0: float) -> LongLived | None:
        """How the persistent client's connection of t0 ended (None: no answer before t0)."""
        samples = self.snapshot()
        before = [s for s in samples if s.start + s.latency < t0 and s.ok]
        if not before:
            return None
        _, old = _connection(before[-1])
        after = [s for s in samples if s.start + s.latency >= t0]
        broke = next((s for s in after if _connection(s)[1] == old and not s.ok), None)
        again = next((s for s in after if _connection(s)[1] > old and s.ok), None)
        return LongLived(
            broke_after=None if broke is None else broke.start + broke.latency - t0,
            how="kept" if broke is None else _connection(broke)[0].lstrip("!"),
            served_again_after=None if again is None else again.start + again.latency - t0)

    def wait_long_lived(self, t0: float, timeout: float) -> LongLived | None:
        """Waits (at most `timeout`) until the connection of t0 broke and a new one
        was answered; returns what was seen by then."""
        deadline = time.monotonic() + timeout
        while True:
            outcome = self.long_lived(t0)
            if (outcome is None or outcome.served_again_after is not None
                    or time.monotonic() >= deadline):
                return outcome
            time.sleep(0.1)

    def outage(self, t0: float, until: float | None = None, lookback: float = 1.0) -> Outage:
        """What the client saw from `lookback` seconds before t0 (to find who
        answered before it) until `until`."""
        samples = [s for s in self.snapshot() if s.start >= t0 - lookback
                   and (until is None or s.start <= until)]
        ok = [s for s in samples if s.ok]
        before = [s for s in ok if s.start < t0]
        old = before[-1].result if before else None
        downtime = client_downtime([(s.start, s.ok) for s in samples])  # as the drill
        new = next((s for s in ok if s.start >= t0 and s.result != old), None)
        return Outage(t0=t0, downtime=downtime,
                      takeover=(new.start - t0) if new else None,
                      served_by=ok[-1].result if ok else None, before=old,
                      failures=sum(1 for s in samples if s.start >= t0 and not s.ok))


def with_keepalived_conf(files: MemberFiles, content: str) -> MemberFiles:
    """A copy of `files` whose keepalived.conf is replaced (for baselines)."""
    new = dict(files.files)
    old = new[KEEPALIVED_CONF]
    new[KEEPALIVED_CONF] = WrittenFile(old.path, old.mode, content)
    return replace(files, files=new)


def netns_leftovers(tag_prefix: str) -> list[str]:
    out = sh("ip", "netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(tag_prefix)]


__all__ = [
    "Lab",
    "LabError",
    "LongLived",
    "Member",
    "Outage",
    "Probe",
    "Sample",
    "netns_leftovers",
    "pids_in_netns",
    "sh",
    "wait_until",
    "with_keepalived_conf",
]
