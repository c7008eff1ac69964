"""The failover-check module's logic, and how the component declares the checks."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pulumi
import pytest
from vrrp_pair import VrrpPair, failover_check
from vrrp_pair.checks import REPRINT_LAST_RESULT
from vrrp_pair.port_switch import PortState

from labs.pulumi_harness import MOCK_FLOATING_IP, RECIPE_ARGS, RecordingMocks, run_program
from tests.scripted_prober import ScriptedProber, scripted


class ScriptedNetwork:
    """A fake client view: node-1 answers until its port is disabled, then nothing
    for `silent` probes, then node-2 answers."""

    def __init__(self, silent: int) -> None:
        self.disabled: list[str] = []
        self.enabled: list[str] = []
        self.silent = silent

    def probe(self, url: str, timeout: float) -> str | None:
        if not self.disabled:
            return "vrrp-node-1"
        if self.silent > 0:
            self.silent -= 1
            return None
        return "vrrp-node-2"

    def disable(self, member: str) -> None:
        self.disabled.append(member)

    def enable(self, member: str) -> None:
        self.enabled.append(member)

    def port_id(self, member: str) -> str:
        return f"{member}-port-id"

    def state(self, member: str) -> PortState:
        enabled = self.disabled.count(member) <= self.enabled.count(member)
        return PortState(enabled, f"enabled={enabled}")

    def manual_restore(self, member: str) -> str:
        return f"enable {member}"


def test_drill_fails_the_master_measures_and_restores_its_port(monkeypatch: Any) -> None:
    network = ScriptedNetwork(silent=5)
    monkeypatch.setattr(failover_check, "probe_once", network.probe)
    made: list[ScriptedProber] = []
    result = failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], network,
                                  timeout=5, probe_interval=0.001, prober=scripted(made=made))
    assert [(p.started, p.stopped) for p in made] == [(True, True)]
    assert result.old_master == "vrrp-node-1" and result.new_master == "vrrp-node-2"
    assert network.disabled == ["vrrp-node-1"] and network.enabled == ["vrrp-node-1"]
    assert result.failed_probes >= 5
    assert result.downtime_seconds is not None and result.downtime_seconds > 0
    assert result.port_restored == {"member": "vrrp-node-1", "port_id": "vrrp-node-1-port-id",
                                    "verified": True, "detail": "enabled=True"}


def test_drill_reports_no_new_master_and_still_restores_the_port(monkeypatch: Any) -> None:
    network = ScriptedNetwork(silent=10**9)
    monkeypatch.setattr(failover_check, "probe_once", network.probe)
    result = failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], network,
                                  timeout=0.2, probe_interval=0.001, prober=scripted())
    assert result.new_master is None and result.downtime_seconds is None
    assert network.enabled == ["vrrp-node-1"]


def test_drill_refuses_an_address_that_is_not_the_pair(monkeypatch: Any) -> None:
    monkeypatch.setattr(failover_check, "probe_once", lambda url, timeout: "someone-else")
    with pytest.raises(RuntimeError, match="not one of vrrp-node-1"):
        failover_check.drill("http://vip/", ["vrrp-node-1"], ScriptedNetwork(0), timeout=1)


def test_smoke_cli_fails_after_its_deadline_on_a_closed_port(capsys: Any) -> None:
    code = failover_check.main(["smoke", "--url", "http://127.0.0.1:9/", "--deadline", "0.5",
                                "--interval", "0.1"])
    assert code == 1
    assert "did not serve within" in capsys.readouterr().err


def _pair(extra: dict[str, Any], disabled_ports: set[str] | None = None,
          preview: bool = False) -> tuple[Any, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def program() -> Any:
        pair = VrrpPair("vrrp", {**RECIPE_ARGS, **extra})  # type: ignore[typeddict-item]
        return pulumi.Output.all(pair.instance_ids, pair.smoke_check,
                                 pair.failover_downtime_seconds).apply(
            lambda v: seen.update(v=v))

    return run_program(program, RecordingMocks(disabled_ports=disabled_ports or set()),
                       preview=preview), seen


def test_checks_are_off_by_default() -> None:
    mocks, seen = _pair({})
    assert not mocks.of_type("command:local:Command")
    assert seen["v"][1] is None and seen["v"][2] is None


def test_smoke_check_probes_the_floating_ip_after_the_instances() -> None:
    mocks, _ = _pair({"smoke_check": True})
    (smoke,) = mocks.of_type("command:local:Command")
    assert smoke.name == "vrrp-smoke-check"
    assert f"smoke --url http://{MOCK_FLOATING_IP}:80/ --deadline 600" in smoke.inputs["create"]
    assert "vrrp_pair.failover_check" in smoke.inputs["create"]
    assert smoke.inputs["triggers"] == ["vrrp-node-1-id", "vrrp-node-2-id",
                                        "vrrp-node-1-port-id", "vrrp-node-2-port-id"]
    assert {d.rsplit("::", 1)[1] for d in smoke.dependencies} >= {
        "vrrp-node-1", "vrrp-node-2", "vrrp-fip"}


def test_drill_names_each_member_port_and_runs_after_the_smoke_check() -> None:
    mocks, _ = _pair({"failover_drill": True, "check_address": "10.10.0.200"})
    drill = mocks.named("vrrp-failover-drill")
    create = drill.inputs["create"]
    assert "drill --url http://10.10.0.200:80/" in create
    assert "--member vrrp-node-1=vrrp-node-1-port-id" in create
    assert "--member vrrp-node-2=vrrp-node-2-port-id" in create
    assert any(d.endswith("::vrrp-smoke-check") for d in drill.dependencies)
    # waits up to the check deadline for a master steady for five adverts (at least 3 s)
    assert create.endswith("--settle 3 --wait 600"), create


def test_drill_waits_longer_for_a_steady_master_with_slow_adverts() -> None:
    mocks, _ = _pair({"failover_drill": True, "advert_interval": 1, "check_deadline": 1500})
    assert mocks.named("vrrp-failover-drill").inputs["create"].endswith(
        "--settle 5 --wait 1500")


class FakeClock:
    """time.monotonic that moves only when the code sleeps."""

    def __init__(self, monkeypatch: Any) -> None:
        self.now = 0.0
        monkeypatch.setattr(failover_check.time, "sleep", self.sleep)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_drill_waits_out_silence_and_a_moving_master(monkeypatch: Any) -> None:
    """Right after boot: nothing, then node-2 for a moment, then node-1 steadily. The
    port disabled is node-1's, once it has answered for the settle time."""
    clock = FakeClock(monkeypatch)
    answers = iter([None] * 4 + ["vrrp-node-2"] * 2 + ["vrrp-node-1"] * 100)
    network = ScriptedNetwork(silent=0)
    monkeypatch.setattr(failover_check, "probe_once", lambda url, timeout: next(answers)
                        if not network.disabled else network.probe(url, timeout))
    result = failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], network,
                                  timeout=5, probe_interval=0.001, clock=clock,
                                  settle=2, wait=60, prober=scripted(clock))
    assert network.disabled == ["vrrp-node-1"] and result.old_master == "vrrp-node-1"
    assert result.new_master == "vrrp-node-2"
    assert clock.now >= 3.0 + 2.0   # 6 probes 0.5 s apart before node-1, then 2 s of it


