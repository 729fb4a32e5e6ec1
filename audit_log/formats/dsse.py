"""DSSE envelopes signed with Ed25519.

https://github.com/secure-systems-lab/dsse/blob/master/envelope.md

The signature covers PAE(payloadType, payload) =
``"DSSEv1" SP len(type) SP type SP len(payload) SP payload`` with decimal ASCII lengths.
The JSON envelope is ``{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}`` with standard
base64, serialised with RFC 8785 so that the same envelope always has the same bytes. Parsing also
accepts URL-safe and unpadded base64, as the DSSE protocol requires of verifiers; ``keyid`` is
required, because :func:`verify` selects the key by it.

:func:`verify` requires exactly one signature, by a trusted key id, and returns the payload bytes that
signature covers: callers parse only what verified.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit_log.errors import FormatError, VerificationError
from audit_log.formats import jcs


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    encoded_type = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(encoded_type), encoded_type, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> bytes:
        return jcs.canonicalize(
            {
                "payload": base64.b64encode(self.payload).decode(),
                "payloadType": self.payload_type,
                "signatures": [
                    {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in self.signatures
                ],
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        return cls.from_dict(jcs.parse_object(data))

    @classmethod
    def from_dict(cls, obj: Mapping[str, object]) -> Envelope:
        payload_type, payload, signatures = (
            obj.get("payloadType"),
            obj.get("payload"),
            obj.get("signatures"),
        )
        if not isinstance(payload_type, str) or not isinstance(payload, str):
            raise FormatError("DSSE envelope needs string payloadType and payload")
        if not isinstance(signatures, list):
            raise FormatError("DSSE envelope needs a signatures list")
        parsed = []
        for entry in signatures:
            if not isinstance(entry, dict):
                raise FormatError("DSSE signature must be an object")
            keyid, sig = entry.get("keyid"), entry.get("sig")
            if not isinstance(keyid, str) or not isinstance(sig, str):
                raise FormatError("DSSE signature needs string keyid and sig")
            parsed.append(Signature(keyid, _b64(sig, "DSSE signature")))
        return cls(payload_type, _b64(payload, "DSSE payload"), tuple(parsed))


def _b64(text: str, what: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not: DSSE verifiers MUST accept either alphabet."""
    url_safe = "-" in text or "_" in text
    if url_safe and ("+" in text or "/" in text):
        raise FormatError(f"{what} mixes the standard and URL-safe base64 alphabets")
    if "=" not in text:
        text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text.encode("ascii"), altchars=b"-_" if url_safe else None, validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise FormatError(f"{what} is not valid base64") from exc


def sign(payload_type: str, payload: bytes, keyid: str, private_key: Ed25519PrivateKey) -> Envelope:
    """Sign ``payload`` under ``payload_type`` with one Ed25519 key."""
    return Envelope(payload_type, payload, (Signature(keyid, private_key.sign(pae(payload_type, payload))),))


def verify(envelope: Envelope, payload_type: str, trusted: Mapping[str, Ed25519PublicKey]) -> bytes:
    """Return the payload if ``envelope`` carries exactly one valid signature by a trusted key.

    Raises :class:`VerificationError` for a wrong payload type, a signature count other than one,
    an unknown key id or a bad signature.
    """
    if envelope.payload_type != payload_type:
        raise VerificationError(f"DSSE payloadType is {envelope.payload_type!r}, expected {payload_type!r}")
    if len(envelope.signatures) != 1:
        raise VerificationError(
            f"DSSE envelope has {len(envelope.signatures)} signatures, expected exactly 1"
        )
    (signature,) = envelope.signatures
    key = trusted.get(signature.keyid)
    if key is None:
        raise VerificationError(f"DSSE signature by untrusted key id {signature.keyid}")
    try:
        key.verify(signature.sig, pae(envelope.payload_type, envelope.payload))
    except InvalidSignature as exc:
        raise VerificationError(f"DSSE signature by {signature.keyid} does not verify") from exc
    return envelope.payload
