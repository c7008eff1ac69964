"""The rendered cloud-init and keepalived files, checked by the real programs.

`cloud-init schema` validates every member's user-data; `keepalived -t` tests
every member's keepalived.conf at its real path (/etc/keepalived, bind-mounted
in a private mount namespace) inside a network namespace that has the
member's address, after the real interface-detection script has run there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from vrrp_pair import render

from tests.rendered import VARIANTS, rendered_user_data, written_files

CASES = [(variant, member, text) for variant, args in VARIANTS.items()
         for member, text in rendered_user_data(args).items()]
IDS = [f"{variant}:{member}" for variant, member, _ in CASES]


def _require(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is not installed: .ci/run installs it from Debian's packages"
    return path


@pytest.mark.parametrize("variant,member,user_data", CASES, ids=IDS)
def test_cloud_init_schema_accepts_user_data(variant: str, member: str, user_data: str,
                                             tmp_path: Path) -> None:
    _require("cloud-init")
    path = tmp_path / "user-data"
    path.write_text(user_data)
    result = subprocess.run(["cloud-init", "schema", "--config-file", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


@pytest.mark.parametrize("variant,member,user_data", CASES, ids=IDS)
def test_user_data_writes_the_rendered_files_byte_for_byte(variant: str, member: str,
                                                          user_data: str) -> None:
    files = written_files(user_data)
    assert files[render.INDEX_HTML]["content"] == f"{member}\n"
    keepalived = files[render.KEEPALIVED_CONF]
    assert keepalived["permissions"] == "0600" and keepalived["defer"] is True
    assert "vrrp_strict" not in keepalived["content"]
    assert "state MASTER" not in keepalived["content"]
    document = yaml.safe_load(user_data)
    commands = [" ".join(map(str, c)) for c in document["runcmd"]]
    restarts = [c.split()[-1] for c in commands if c.startswith("systemctl restart ")]
    # Apache first, then its fast web check (keepalived tracks its verdict file), then
    # keepalived, so every check passes before the first election.
    assert restarts == [*(["apache2", "vrrp-pair-webcheck"] if render.WEB_CHECK_UNIT in files
                          else ["apache2"]), "keepalived"]
    assert commands[-len(restarts):] == [f"systemctl restart {s}" for s in restarts]
    if render.WEB_CHECK_UNIT in files:
        assert commands.index("systemctl daemon-reload") < commands.index(
            "systemctl enable apache2 vrrp-pair-webcheck keepalived")


class MemberNamespace:
    """A network namespace holding members' addresses on an `eth0` veth."""

    def __init__(self, address: str | None = None) -> None:
        self.name = f"vrrp-kt-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.addresses: set[str] = set()
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "add", "eth0", "type", "veth",
                        "peer", "name", "eth0-peer"], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "eth0", "up"], check=True)
        if address:
            self.add(address)

    def ensure_link(self, name: str) -> None:
        """A NIC called `name` (a veth, as eth0), for a pair configured with `interface`."""
        links = subprocess.run(["ip", "-n", self.name, "-o", "link", "show"],
                               capture_output=True, text=True, check=True).stdout
        if f": {name}@" in links or f": {name}:" in links:
            return
        peer = f"kt-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "-n", self.name, "link", "add", "name", name, "type", "veth",
                        "peer", "name", peer], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", name, "up"], check=True)

    def add(self, address: str) -> None:
        """Puts `address` on eth0 (inside the namespace only), once."""
        if address in self.addresses:
            return
        prefix = 64 if ":" in address else 24
        subprocess.run(["ip", "-n", self.name, "addr", "add", f"{address}/{prefix}",
                        "dev", "eth0", *(["nodad"] if prefix == 64 else [])], check=True)
        self.addresses.add(address)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)


@pytest.fixture
def secure_dir() -> Iterator[Path]:
    """keepalived runs checks only from paths its script user cannot write: not /tmp."""
    path = Path(tempfile.mkdtemp(prefix="vrrp-kt-", dir="/run"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def keepalived_test(user_data: str, address: str, etc_dir: Path, mutate: str | None = None,
                    namespace: MemberNamespace | None = None
                    ) -> subprocess.CompletedProcess[str]:
    """Lays the member's files out as a VM would get them and runs `keepalived -t`
    (in `namespace`, which then keeps the address, or in one of its own)."""
    files = written_files(user_data)
    for path, entry in files.items():
        if path.startswith("/etc/keepalived/") or path == render.INTERFACE_SCRIPT:
            target = etc_dir / Path(path).name
            target.write_text(entry["content"])
            target.chmod(int(entry["permissions"], 8))
    if mutate:
        (etc_dir / mutate).unlink()
    detect = (f"{etc_dir}/vrrp-pair-interface {address} {render.INTERFACE_FILE} && "
              if render.INTERFACE_SCRIPT in files else "")
    own = namespace is None
    if namespace is None:
        namespace = MemberNamespace(address)
    else:
        namespace.add(address)
    if render.INTERFACE_FILE in files:
        namespace.ensure_link(files[render.INTERFACE_FILE]["content"].strip().split("=", 1)[1])
    try:
        # A fresh PID namespace: keepalived 2.2.7's config test otherwise kills
        # itself (SIGTERM) after dropping privileges to check script security,
        # unless it is PID 1 there (hence `exec`).
        script = (f"mount --bind {etc_dir} /etc/keepalived && {detect}"
                  f"exec keepalived -t -f {render.KEEPALIVED_CONF}")
        return subprocess.run(["ip", "netns", "exec", namespace.name, "unshare", "-m", "-p",
                               "-f", "sh", "-c", script],
                              capture_output=True, text=True, check=False, timeout=60)
    finally:
        if own:
            namespace.delete()


def _own_address(user_data: str) -> str:
    conf = written_files(user_data)[render.KEEPALIVED_CONF]["content"]
    return conf.split("unicast_src_ip ", 1)[1].split()[0]


@pytest.mark.root  # keepalived -t in a network namespace of its own
@pytest.mark.parametrize("variant,member,user_data", CASES, ids=IDS)
def test_keepalived_accepts_the_rendered_config(variant: str, member: str, user_data: str,
                                                secure_dir: Path) -> None:
    _require("keepalived")
    result = keepalived_test(user_data, _own_address(user_data), secure_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.root  # keepalived -t in a network namespace of its own
def test_keepalived_test_harness_does_fail_on_a_missing_check_script(secure_dir: Path) -> None:
    """The check above can fail: without the health check keepalived says so."""
    _require("keepalived")
    _, _member, user_data = CASES[0]
    result = keepalived_test(user_data, _own_address(user_data), secure_dir,
                             mutate=Path(render.MEMBER_CHECK_SCRIPT).name)
    assert result.returncode != 0
    assert "check_member" in result.stderr