def test_the_drill_disables_nothing_without_a_steady_master_in_time(monkeypatch: Any
                                                                   ) -> None:
    clock = FakeClock(monkeypatch)
    flip = iter(["vrrp-node-1", "vrrp-node-2"] * 1000)
    monkeypatch.setattr(failover_check, "probe_once", lambda url, timeout: next(flip))
    network = ScriptedNetwork(silent=0)
    with pytest.raises(RuntimeError, match=r"no member answered steadily for 5 s within 30 s"):
        failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], network,
                             clock=clock, settle=5, wait=30)
    assert network.disabled == [] and network.enabled == []
    assert 30 <= clock.now < 31


def test_without_a_wait_one_unanswered_probe_disables_nothing(monkeypatch: Any) -> None:
    monkeypatch.setattr(failover_check, "probe_once", lambda url, timeout: None)
    network = ScriptedNetwork(silent=0)
    with pytest.raises(RuntimeError, match="no member answered steadily"):
        failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], network)
    assert network.disabled == []


def test_checks_do_not_run_in_preview() -> None:
    """Under preview, pulumi-command skips a Command's create; the component must add no
    invoke that runs anyway (local.run): its only invokes are reads of the member ports."""
    mocks, _ = _pair({"smoke_check": True, "failover_drill": True}, preview=True)
    assert pulumi.runtime.is_dry_run()
    assert mocks.invokes, "the port repair reads each member port in preview too"
    assert set(mocks.invokes) == {"openstack:networking/getPort:getPort"}, mocks.invokes
    assert [r.name for r in mocks.of_type("command:local:Command")] == [
        "vrrp-port-repair", "vrrp-smoke-check", "vrrp-failover-drill"]


