"""Keyed session-id hashes: the statement's ``session_id_hash``.

A plain hash of a session id could be confirmed by anyone who guesses the id, and the same hash sent
to two authorities would let them link their disclosures. So each authority gets its own HMAC key,
derived inside the TEE from one TEE-held secret:

    key_a           = HKDF-SHA256(ikm = secret, salt = none,
                                  info = "veritee-disclosure-session/v1" 0x00 ‖ a, length = 32)
    session_id_hash = hex(HMAC-SHA256(key_a, UTF-8(session id)))

(RFC 5869, RFC 2104.) Only the TEE can recompute it; an authority can only see that two of *its*
disclosures came from the same session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from disclosure.errors import DisclosureFormatError
from disclosure.keys import check_authority_id

MIN_SECRET_SIZE = 32
INFO_PREFIX = b"veritee-disclosure-session/v1\x00"
MAX_SESSION_ID_BYTES = 1024


@dataclass(frozen=True)
class SessionHasher:
    """Computes per-authority keyed hashes of session ids from one TEE-held secret."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_SIZE:
            raise DisclosureFormatError(f"the session secret must be at least {MIN_SECRET_SIZE} bytes")

    def authority_key(self, authority: str) -> bytes:
        info = INFO_PREFIX + check_authority_id(authority).encode("ascii")
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self.secret)

    def session_id_hash(self, authority: str, session_id: str) -> str:
        try:
            encoded = session_id.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DisclosureFormatError("a session id must be valid Unicode text") from exc
        if not encoded or len(encoded) > MAX_SESSION_ID_BYTES:
            raise DisclosureFormatError(f"a session id is 1 to {MAX_SESSION_ID_BYTES} UTF-8 bytes")
        return hmac.new(self.authority_key(authority), encoded, hashlib.sha256).hexdigest()
