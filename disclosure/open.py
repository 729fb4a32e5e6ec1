"""The authority's side, offline: open an envelope, check everything, return only what verified.

DESIGN.md "Disclosure envelope"; docs/formats.md ("Disclosures").

:meth:`DisclosureOpener.open` steps:

0. Parse the envelope strictly (bad input: :class:`DisclosureFormatError`, ``UnknownSuite``).
1. The envelope must be addressed to this key: authority, key id and suite
   (:class:`MisaddressedEnvelope`; checked before any decryption).
2. Decrypt with the suite, ``info`` rebuilt from the envelope (RFC 9180 §6.1 / ``crypto_box_seal``).
3. Unpad strictly to the DSSE bytes (ISO/IEC 7816-4, exactly 4,096 bytes).
   Steps 2-3 fail with the one opaque :class:`OpenError`.
4. Parse the DSSE envelope; refuse a ``sim:`` key id unless simulated disclosures are accepted
   (:class:`SimulatedDisclosure`).
5. Verify the one DSSE signature against the TEE's log key under the accepted modes' key ids
   (DSSE v1 PAE).
6. Parse the signed statement; its ``mode`` must match the key id's.
7. Compare every clear field of the envelope with the signed statement (binding), and the statement's
   addressing with this key. Steps 4-7 fail with :class:`ForgedDisclosure` (evidence, not an oracle).

:func:`verify_disclosure_inclusion` then checks, against a signed checkpoint, that the log holds the
``disclosure`` entry committing to this envelope (c2sp.org/tlog-proof@v1, RFC 9162 §2.1.3.2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_log import (
    AuditLogError,
    Checkpoint,
    CheckpointPolicy,
    Mode,
    Receipt,
    signing_key_id,
    verify_receipt,
)
from audit_log.formats import dsse, jcs
from disclosure.envelope import ENTRY_KIND, DisclosureEnvelope
from disclosure.errors import (
    DisclosureFormatError,
    ForgedDisclosure,
    MisaddressedEnvelope,
    NotInLog,
    SimulatedDisclosure,
)
from disclosure.keys import AuthorityPrivateKey
from disclosure.statement import PAYLOAD_TYPE, Statement, created_at_for, key_id_mode, unpad
from disclosure.suites import get_suite

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenedDisclosure:
    """A disclosure that decrypted, verified and is bound to its envelope."""

    envelope: DisclosureEnvelope
    statement: Statement
    #: The exact signed payload bytes (RFC 8785 JSON) that the signature covers.
    statement_json: bytes = field(repr=False)
    signer_key_id: str


@dataclass(frozen=True)
class DisclosureOpener:
    """Opens envelopes addressed to ``key`` and signed by the TEE log key ``tee_key``.

    Build it with :meth:`production` or, for demos and tests only, :meth:`unsafe_accept_simulated`.
    """

    key: AuthorityPrivateKey = field(repr=False)
    tee_key: Ed25519PublicKey = field(repr=False)
    accepted_modes: tuple[Mode, ...]

    def __post_init__(self) -> None:
        if Mode.PRODUCTION not in self.accepted_modes:
            raise DisclosureFormatError("an opener always accepts production disclosures")

    @classmethod
    def production(cls, key: AuthorityPrivateKey, tee_key: Ed25519PublicKey) -> DisclosureOpener:
        return cls(key, tee_key, (Mode.PRODUCTION,))

    @classmethod
    def unsafe_accept_simulated(cls, key: AuthorityPrivateKey, tee_key: Ed25519PublicKey) -> DisclosureOpener:
        """Also accept disclosures signed in simulated mode (no TEE behind them)."""
        return cls(key, tee_key, (Mode.PRODUCTION, Mode.SIMULATED))

    def open(self, data: bytes) -> OpenedDisclosure:
        # Step 0.
        envelope = DisclosureEnvelope.from_json(data)
        # Step 1.
        key = self.key
        if (envelope.authority, envelope.authority_key_id, envelope.suite) != (
            key.authority,
            key.key_id,
            key.suite,
        ):
            raise MisaddressedEnvelope(
                f"envelope is addressed to {envelope.authority} key {envelope.authority_key_id}; "
                f"this is {key.authority} key {key.key_id}"
            )
        # Steps 2 and 3 (opaque).
        padded = get_suite(envelope.suite).open(envelope.ciphertext, key.raw, envelope.binding_info())
        signed_bytes = unpad(padded)
        # Step 4.
        try:
            signed = dsse.Envelope.from_json(signed_bytes)
        except ValueError as exc:
            raise ForgedDisclosure("decrypted plaintext is not a DSSE envelope") from exc
        keyids = [s.keyid for s in signed.signatures]
        if (
            any(key_id_mode(k) is Mode.SIMULATED for k in keyids)
            and Mode.SIMULATED not in self.accepted_modes
        ):
            raise SimulatedDisclosure(
                "SIMULATED disclosure: signed by a simulated (non-TEE) deployment; "
                "a production opener refuses it"
            )
        # Step 5.
        trusted = {signing_key_id(self.tee_key, mode): self.tee_key for mode in self.accepted_modes}
        try:
            payload = dsse.verify(signed, PAYLOAD_TYPE, trusted)
        except AuditLogError as exc:
            raise ForgedDisclosure(f"statement signature does not verify: {exc}") from exc
        signer_key_id = keyids[0]
        # Step 6.
        try:
            statement = Statement.from_json(payload)
        except (DisclosureFormatError, ValueError) as exc:
            raise ForgedDisclosure(f"signed statement is malformed: {exc}") from exc
        key_mode = key_id_mode(signer_key_id)
        if statement.mode is not key_mode:
            raise ForgedDisclosure(f"statement says mode {statement.mode} but is signed by a {key_mode} key")
        if statement.mode is Mode.SIMULATED:
            logger.warning(
                "opened a SIMULATED disclosure %s: no TEE stands behind it", envelope.disclosure_id
            )
        # Step 7.
        _check_binding(envelope, statement)
        return OpenedDisclosure(envelope, statement, payload, signer_key_id)


def _check_binding(envelope: DisclosureEnvelope, statement: Statement) -> None:
    pairs = {
        "disclosure_id": (envelope.disclosure_id, statement.disclosure_id),
        "authority": (envelope.authority, statement.authority),
        "authority_key_id": (envelope.authority_key_id, statement.authority_key_id),
        "suite": (envelope.suite, statement.suite),
        "seq": (envelope.seq, statement.seq),
        "log_index": (envelope.log_index, statement.log_index),
        "created_at": (envelope.created_at, created_at_for(statement.timestamp)),
    }
    for name, (outer, signed) in pairs.items():
        if outer != signed:
            raise ForgedDisclosure(f"envelope {name} does not match the signed statement: re-addressed")


def verify_disclosure_inclusion(
    opened: OpenedDisclosure,
    receipt: Receipt,
    policy: CheckpointPolicy,
    pinned: Checkpoint | None = None,
) -> Checkpoint:
    """Check that the log holds this envelope's ``disclosure`` entry; returns the checkpoint.

    1. The receipt carries the entry bytes (``extra``), and its checkpoint verifies under
       ``policy`` with an inclusion proof for those bytes (``audit_log.receipt.verify_receipt``).
    2. The entry is of kind ``disclosure`` and its body is this envelope's
       :meth:`~DisclosureEnvelope.audit_entry_body` (envelope SHA-256, authority, seq, id).
    3. The entry comes after the verdict that triggered it (index > statement ``log_index``).
    4. With ``pinned``, the receipt's checkpoint is that very tree head (origin, size and root).
    """
    envelope = opened.envelope
    if receipt.extra is None:
        raise NotInLog("the receipt does not carry the disclosure entry bytes")
    try:
        checkpoint = verify_receipt(receipt, receipt.extra, policy)
        entry = jcs.parse_object(receipt.extra)
    except AuditLogError as exc:
        raise NotInLog(f"receipt does not verify: {exc}") from exc
    if entry.get("kind") != ENTRY_KIND or entry.get("body") != envelope.audit_entry_body():
        raise NotInLog(f"log entry {receipt.index} is not the disclosure entry of this envelope")
    if receipt.index <= opened.statement.log_index:
        raise NotInLog(
            f"log entry {receipt.index} does not come after verdict entry {opened.statement.log_index}"
        )
    if pinned is not None and (pinned.origin, pinned.size, pinned.root) != (
        checkpoint.origin,
        checkpoint.size,
        checkpoint.root,
    ):
        raise NotInLog(
            f"receipt is against checkpoint size {checkpoint.size}, not the pinned size {pinned.size}"
        )
    return checkpoint