TRIGGERS = ["vrrp-node-1-id", "vrrp-node-2-id", "vrrp-node-1-port-id", "vrrp-node-2-port-id"]


def test_the_drill_runs_again_only_when_members_or_their_ports_change() -> None:
    """Only `triggers` (instances and ports) replace the drill, which runs it; a new
    interpreter (another venv or checkout) or URL changes create, and an
    update of those re-prints the last result instead of disabling a port again."""
    mocks, _ = _pair({"failover_drill": True})
    assert "update" not in mocks.named("vrrp-smoke-check").inputs  # it only reads: re-runs
    for name in ("vrrp-smoke-check", "vrrp-failover-drill"):
        check = mocks.named(name)
        assert check.inputs["triggers"] == TRIGGERS
        if name == "vrrp-failover-drill":
            assert check.inputs["update"] == REPRINT_LAST_RESULT
        # What moves with the checkout and the interpreter is in create, which an
        # update (the re-print) covers; the module comes from the installed package:
        assert check.inputs["environment"] == {"PYTHONUNBUFFERED": "1"}
        assert sys.executable in check.inputs["create"]
    assert "drill" not in REPRINT_LAST_RESULT and "PULUMI_COMMAND_STDOUT" in REPRINT_LAST_RESULT


def test_reprint_gives_back_the_last_result_through_a_real_shell() -> None:
    previous = '{"old_master": "vrrp-node-1", "downtime_seconds": 0.42}'
    out = subprocess.run(["sh", "-c", REPRINT_LAST_RESULT], capture_output=True, text=True,
                         env={"PULUMI_COMMAND_STDOUT": previous}, check=True).stdout
    assert out == previous + "\n"


def test_a_port_found_disabled_is_repaired_before_the_checks() -> None:
    mocks, _ = _pair({"failover_drill": True}, disabled_ports={"vrrp-node-2-port-id"})
    repair = mocks.named("vrrp-port-repair")
    assert "restore --member vrrp-node-2=vrrp-node-2-port-id" in repair.inputs["create"]
    assert "vrrp-node-1" not in repair.inputs["create"]
    assert repair.inputs["triggers"] == [["vrrp-node-2-port-id"]]
    assert repair.inputs["update"] == REPRINT_LAST_RESULT
    smoke = mocks.named("vrrp-smoke-check")
    assert any(d.endswith("::vrrp-port-repair") for d in smoke.dependencies)


