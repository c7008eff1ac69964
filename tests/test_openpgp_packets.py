"""The OpenPGP reader without GnuPG: packet headers built byte by byte (RFC 4880 4.2), every
length form and where each one turns, the armour's edge cases, and the exact reasons given.
A wrong length would make the walk skip into the middle of a packet (and maybe let a secret
key packet through), so each case follows one packet with another and checks both tags."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from vrrp_pair.openpgp_armor import ArmorError, armor, canonical_public_key, crc24, packet_tags

KEY = (Path(__file__).parent / "data" / "mirror-key.asc").read_text()
BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
END = "-----END PGP PUBLIC KEY BLOCK-----"
USER_ID = bytes([0xC0 | 13, 2]) + b"me"  # a new-format user ID packet, 2 bytes


def _packets(armored: str) -> bytes:
    return base64.b64decode("".join(armored.strip().split("\n")[2:-2]))


def _reason(text: str) -> str:
    with pytest.raises(ArmorError) as error:
        canonical_public_key(text)
    return str(error.value)


def _tags_error(data: bytes) -> str:
    with pytest.raises(ArmorError) as error:
        packet_tags(data)
    return str(error.value)


def test_crc24_of_the_standard_check_string_and_of_nothing() -> None:
    # CRC-24/OPENPGP's check value (the CRC catalogue), and its initial value for no data
    assert crc24(b"123456789") == 0x21CF02
    assert crc24(b"") == 0xB704CE


@pytest.mark.parametrize("header,length_bytes", [
    (0x98, b"\x05"),  # old format, tag 6, one length byte
    (0x99, b"\x00\x05"),  # two length bytes
    (0x9A, b"\x00\x00\x00\x05"),  # four length bytes
], ids=["old-1", "old-2", "old-4"])
def test_old_format_lengths(header: int, length_bytes: bytes) -> None:
    assert packet_tags(bytes([header]) + length_bytes + b"12345" + USER_ID) == [6, 13]


def test_old_format_tags_are_bits_2_to_5() -> None:
    # tag 14 (public subkey): 0x80 | 14 << 2 = 0xB8; tag 2 (signature): 0x88
    assert packet_tags(bytes([0xB8, 1, 0, 0x88, 0]) + USER_ID) == [14, 2, 13]


def test_old_format_indeterminate_length_is_refused() -> None:
    assert _tags_error(bytes([0x9B, 0, 0])) == "a key packet has an indeterminate length"


@pytest.mark.parametrize("length,encoded", [
    (0, b"\x00"),
    (191, b"\xbf"),  # the largest one-byte length
    (192, b"\xc0\x00"),  # the smallest two-byte length
    (1000, b"\xc3\x28"),  # ((0xC3 - 192) << 8) + 0x28 + 192
    (8383, b"\xdf\xff"),  # the largest two-byte length
    (300, b"\xff\x00\x00\x01\x2c"),  # five bytes: 0xFF and a 32-bit length
], ids=["0", "191", "192", "1000", "8383", "five-byte"])
def test_new_format_lengths(length: int, encoded: bytes) -> None:
    data = bytes([0xC0 | 6]) + encoded + b"\0" * length + USER_ID
    assert packet_tags(data) == [6, 13]


@pytest.mark.parametrize("first", [224, 240, 254])
def test_new_format_partial_lengths_are_refused(first: int) -> None:
    assert (_tags_error(bytes([0xC6, first]) + b"\0" * 300)
            == "a key packet uses a partial body length")


def test_new_format_tags_are_the_low_six_bits() -> None:
    assert packet_tags(bytes([0xC0 | 17, 0, 0xC0 | 14, 0, 0xC0 | 2, 0])) == [17, 14, 2]


def test_a_byte_without_the_header_bit_is_named_by_its_offset() -> None:
    assert _tags_error(b"\x06") == "byte 0 is not an OpenPGP packet header"
    assert _tags_error(USER_ID + b"\x7f") == "byte 4 is not an OpenPGP packet header"


@pytest.mark.parametrize("data", [
    bytes([0xC6]),  # a new-format header and nothing after it
    USER_ID + bytes([0xC6]),
    bytes([0xC6, 0xC5]),  # a two-byte length cut after its first byte
], ids=["alone", "after-a-packet", "two-byte-cut"])
def test_data_ending_inside_a_header_is_refused(data: bytes) -> None:
    assert _tags_error(data) == "the key data ends inside a packet header"


@pytest.mark.parametrize("data", [
    bytes([0xC6, 3]) + b"ab",  # one byte short
    bytes([0x98, 3]) + b"ab",
    bytes([0xC6, 0xC0, 0x00]) + b"\0" * 191,  # a two-byte length of 192, 191 there
    bytes([0xC6, 0xC0, 0x00]),  # the header whole, its body missing
    bytes([0xC6, 0xFF, 0x01, 0x00, 0x00, 0x00]),  # 16 MiB said: all four length bytes count
], ids=["new", "old", "two-byte", "two-byte-no-body", "five-byte-high"])
def test_data_ending_inside_a_packet_is_refused(data: bytes) -> None:
    assert _tags_error(data) == "the key data ends inside a packet"


def test_a_packet_ending_exactly_at_the_end_is_whole() -> None:
    assert packet_tags(bytes([0xC6, 3]) + b"abc") == [6]
    assert packet_tags(b"") == []


def test_armor_is_gnupg_s_layout() -> None:
    data = bytes(range(100))  # 136 base64 characters: lines of 64, 64 and 8
    text = armor(data)
    lines = text.split("\n")
    assert lines[0] == BEGIN and lines[1] == "" and lines[-2] == END and lines[-1] == ""
    assert [len(line) for line in lines[2:5]] == [64, 64, 8]
    assert "".join(lines[2:5]) == base64.b64encode(data).decode()
    assert lines[5] == "=" + base64.b64encode(crc24(data).to_bytes(3, "big")).decode()
    assert len(lines) == 8


def test_the_fixture_key_is_rewritten_unchanged() -> None:
    assert canonical_public_key(KEY) == KEY
    assert armor(_packets(KEY)) == KEY


def test_a_block_without_a_checksum_line_is_read_and_gets_one() -> None:
    lines = KEY.strip().split("\n")
    without = "\n".join(lines[:-2] + lines[-1:])
    assert "=Rei4" not in without
    assert canonical_public_key(without) == KEY


def test_trailing_blanks_and_tabs_on_lines_are_ignored() -> None:
    spaced = "\n".join(line + " \t" for line in KEY.strip().split("\n"))
    assert canonical_public_key(spaced) == KEY


def test_two_blocks_are_refused() -> None:
    assert _reason(KEY + KEY) == "expected exactly one armoured block"


@pytest.mark.parametrize("label", ["PRIVATE KEY BLOCK", "SECRET KEY BLOCK"])
def test_a_private_or_secret_label_anywhere_is_refused(label: str) -> None:
    assert (_reason(KEY.replace(END, f"-----END PGP {label}-----"))
            == "it is a private key block; give the mirror's public key")


def test_the_first_and_last_lines_are_named() -> None:
    assert _reason("x\n" + KEY) == f"expected the first line to be {BEGIN}"
    assert _reason(KEY + "x\n") == f"expected the last line to be {END}"


@pytest.mark.parametrize("header", ["NoColon", "1Version: x", "Version:x", "Version: \x01"])
def test_a_line_that_is_no_armour_header_is_named_by_its_number(header: str) -> None:
    lines = KEY.strip().split("\n")
    text = "\n".join([lines[0], "Version: ok", header, *lines[1:]])
    assert _reason(text) == ("line 3 is neither an armour header nor the blank line before "
                             "the key data")


def test_a_lone_line_that_is_no_header_is_named() -> None:
    assert _reason(f"{BEGIN}\nnot a header\n{END}\n") == (
        "line 2 is neither an armour header nor the blank line before the key data")


def test_headers_may_hold_dashes_digits_and_any_printable_text() -> None:
    lines = KEY.strip().split("\n")
    text = "\n".join([lines[0], "X-Key-2: a ~!@#$%^&*() z", "Comment:  two  spaces", *lines[1:]])
    assert canonical_public_key(text) == KEY


@pytest.mark.parametrize("text", [
    f"{BEGIN}\n{END}\n",  # nothing at all
    f"{BEGIN}\n\n{END}\n",  # the blank line, then nothing
    f"{BEGIN}\nVersion: 1\n{END}\n",  # headers, no blank line, no data
    f"{BEGIN}\n\n=Rei4\n{END}\n",  # a checksum and no data
], ids=["empty", "blank-only", "headers-only", "checksum-only"])
def test_no_key_data_is_refused(text: str) -> None:
    assert _reason(text) == "no key data after the armour headers"


def test_data_that_is_not_base64_is_refused() -> None:
    assert _reason(KEY.replace("mDME", "mD-E")) == "the key data is not base64"
    # base64 characters, but padding in the middle
    lines = KEY.strip().split("\n")
    broken = "\n".join([*lines[:2], "mDM=", *lines[2:]])
    assert _reason(broken) == "the key data is not base64"
    # base64 characters of a length no bytes have
    cut = "\n".join([*lines[:2], "mDM", *lines[2:]])
    assert _reason(cut).startswith("the key data is not base64 (")


def test_a_checksum_that_is_not_base64_or_not_four_characters_is_refused() -> None:
    assert _reason(KEY.replace("=Rei4", "=Re!4")) == "the armour checksum is not base64"
    # a character outside base64 is an error, not skipped (it would leave a right "Rei4")
    assert _reason(KEY.replace("=Rei4", "=Rei4*")) == "the armour checksum is not base64"
    assert (_reason(KEY.replace("=Rei4", "=AABBCCDD"))
            == "the armour checksum does not match the key data")
    # the right value with three leading zero bytes: still not the armour's four characters
    assert (_reason(KEY.replace("=Rei4", "=AAAARei4"))
            == "the armour checksum does not match the key data")


def test_the_first_packet_must_be_a_public_key() -> None:
    data = _packets(KEY)
    assert _reason(armor(USER_ID + data)) == "the first packet is not a public key"
    assert _reason(armor(b"")) == "no key data after the armour headers"


@pytest.mark.parametrize("tag", [5, 7])
def test_secret_key_packets_after_the_public_key_are_refused(tag: int) -> None:
    data = _packets(KEY) + bytes([0xC0 | tag, 1, 0])
    assert (_reason(armor(data))
            == "it holds secret key material; give the mirror's public key")


def test_packets_a_public_key_does_not_hold_are_listed() -> None:
    data = _packets(KEY) + bytes([0xC0 | 3, 0, 0xC0 | 1, 0, 0xC0 | 3, 0])
    assert _reason(armor(data)) == "it holds packets a public key does not (tags [1, 3])"


def test_every_packet_a_transferable_public_key_holds_is_allowed() -> None:
    extra = b"".join(bytes([0xC0 | tag, 0]) for tag in (14, 2, 12, 13, 17))
    assert canonical_public_key(armor(_packets(KEY) + extra)) == armor(_packets(KEY) + extra)
