"""The disclosure statement: the signed plaintext an authority reads, and its fixed-size padding.

DESIGN.md "Disclosure envelope"; byte layout in docs/formats.md ("Disclosures").

The statement is an RFC 8785 JSON object, signed as a DSSE envelope (payloadType
:data:`PAYLOAD_TYPE`) with the TEE's Ed25519 log key. The DSSE envelope's JCS bytes are padded to
exactly :data:`PADDED_SIZE` bytes with ISO/IEC 7816-4 padding (libsodium ``sodium_pad``: one 0x80
byte, then zeros), so every sealed plaintext has the same length whatever it says; a signed
statement of ``PADDED_SIZE`` bytes or more is refused rather than sent in a longer envelope.

Besides DESIGN's fields the statement carries ``suite`` and ``seq`` (so that every addressing field
of the outer envelope is also signed) and ``mode`` (a simulated disclosure never passes for a
production one).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from audit_log import Mode
from audit_log.formats import jcs
from disclosure.errors import DisclosureFormatError, OpenError, SealError
from disclosure.keys import KEY_ID_PATTERN, check_authority_id
from disclosure.suites import SuiteName, suite_name

PAYLOAD_TYPE = "application/vnd.veritee.disclosure.v1+json"
PADDED_SIZE = 4096
PAD_MARKER = 0x80

#: The only category whose statement carries ``content_hash`` (DESIGN: "content_hash (CSAM only)").
CSAM_CATEGORY = "csam"

CATEGORY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
DISCLOSURE_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
SHA256_HEX_PATTERN = re.compile(r"[0-9a-f]{64}")
TIMESTAMP_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: DESIGN.md: key ids of simulated deployments carry this prefix (the format fact behind
#: ``audit_log.signing_key_id``; a unit test pins that the two agree).
SIMULATED_KEY_ID_PREFIX = "sim:"
MAX_POLICY_VERSION_CHARS = 128

FIELDS = frozenset(
    {
        "disclosure_id",
        "authority",
        "authority_key_id",
        "suite",
        "seq",
        "risk_category",
        "confidence",
        "session_id_hash",
        "policy_version",
        "timestamp",
        "log_index",
        "attestation_sha256",
        "mode",
    }
)
OPTIONAL_FIELDS = frozenset({"content_hash"})


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise DisclosureFormatError(message)


def check_uint(value: object, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= jcs.MAX_SAFE_INTEGER:
        raise DisclosureFormatError(f"{what} must be an integer in [{minimum}, 2^53-1]")
    return value


def check_pattern(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise DisclosureFormatError(f"{what} is malformed")
    return value


def check_disclosure_id(value: object) -> str:
    return check_pattern(value, DISCLOSURE_ID_PATTERN, "disclosure id")


def check_key_id(value: object) -> str:
    return check_pattern(value, KEY_ID_PATTERN, "authority key id")


def check_category(value: object) -> str:
    return check_pattern(value, CATEGORY_PATTERN, "risk category")


def check_timestamp(value: object, what: str = "timestamp") -> str:
    text = check_pattern(value, TIMESTAMP_PATTERN, what)
    try:
        datetime.fromisoformat(text)  # The pattern fixed the shape; this checks the calendar.
    except ValueError as exc:
        raise DisclosureFormatError(f"{what} is not a valid date and time") from exc
    return text


def key_id_mode(keyid: str) -> Mode:
    """The mode a DSSE key id claims: ``sim:``-prefixed ids are simulated (``audit_log.signing_key_id``)."""
    return Mode.SIMULATED if keyid.startswith(SIMULATED_KEY_ID_PREFIX) else Mode.PRODUCTION


def format_timestamp(at: datetime) -> str:
    """RFC 3339 UTC to the second, e.g. ``2026-01-01T12:34:56Z``; ``at`` must be timezone-aware."""
    if at.tzinfo is None:
        raise DisclosureFormatError("timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def created_at_for(timestamp: str) -> str:
    """The envelope's clear ``created_at``: the statement's timestamp rounded down to the minute."""
    return check_timestamp(timestamp)[: len("YYYY-MM-DDTHH:MM")] + ":00Z"


@dataclass(frozen=True)
class Statement:
    """A disclosure statement whose constructor enforces every field's shape."""

    disclosure_id: str
    authority: str
    authority_key_id: str
    suite: SuiteName
    seq: int
    risk_category: str
    confidence: float
    session_id_hash: str
    content_hash: str | None
    policy_version: str
    timestamp: str
    log_index: int
    attestation_sha256: str
    mode: Mode

    def __post_init__(self) -> None:
        check_disclosure_id(self.disclosure_id)
        check_authority_id(self.authority)
        check_key_id(self.authority_key_id)
        _check(self.authority_key_id.startswith(f"{self.suite}:"), "authority key id is for another suite")
        check_uint(self.seq, "seq", minimum=1)
        check_category(self.risk_category)
        _check(
            isinstance(self.confidence, float)
            and math.isfinite(self.confidence)
            and 0 <= self.confidence <= 1,
            "confidence must be a number in [0, 1]",
        )
        check_pattern(self.session_id_hash, SHA256_HEX_PATTERN, "session_id_hash")
        check_pattern(self.attestation_sha256, SHA256_HEX_PATTERN, "attestation_sha256")
        if self.risk_category == CSAM_CATEGORY:
            check_pattern(self.content_hash, SHA256_HEX_PATTERN, "content_hash of a csam statement")
        else:
            _check(self.content_hash is None, "only a csam statement carries a content hash")
        _check(
            isinstance(self.policy_version, str)
            and 0 < len(self.policy_version) <= MAX_POLICY_VERSION_CHARS
            and self.policy_version.isprintable(),
            f"policy version must be 1-{MAX_POLICY_VERSION_CHARS} printable characters",
        )
        check_timestamp(self.timestamp)
        check_uint(self.log_index, "log_index")
        _check(isinstance(self.mode, Mode), "mode must be production or simulated")

    def to_dict(self) -> dict[str, jcs.JSONValue]:
        obj: dict[str, jcs.JSONValue] = {
            "disclosure_id": self.disclosure_id,
            "authority": self.authority,
            "authority_key_id": self.authority_key_id,
            "suite": str(self.suite),
            "seq": self.seq,
            "risk_category": self.risk_category,
            "confidence": self.confidence,
            "session_id_hash": self.session_id_hash,
            "policy_version": self.policy_version,
            "timestamp": self.timestamp,
            "log_index": self.log_index,
            "attestation_sha256": self.attestation_sha256,
            "mode": str(self.mode),
        }
        if self.content_hash is not None:
            obj["content_hash"] = self.content_hash
        return obj

    def to_json(self) -> bytes:
        return jcs.canonicalize(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes) -> Statement:
        """Parse a statement strictly: exactly the known fields, each of the right shape."""
        obj = jcs.parse_object(data)
        keys = set(obj)
        _check(FIELDS <= keys <= FIELDS | OPTIONAL_FIELDS, "statement has missing or unknown fields")
        confidence = obj["confidence"]
        # JCS writes 1.0 as 1, so a whole-number confidence comes back as an int.
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise DisclosureFormatError("confidence must be a number")
        mode, content_hash = _str(obj, "mode"), obj.get("content_hash")
        _check(mode in set(Mode), "mode must be production or simulated")
        _check(content_hash is None or isinstance(content_hash, str), "content hash must be a string")
        return cls(
            disclosure_id=_str(obj, "disclosure_id"),
            authority=_str(obj, "authority"),
            authority_key_id=_str(obj, "authority_key_id"),
            suite=suite_name(_str(obj, "suite")),
            seq=check_uint(obj["seq"], "seq", minimum=1),
            risk_category=_str(obj, "risk_category"),
            confidence=float(confidence),
            session_id_hash=_str(obj, "session_id_hash"),
            content_hash=content_hash if isinstance(content_hash, str) else None,
            policy_version=_str(obj, "policy_version"),
            timestamp=_str(obj, "timestamp"),
            log_index=check_uint(obj["log_index"], "log_index"),
            attestation_sha256=_str(obj, "attestation_sha256"),
            mode=Mode(mode),
        )


def _str(obj: dict[str, object], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise DisclosureFormatError(f"{name} must be a string")
    return value


def pad(data: bytes, size: int = PADDED_SIZE) -> bytes:
    """ISO/IEC 7816-4 padding to exactly ``size`` bytes (``sodium_pad`` with block size ``size``).

    At least one byte is always added, so ``data`` must be shorter than ``size``; otherwise the
    TEE refuses to seal (a longer envelope would reveal that this statement is unusual).
    """
    if len(data) >= size:
        raise SealError(f"signed statement is {len(data)} bytes; it must be under {size} to be padded")
    return data + bytes([PAD_MARKER]) + bytes(size - len(data) - 1)


def unpad(padded: bytes, size: int = PADDED_SIZE) -> bytes:
    """Strict inverse of :func:`pad`; any deviation raises the opaque :class:`OpenError`."""
    if len(padded) != size:
        raise OpenError
    body = padded.rstrip(b"\x00")
    if not body or body[-1] != PAD_MARKER:
        raise OpenError
    return body[:-1]
