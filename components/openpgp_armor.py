"""Reads an ASCII-armoured OpenPGP public key block (RFC 4880, sections 4.2 and 6.2).

`aptMirrorKey` is written onto every member for apt to trust. Only a public key
block is accepted: the armour is decoded, its CRC-24 checked, its packets walked
(a secret key packet anywhere is refused), and the key is re-armoured from its
bytes. So the text that reaches the member is ours, not the user's: no headers,
comments or stray lines can ride along.
"""

from __future__ import annotations

import base64
import binascii
import re

BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
END = "-----END PGP PUBLIC KEY BLOCK-----"
_HEADER = re.compile(r"[A-Za-z][A-Za-z0-9-]*: [ -~]*")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_ARMOR_LINE = re.compile(r"-----(BEGIN|END) PGP ([A-Z ,0-9/]+)-----")

PUBLIC_KEY, PUBLIC_SUBKEY = 6, 14
SECRET_KEY, SECRET_SUBKEY = 5, 7
# What a transferable public key holds (RFC 4880 11.1, RFC 9580 10.1).
_ALLOWED_TAGS = {PUBLIC_KEY, PUBLIC_SUBKEY, 2, 12, 13, 17}
_LINE_LENGTH = 64


class ArmorError(ValueError):
    """The text is not one armoured OpenPGP public key block; says why."""


def crc24(data: bytes) -> int:
    """The armour checksum of RFC 4880 section 6.1."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def packet_tags(data: bytes) -> list[int]:
    """The tag of every packet in `data`; raises ArmorError on a malformed stream."""
    tags: list[int] = []
    offset = 0
    while offset < len(data):
        header = data[offset]
        if not header & 0x80:
            raise ArmorError(f"byte {offset} is not an OpenPGP packet header")
        if header & 0x40:  # new format
            tag = header & 0x3F
            if offset + 1 >= len(data):
                raise ArmorError("the key data ends inside a packet header")
            first = data[offset + 1]
            if first < 192:
                length, size = first, 1
            elif first < 224:
                if offset + 2 >= len(data):
                    raise ArmorError("the key data ends inside a packet header")
                length, size = ((first - 192) << 8) + data[offset + 2] + 192, 2
            elif first == 255:
                length, size = int.from_bytes(data[offset + 2:offset + 6], "big"), 5
            else:
                raise ArmorError("a key packet uses a partial body length")
        else:  # old format
            tag = (header >> 2) & 0x0F
            length_type = header & 0x03
            if length_type == 3:
                raise ArmorError("a key packet has an indeterminate length")
            size = 1 << length_type
            length = int.from_bytes(data[offset + 1:offset + 1 + size], "big")
        offset += 1 + size + length
        if offset > len(data):
            raise ArmorError("the key data ends inside a packet")
        tags.append(tag)
    return tags


def canonical_public_key(text: str) -> str:
    """The key block re-armoured from its decoded packets, or ArmorError."""
    lines = [line.rstrip(" \t") for line in text.replace("\r\n", "\n").strip().split("\n")]
    labels = [match.group(2) for line in lines if (match := _ARMOR_LINE.fullmatch(line))]
    if any("PRIVATE" in label or "SECRET" in label for label in labels):
        raise ArmorError("it is a private key block; give the mirror's public key")
    if lines[0] != BEGIN:
        raise ArmorError(f"expected the first line to be {BEGIN}")
    if lines[-1] != END:
        raise ArmorError(f"expected the last line to be {END}")
    if len(labels) != 2:
        raise ArmorError("expected exactly one armoured block")
    index = 1
    while index < len(lines) - 1 and lines[index]:
        if not _HEADER.fullmatch(lines[index]):
            raise ArmorError(f"line {index + 1} is neither an armour header nor the blank "
                             "line before the key data")
        index += 1
    body = lines[index + 1:-1]
    if index >= len(lines) - 1 or not body:
        raise ArmorError("no key data after the armour headers")
    checksum = body.pop()[1:] if body[-1].startswith("=") else None
    encoded = "".join(body)
    if not encoded:
        raise ArmorError("no key data after the armour headers")
    if not _BASE64.fullmatch(encoded):
        raise ArmorError("the key data is not base64")
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise ArmorError(f"the key data is not base64 ({error})") from None
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum, validate=True), "big")
        except binascii.Error:
            raise ArmorError("the armour checksum is not base64") from None
        if len(checksum) != 4 or crc24(data) != expected:
            raise ArmorError("the armour checksum does not match the key data")
    tags = packet_tags(data)
    if not tags or tags[0] != PUBLIC_KEY:
        raise ArmorError("the first packet is not a public key")
    if SECRET_KEY in tags or SECRET_SUBKEY in tags:
        raise ArmorError("it holds secret key material; give the mirror's public key")
    unexpected = sorted(set(tags) - _ALLOWED_TAGS)
    if unexpected:
        raise ArmorError(f"it holds packets a public key does not (tags {unexpected})")
    return armor(data)


def armor(data: bytes) -> str:
    """`data` as an armoured public key block, as GnuPG writes one."""
    encoded = base64.b64encode(data).decode()
    checksum = base64.b64encode(crc24(data).to_bytes(3, "big")).decode()
    body = [encoded[i:i + _LINE_LENGTH] for i in range(0, len(encoded), _LINE_LENGTH)]
    return "\n".join([BEGIN, "", *body, f"={checksum}", END]) + "\n"