def test_with_every_port_enabled_the_repair_has_nothing_to_do() -> None:
    mocks, _ = _pair({"failover_drill": True})
    repair = mocks.named("vrrp-port-repair")
    assert repair.inputs["triggers"] == [[]]
    assert repair.inputs["create"].endswith("vrrp_pair.failover_check restore")
    code = failover_check.main(["restore"])
    assert code == 0


def test_without_the_drill_nothing_reads_or_repairs_ports() -> None:
    mocks, _ = _pair({"smoke_check": True}, disabled_ports={"vrrp-node-2-port-id"})
    assert [r.name for r in mocks.of_type("command:local:Command")] == ["vrrp-smoke-check"]


def test_drill_results_become_component_outputs() -> None:
    _, seen = _pair({"failover_drill": True})
    _, smoke, downtime = seen["v"]
    assert smoke == {"served_by": "vrrp-node-1", "seconds_to_first_answer": 1.5}
    assert downtime == 0.42


@pytest.mark.root
def test_probes_go_from_the_named_namespace_and_api_calls_stay_here(monkeypatch: Any) -> None:
    """VRRP_CHECK_NETNS: an address that answers only inside a namespace (as the local
    cloud's floating IPs) is probed from there; this thread's namespace is unchanged."""
    import subprocess
    import time
    import uuid

    namespace = f"vrrp-probe-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    server = None
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "python3", "-c",
             "import http.server as h\n"
             "class H(h.BaseHTTPRequestHandler):\n"
             "    def do_GET(self):\n"
             "        self.send_response(200); self.end_headers(); self.wfile.write(b'inside')\n"
             "    def log_message(self, *a): pass\n"
             "h.HTTPServer(('127.0.0.1', 18765), H).serve_forever()"])
        monkeypatch.setattr(failover_check, "_prober", None)
        monkeypatch.setenv(failover_check.NETNS_ENV, namespace)
        answer = None
        for _ in range(100):   # until the server listens
            answer = failover_check.probe_once("http://127.0.0.1:18765/", timeout=0.5)
            if answer:
                break
            time.sleep(0.1)
        assert answer == "inside"
        # the drill's prober too: its thread enters the namespace before it probes
        stream = failover_check.probe_stream("http://127.0.0.1:18765/", 0.05, 0.5)
        stream.start()
        time.sleep(0.5)
        stream.stop()
        samples = stream.snapshot()
        assert samples and {s.result for s in samples} == {"inside"}, samples[:3]
        monkeypatch.delenv(failover_check.NETNS_ENV)
        assert failover_check.probe_once("http://127.0.0.1:18765/", timeout=0.5) is None
    finally:
        if server:
            server.terminate()
            server.wait()
        prober = failover_check._prober
        if prober is not None:
            prober.shutdown()
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def test_a_missing_probe_namespace_is_a_clear_error(monkeypatch: Any) -> None:
    monkeypatch.setattr(failover_check, "_prober", None)
    monkeypatch.setenv(failover_check.NETNS_ENV, "vrrp-no-such-namespace")
    with pytest.raises(RuntimeError, match="VRRP_CHECK_NETNS=vrrp-no-such-namespace: no such"):
        failover_check.probe_once("http://127.0.0.1:9/", timeout=0.1)


def test_the_drill_waits_until_every_member_has_booted(monkeypatch: Any) -> None:
    """Serving right after `pulumi up` while node-2 still boots: the drill waits for
    node-2's console to show cloud-init's last line before it disables anything."""
    clock = FakeClock(monkeypatch)
    network = ScriptedNetwork(silent=3)
    monkeypatch.setattr(failover_check, "probe_once", network.probe)
    looked: list[tuple[str, float]] = []

    def booted(member: str) -> bool | None:
        looked.append((member, clock.now))
        return member == "vrrp-node-1" or clock.now >= 10.0

    result = failover_check.drill("http://vip/", ["vrrp-node-1", "vrrp-node-2"], network,
                                  timeout=5, probe_interval=0.001, clock=clock, settle=1,
                                  wait=60, prober=scripted(clock), booted=booted)
    assert result.new_master == "vrrp-node-2" and network.disabled == ["vrrp-node-1"]
    assert ("vrrp-node-2", 10.0) in looked            # it kept looking, 2 s apart
    assert [m for m, _ in looked].count("vrrp-node-1") == 1  # a booted member is not asked again
    assert clock.now >= 10.0 + 1.0                     # then the settle time on top


