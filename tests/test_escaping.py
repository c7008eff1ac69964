"""Values are escaped for the file they land in, even if validation ever let one through.

Each test skips validation on purpose (dataclasses.replace on parsed Settings, or
the escapers directly) and checks the file with its real reader: PyYAML (what
cloud-init parses with), dash (`sh`), and the escapers' refusals for keepalived."""

from __future__ import annotations

import dataclasses
import ipaddress
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from vrrp_pair import render
from vrrp_pair.settings import parse_settings

from labs.pulumi_harness import RECIPE_ARGS

HOSTILE = ["x\nnotify_master /bin/reboot", "a, reboot]", "#c", "'q\"", "$(reboot)", "`id`",
           "a: b", "- x", "\u2028runcmd", "\x85", "fd00::4%eth0", "{x}", "*a", "&a", "!!python"]


def _member(address: str = "10.10.0.4") -> render.MemberView:
    return render.MemberView(name="vrrp-node-1", address=address, peers=("10.10.0.5",),
                             priority=100)


def test_a_zone_that_slipped_past_validation_stays_one_shell_word(tmp_path: Path) -> None:
    settings = parse_settings("vrrp", {**RECIPE_ARGS, "existing_network_id": "net",
                                       "existing_subnet_id": "sub", "subnet_cidr": "fd00::/64",
                                       "vip_address": "fd00::200", "floating_ip": False,
                                       "member_addresses": ["fd00::4", "fd00::5"],
                                       "http_allowed_cidrs": [], "gateway_ip": "fd00::1"})
    sneaky = dataclasses.replace(settings, gateway_ip=ipaddress.ip_address("fd00::1%x;reboot"))
    files = {f.path: f.content for f in render.member_files(
        sneaky, _member("fd00::4"), "fd00::200", 7, None) if f.path == render.GATEWAY_SCRIPT}
    script = files[render.GATEWAY_SCRIPT]
    (tmp_path / "check.sh").write_text(script)
    assert subprocess.run(["sh", "-n", str(tmp_path / "check.sh")], check=False).returncode == 0
    last = shlex.split(script.splitlines()[-1])
    assert last == ["exec", "ping", "-n", "-q", "-c", "1", "-W", "1", "fd00::1%x;reboot", ">",
                    "/dev/null"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_keepalived_config_refuses_anything_but_one_word(hostile: str) -> None:
    settings = parse_settings("vrrp", RECIPE_ARGS)
    with pytest.raises(render.RenderError, match="cannot go into a config file"):
        render.keepalived_conf(settings, _member(), hostile, 7, None)
    with pytest.raises(render.RenderError):
        render.keepalived_conf(settings, _member(hostile), "10.10.0.200", 7, None)


def test_interface_file_refuses_a_second_line() -> None:
    settings = dataclasses.replace(parse_settings("vrrp", {**RECIPE_ARGS, "interface": "eth0"}),
                                   interface="eth0\n$X=1")
    with pytest.raises(render.RenderError):
        render.member_files(settings, _member(), "10.10.0.200", 7, None)


def test_vrrp_secret_is_checked_without_being_printed() -> None:
    settings = parse_settings("vrrp", {**RECIPE_ARGS, "vrrp_version": 2, "advert_interval": 1})
    with pytest.raises(render.RenderError) as caught:
        render.keepalived_conf(settings, _member(), "10.10.0.200", 7, "s3cret\nglobal")
    assert str(caught.value) == ("the VRRPv2 secret must be 1 to 8 base64url characters "
                                 "(13 characters given)")


def test_vrrpv3_writes_no_authentication_even_if_handed_a_secret() -> None:
    settings = parse_settings("vrrp", RECIPE_ARGS)
    assert settings.vrrp_version == 3
    conf = render.keepalived_conf(settings, _member(), "10.10.0.200", 7, "abcd")
    assert "authentication" not in conf and "abcd" not in conf


def test_a_config_value_that_is_not_one_plain_word_is_refused_with_why() -> None:
    with pytest.raises(render.RenderError) as caught:
        render.config_word("eth0 #x")
    assert str(caught.value) == ("'eth0 #x' cannot go into a config file: only letters, "
                                 "digits and _ . : / - are written")


def test_the_instance_is_named_after_the_pair_with_underscores() -> None:
    assert render.instance_name(parse_settings("edge-vip-2", RECIPE_ARGS)) == "edge_vip_2_vip"


def test_apt_line_refuses_a_second_word() -> None:
    for bad in ("http://m/ stable main", "http://m/#x", "http://m/$MIRROR", "http://m/\n"):
        with pytest.raises(render.RenderError):
            render.apt_word(bad)
    assert render.apt_word("http://[fd00::1]:8080/debian") == "http://[fd00::1]:8080/debian"


def test_a_new_kind_of_template_needs_an_escaping_rule() -> None:
    with pytest.raises(render.RenderError, match="no escaping rule"):
        render._render("notes.txt.j2")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_web_page_and_scripts_refuse_or_escape(hostile: str) -> None:
    if hostile.isprintable():
        page = render._render("index.html.j2", member_name=hostile + "<script>")
        assert "<script>" not in page
        script = render._render("check-gateway.sh.j2", member_name="n", gateway=hostile)
        assert shlex.split(script.splitlines()[-1])[8] == hostile
    else:
        with pytest.raises(render.RenderError, match="control or line-break"):
            render._render("check-gateway.sh.j2", member_name=hostile, gateway="10.0.0.1")


def _document(scalar: str, block: str) -> str:
    return (f"# comment {scalar}\nplain: {scalar}\nflow: [a, {scalar}, b]\n"
            f"files:\n  - path: x\n    content: {block}\n  - path: y\n")


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("\n")  # a kept block at the end of the emitter's document: "..." (found by Hypothesis)
@example(" leading space\n")
@example("two trailing newlines\n\n")
def test_yaml_escapers_round_trip_any_text(text: str) -> None:
    """For any text at all, PyYAML reads back exactly that text: as a plain or quoted
    scalar in a block, a flow list and after a comment, and as a file's content."""
    parsed = yaml.safe_load(_document(render.yaml_scalar(text), render.yaml_block(text, 4)))
    assert parsed == {"plain": text, "flow": ["a", text, "b"],
                      "files": [{"path": "x", "content": text}, {"path": "y"}]}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00")), min_size=1,
                max_size=20))
def test_shell_words_reach_dash_as_one_argument_each(words: list[str]) -> None:
    """dash gets each quoted word back as exactly one argument (or the escaper refuses
    it, for line breaks and control characters)."""
    safe = [w for w in words if w.isprintable()]
    for word in words:
        if not word.isprintable():
            with pytest.raises(render.RenderError):
                render.shell_word(word)
    script = "printf '%s\\0' " + " ".join(render.shell_word(w) for w in safe) + "\n"
    result = subprocess.run(["sh", "-c", script], capture_output=True, check=True)
    assert result.stdout.decode().split("\0")[:-1] == (safe or [""])


@pytest.mark.parametrize(("word", "why"), [
    ("deb#x", "it is not one printable word without #"),
    ("two words", "it is not one printable word without #"),
    ("line\nbreak", "it holds a control or line-break character"),
])
def test_a_sources_list_word_is_refused_with_what_it_is_and_why(word: str, why: str) -> None:
    with pytest.raises(render.RenderError) as caught:
        render.apt_word(word)
    assert str(caught.value) == f"{word!r} cannot go into a sources.list line: {why}"
