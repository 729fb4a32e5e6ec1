"""Inside the TEE: build the statement, sign it, pad it, seal it to the authority.

DESIGN.md "Disclosure envelope"; docs/formats.md ("Disclosures").

Steps of :func:`seal_disclosure`:

1. Build the :class:`~disclosure.statement.Statement` from the trigger and the verdict's context
   (``session_id_hash`` keyed per authority, ``content_hash`` for CSAM only).
2. Sign its JCS bytes as DSSE (payloadType ``application/vnd.veritee.disclosure.v1+json``) with the
   log key; the key id's ``sim:`` prefix must agree with the statement's ``mode``.
3. Pad the DSSE envelope's JCS bytes to 4,096 bytes (refuse if it does not fit).
4. Seal to the authority's policy key, with the envelope's addressing fields as ``info``.

The function is pure apart from the suite's randomness: it takes a signing function and values, and
returns the envelope bytes and the audit entry body. The gateway appends that body as a
``disclosure`` entry together with the envelope as an outbox row and the new sequence number, in one
transaction, after the triggering verdict is durable (its index is ``log_index``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_log import Mode, signing_key_id
from audit_log.formats import dsse, jcs
from disclosure.envelope import DisclosureEnvelope, binding_info, sequence_state_key
from disclosure.errors import DisclosureFormatError, SealError
from disclosure.session import SessionHasher
from disclosure.statement import (
    PAYLOAD_TYPE,
    Statement,
    created_at_for,
    format_timestamp,
    key_id_mode,
    pad,
)
from disclosure.suites import get_suite
from disclosure.triggers import DisclosureTrigger


class DsseSigner(Protocol):
    """Signs a payload as a one-signature DSSE envelope with the TEE's log key."""

    def __call__(self, payload_type: str, payload: bytes) -> dsse.Envelope: ...


@dataclass(frozen=True)
class Ed25519DsseSigner:
    """A :class:`DsseSigner` over an Ed25519 key held in process (the key id carries the mode)."""

    private_key: Ed25519PrivateKey = field(repr=False)
    mode: Mode

    def __call__(self, payload_type: str, payload: bytes) -> dsse.Envelope:
        keyid = signing_key_id(self.private_key.public_key(), self.mode)
        return dsse.sign(payload_type, payload, keyid, self.private_key)


@dataclass(frozen=True)
class DisclosureContext:
    """What the gateway knows about the verdict that triggered the disclosure."""

    log_index: int
    session_id: str = field(repr=False)
    content_sha256: str | None = field(repr=False)
    policy_version: str
    attestation_sha256: str
    mode: Mode
    at: datetime


@dataclass(frozen=True)
class SealedDisclosure:
    """A sealed disclosure, ready to be recorded and exported."""

    envelope: DisclosureEnvelope
    envelope_bytes: bytes = field(repr=False)

    @property
    def audit_entry_body(self) -> dict[str, jcs.JSONValue]:
        return self.envelope.audit_entry_body()

    @property
    def sequence_state_key(self) -> str:
        return sequence_state_key(self.envelope.authority)


def new_disclosure_id() -> str:
    return secrets.token_hex(16)


def seal_disclosure(
    trigger: DisclosureTrigger,
    *,
    seq: int,
    context: DisclosureContext,
    sessions: SessionHasher,
    signer: DsseSigner,
    disclosure_id: str | None = None,
) -> SealedDisclosure:
    """Sign and seal one disclosure; raises :class:`SealError` on any problem (fail closed)."""
    authority = trigger.authority
    suite = get_suite(authority.suite)
    try:
        # Step 1: the statement; its constructor checks every field.
        timestamp = format_timestamp(context.at)
        statement = Statement(
            disclosure_id=disclosure_id or new_disclosure_id(),
            authority=authority.id,
            authority_key_id=authority.key_id,
            suite=authority.suite,
            seq=seq,
            risk_category=trigger.risk_category,
            confidence=trigger.confidence,
            session_id_hash=sessions.session_id_hash(authority.id, context.session_id),
            content_hash=context.content_sha256 if trigger.include_content_hash else None,
            policy_version=context.policy_version,
            timestamp=timestamp,
            log_index=context.log_index,
            attestation_sha256=context.attestation_sha256,
            mode=context.mode,
        )
    except DisclosureFormatError as exc:
        raise SealError(f"cannot build the disclosure statement: {exc}") from exc
    # Step 2: sign; a simulated key must never sign a production statement, nor the reverse.
    signed = signer(PAYLOAD_TYPE, statement.to_json())
    if len(signed.signatures) != 1:
        raise SealError("the log key signer must return exactly one signature")
    if key_id_mode(signed.signatures[0].keyid) is not context.mode:
        raise SealError(f"signing key id does not match mode {context.mode}")
    # Step 3: fixed-size plaintext.
    padded = pad(signed.to_json())
    # Step 4: seal, binding the addressing fields.
    info = binding_info(statement.disclosure_id, authority.id, authority.key_id, authority.suite)
    ciphertext = suite.seal(padded, authority.public_key.raw, info)
    if len(ciphertext) != suite.ciphertext_size(len(padded)):
        raise SealError("ciphertext has an unexpected size")
    envelope = DisclosureEnvelope(
        disclosure_id=statement.disclosure_id,
        authority=authority.id,
        authority_key_id=authority.key_id,
        suite=authority.suite,
        seq=seq,
        created_at=created_at_for(timestamp),
        log_index=context.log_index,
        ciphertext=ciphertext,
    )
    return SealedDisclosure(envelope, envelope.to_json())