def test_a_member_never_seen_booted_does_not_stop_the_drill(monkeypatch: Any,
                                                            capsys: Any) -> None:
    """No cloud-init line within the wait (an image that prints none): the drill goes on
    and says so; a member whose console cannot be read (None) is not waited for."""
    clock = FakeClock(monkeypatch)
    network = ScriptedNetwork(silent=2)
    monkeypatch.setattr(failover_check, "probe_once", network.probe)
    result = failover_check.drill(
        "http://vip/", ["vrrp-node-1", "vrrp-node-2"], network, timeout=5,
        probe_interval=0.001, clock=clock, settle=0, wait=30, prober=scripted(clock),
        booted=lambda member: None if member == "vrrp-node-1" else False)
    assert result.new_master == "vrrp-node-2"
    assert 30.0 <= clock.now < 35.0
    assert "vrrp-node-2 not seen to finish booting within 30 s" in capsys.readouterr().err


def test_cloud_init_finished_reads_the_console_line() -> None:
    from vrrp_pair.port_switch import cloud_init_finished

    done = ("[  204.1] cloud-init[401]: Cloud-init v. 22.4.2 running 'modules:final'\n"
            "[  205.7] cloud-init[401]: Cloud-init v. 22.4.2 finished at Sat, 28 Nov 2026 "
            "15:50:01 +0000. Datasource DataSourceOpenStackLocal.  Up 205.61 seconds\n")
    assert cloud_init_finished(done)
    assert not cloud_init_finished(done.splitlines()[0])
    assert not cloud_init_finished("")


def test_a_check_that_printed_nothing_gives_no_result() -> None:
    """A check's output is its JSON; an empty stdout (nothing printed) is no result, not a
    JSON error."""
    class Quiet(RecordingMocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs
                         ) -> tuple[str, dict[str, Any]]:
            resource_id, outputs = super().new_resource(args)
            if args.typ == "command:local:Command":
                outputs["stdout"] = ""
            return resource_id, outputs

    seen: dict[str, Any] = {}

    def program() -> Any:
        pair = VrrpPair("vrrp", {**RECIPE_ARGS, "smoke_check": True})  # type: ignore[typeddict-item]
        return pair.smoke_check.apply(lambda value: seen.update(smoke=value))

    run_program(program, Quiet())
    assert seen == {"smoke": None}


def test_the_component_registers_every_output_with_its_value() -> None:
    """register_outputs is what the engine keeps (and the multi-language provider
    returns): every output under its own name, the drill's results included."""
    mocks, _ = _pair({"failover_drill": True})
    outputs = mocks.registered_outputs["vrrp"]
    assert outputs == {
        "vip_address": "10.10.0.200", "floating_ip_address": MOCK_FLOATING_IP,
        "member_names": ["vrrp-node-1", "vrrp-node-2"],
        "member_ips": ["10.10.0.4", "10.10.0.5"],
        "member_port_ids": ["vrrp-node-1-port-id", "vrrp-node-2-port-id"],
        "instance_ids": ["vrrp-node-1-id", "vrrp-node-2-id"], "vrid": 172,
        "security_group_id": "vrrp-members-id", "vip_port_id": "vrrp-vip-id",
        "network_id": "vrrp-net-id", "subnet_id": "vrrp-subnet-id",
        "smoke_check": {"served_by": "vrrp-node-1", "seconds_to_first_answer": 1.5},
        "failover_downtime_seconds": 0.42, "failover_new_master": "vrrp-node-2"}
