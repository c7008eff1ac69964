"""aptMirrorKey: only an armoured public key block passes, re-armoured from its packets.

Checked against GnuPG itself: keys it makes, exports and reads back."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from vrrp_pair.openpgp_armor import ArmorError, armor, canonical_public_key, crc24, packet_tags
from vrrp_pair.settings import NOVA_USER_DATA_LIMIT, VrrpPairConfigError, parse_settings

from labs.pulumi_harness import RECIPE_ARGS

KEY = (Path(__file__).parent / "data" / "mirror-key.asc").read_text()


def _packets(armored: str) -> bytes:
    body = armored.strip().split("\n")[2:-2]
    return base64.b64decode("".join(body))


def _gpg() -> str:
    path = shutil.which("gpg")
    assert path, "gpg is not installed: scripts/test installs gnupg"
    return path


@pytest.fixture
def gnupg_home(tmp_path: Path) -> Iterator[dict[str, str]]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    yield env
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)


def _generate(env: dict[str, str]) -> tuple[str, str, str]:
    """A fresh ed25519 key from GnuPG: (public block, secret block, fingerprint)."""
    gpg = _gpg()
    subprocess.run([gpg, "--batch", "--passphrase", "", "--quick-gen-key",
                    "mirror <mirror@example.invalid>", "ed25519", "sign", "0"],
                   env=env, check=True, capture_output=True)
    public = subprocess.run([gpg, "--armor", "--export"], env=env, check=True,
                            capture_output=True, text=True).stdout
    secret = subprocess.run([gpg, "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                             "--armor", "--export-secret-keys"], env=env, check=True,
                            capture_output=True, text=True).stdout
    listing = subprocess.run([gpg, "--with-colons", "--list-keys"], env=env, check=True,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                       if line.startswith("fpr:"))
    return public, secret, fingerprint


def test_gnupg_public_key_is_accepted_and_rewritten_byte_for_byte(
        gnupg_home: dict[str, str]) -> None:
    public, _, fingerprint = _generate(gnupg_home)
    assert canonical_public_key(public) == public
    noisy = public.replace("\n", "\nComment: added by hand\n", 1) + "\n\n"
    assert canonical_public_key(noisy) == public
    shown = subprocess.run([_gpg(), "--with-colons", "--show-keys"],
                           input=canonical_public_key(noisy),
        env=gnupg_home, check=True, capture_output=True, text=True).stdout
    assert f"fpr:::::::::{fingerprint}:" in shown


def test_gnupg_secret_key_export_is_refused(gnupg_home: dict[str, str]) -> None:
    _, secret, _ = _generate(gnupg_home)
    assert "PRIVATE KEY BLOCK" in secret
    with pytest.raises(ArmorError, match="private key block"):
        canonical_public_key(secret)
    relabelled = secret.replace("PRIVATE KEY BLOCK", "PUBLIC KEY BLOCK")
    with pytest.raises(ArmorError, match="first packet is not a public key"):
        canonical_public_key(relabelled)


def test_secret_subkey_inside_a_public_block_is_refused() -> None:
    data = _packets(KEY)
    assert packet_tags(data)[0] == 6
    secret_subkey = bytes([0xC0 | 7, 3]) + b"abc"  # new-format tag 7, 3 bytes
    with pytest.raises(ArmorError, match="secret key material"):
        canonical_public_key(armor(data + secret_subkey))


def test_headers_and_blank_trailing_lines_are_dropped() -> None:
    lines = KEY.strip().split("\n")
    noisy = "\r\n".join([lines[0], "Version: GnuPG v2", "Comment: rm -rf /", *lines[1:]]) + "\n\n"
    assert canonical_public_key(noisy) == KEY


@pytest.mark.parametrize("mangle,reason", [
    (lambda k: k.replace("=Rei4", "=AAAA"), "checksum does not match"),
    (lambda k: k.replace("mDME", "mDM!"), "not base64"),
    (lambda k: k + "-----BEGIN PGP PUBLIC KEY BLOCK-----\n", "last line"),
    (lambda k: k.replace("\n\n", "\nnot a header\n\n", 1), "neither an armour header"),
    (lambda k: "\n".join(k.split("\n")[:2] + k.split("\n")[-3:]), "no key data"),
    (lambda k: k.replace("-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP MESSAGE-----"),
     "first line"),
])
def test_broken_blocks_say_why(mangle: object, reason: str) -> None:
    assert callable(mangle)
    with pytest.raises(ArmorError, match=reason):
        canonical_public_key(mangle(KEY))


def test_crc24_matches_the_rfc_example_key() -> None:
    """The checksum GnuPG wrote into the fixture is the one we compute."""
    assert base64.b64encode(crc24(_packets(KEY)).to_bytes(3, "big")).decode() == "Rei4"


def test_a_key_too_big_for_nova_is_refused_in_preview() -> None:
    """A public key with a 60 kB user attribute packet still parses, but the user-data
    would pass Nova's 65535 base64 characters: refused, naming aptMirrorKey."""
    huge = 60_000
    attribute = bytes([0xC0 | 17, 255]) + huge.to_bytes(4, "big") + b"\0" * huge
    key = armor(_packets(KEY) + attribute)
    args = {**RECIPE_ARGS, "package_source": "mirror", "apt_mirror": "http://m/debian",
            "apt_mirror_key": key}
    with pytest.raises(VrrpPairConfigError,
                       match=rf"aptMirrorKey: .*over Nova's limit of {NOVA_USER_DATA_LIMIT}"):
        parse_settings("vrrp", args)
    smaller = armor(_packets(KEY) + bytes([0xC0 | 17, 255]) + (10_000).to_bytes(4, "big")
                    + b"\0" * 10_000)
    assert parse_settings("vrrp", {**args, "apt_mirror_key": smaller}).apt_mirror_key == smaller
