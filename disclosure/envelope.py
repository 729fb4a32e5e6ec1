"""The disclosure envelope: what leaves the TEE, travels through the relay and reaches the authority.

DESIGN.md "Disclosure envelope"; byte layout in docs/formats.md ("Disclosures").

The envelope is RFC 8785 JSON ``{v, disclosure_id, authority, authority_key_id, suite, seq,
created_at, log_index, ciphertext}``: routing fields in clear, never a category or a confidence.
Every clear field is also inside the signed statement and compared by the opener; the suite's
``info`` (:meth:`DisclosureEnvelope.binding_info`) additionally binds authority, key id, disclosure
id and suite into the HPKE key schedule.

The audit log records each disclosure as an entry of kind ``disclosure`` whose body is
:meth:`DisclosureEnvelope.audit_entry_body`: the envelope's SHA-256 and its routing ids only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from audit_log.formats import jcs
from disclosure.errors import DisclosureFormatError
from disclosure.keys import check_authority_id
from disclosure.statement import check_disclosure_id, check_key_id, check_timestamp, check_uint
from disclosure.suites import SuiteName, suite_name

ENVELOPE_VERSION = 1
#: Largest ciphertext accepted when parsing; real ones are 4,144 or 5,232 bytes.
MAX_CIPHERTEXT_SIZE = 65_536
MAX_ENVELOPE_BYTES = 2 * MAX_CIPHERTEXT_SIZE
INFO_PREFIX = b"veritee-disclosure/v1\x00"
FIELDS = frozenset(
    {
        "v",
        "disclosure_id",
        "authority",
        "authority_key_id",
        "suite",
        "seq",
        "created_at",
        "log_index",
        "ciphertext",
    }
)
#: Audit entry kind and outbox topic under which the gateway records and exports a disclosure.
ENTRY_KIND = "disclosure"
OUTBOX_TOPIC = "disclosure"


def sequence_state_key(authority: str) -> str:
    """The audit log state key holding an authority's last used sequence number."""
    return f"disclosure_seq/{check_authority_id(authority)}"


def binding_info(disclosure_id: str, authority: str, authority_key_id: str, suite: SuiteName) -> bytes:
    """The suite's ``info``: a domain string, 0x00, then JCS of the four addressing fields."""
    return INFO_PREFIX + jcs.canonicalize(
        {
            "authority": authority,
            "authority_key_id": authority_key_id,
            "disclosure_id": disclosure_id,
            "suite": str(suite),
        }
    )


@dataclass(frozen=True)
class DisclosureEnvelope:
    disclosure_id: str
    authority: str
    authority_key_id: str
    suite: SuiteName
    seq: int
    created_at: str
    log_index: int
    ciphertext: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_disclosure_id(self.disclosure_id)
        check_authority_id(self.authority)
        check_key_id(self.authority_key_id)
        check_uint(self.seq, "seq", minimum=1)
        check_timestamp(self.created_at, "created_at")
        check_uint(self.log_index, "log_index")
        if not 0 < len(self.ciphertext) <= MAX_CIPHERTEXT_SIZE:
            raise DisclosureFormatError(f"ciphertext must be 1 to {MAX_CIPHERTEXT_SIZE} bytes")

    def binding_info(self) -> bytes:
        return binding_info(self.disclosure_id, self.authority, self.authority_key_id, self.suite)

    def to_json(self) -> bytes:
        return self._canonical_json

    @cached_property
    def _canonical_json(self) -> bytes:
        return jcs.canonicalize(
            {
                "v": ENVELOPE_VERSION,
                "disclosure_id": self.disclosure_id,
                "authority": self.authority,
                "authority_key_id": self.authority_key_id,
                "suite": str(self.suite),
                "seq": self.seq,
                "created_at": self.created_at,
                "log_index": self.log_index,
                "ciphertext": base64.b64encode(self.ciphertext).decode(),
            }
        )

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the envelope's JCS bytes: what the audit entry commits to."""
        return hashlib.sha256(self.to_json()).hexdigest()

    def audit_entry_body(self) -> dict[str, jcs.JSONValue]:
        """Body of the ``disclosure`` audit entry: no category, no confidence, no statement hash."""
        return {
            "authority": self.authority,
            "disclosure_id": self.disclosure_id,
            "envelope_sha256": self.sha256,
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, data: bytes) -> DisclosureEnvelope:
        """Parse an envelope strictly; raises :class:`DisclosureFormatError` or ``UnknownSuite``."""
        if len(data) > MAX_ENVELOPE_BYTES:
            raise DisclosureFormatError(f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
        try:
            obj = jcs.parse_object(data)
        except ValueError as exc:
            raise DisclosureFormatError(f"envelope is not a JSON object: {exc}") from exc
        if set(obj) != FIELDS:
            raise DisclosureFormatError("envelope has missing or unknown fields")
        if obj["v"] != ENVELOPE_VERSION or isinstance(obj["v"], bool):
            raise DisclosureFormatError(f"envelope version must be {ENVELOPE_VERSION}")
        text = {name: obj[name] for name in ("authority", "suite", "ciphertext")}
        for name, value in text.items():
            if not isinstance(value, str):
                raise DisclosureFormatError(f"envelope {name} must be a string")
        ciphertext = str(text["ciphertext"])
        try:
            raw = base64.b64decode(ciphertext.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise DisclosureFormatError("envelope ciphertext is not valid base64") from exc
        return cls(
            disclosure_id=check_disclosure_id(obj["disclosure_id"]),
            authority=check_authority_id(str(text["authority"])),
            authority_key_id=check_key_id(obj["authority_key_id"]),
            suite=suite_name(str(text["suite"])),
            seq=check_uint(obj["seq"], "seq", minimum=1),
            created_at=check_timestamp(obj["created_at"], "created_at"),
            log_index=check_uint(obj["log_index"], "log_index"),
            ciphertext=raw,
        )
