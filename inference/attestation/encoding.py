"""Byte encodings of the attestation formats (docs/formats.md, "Attestation document").

Digests, keys, nonces and measurement registers are lowercase hex of a fixed length; the quote is
standard padded base64 (RFC 4648 §4). Parsers accept exactly that and nothing looser, so one value
has one spelling.
"""

from __future__ import annotations

import base64
import binascii
import re

from inference.attestation.errors import AttestationFormatError

_LOWER_HEX = re.compile(r"[0-9a-f]*")


def parse_hex(value: object, size: int, what: str) -> bytes:
    """Decode ``size`` bytes written as ``2 * size`` lowercase hex digits."""
    if not isinstance(value, str) or len(value) != 2 * size or not _LOWER_HEX.fullmatch(value):
        raise AttestationFormatError(f"{what} must be {2 * size} lowercase hex digits")
    return bytes.fromhex(value)


def parse_base64(value: object, what: str, max_bytes: int) -> bytes:
    """Decode standard padded base64 of at most ``max_bytes`` bytes."""
    if not isinstance(value, str):
        raise AttestationFormatError(f"{what} must be a base64 string")
    if len(value) > 4 * ((max_bytes + 2) // 3):
        raise AttestationFormatError(f"{what} is longer than {max_bytes} bytes")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise AttestationFormatError(f"{what} is not valid base64") from exc


def to_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
