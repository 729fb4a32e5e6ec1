"""Mandatory disclosures: signed in the TEE, sealed to the authority, opened only there.

DESIGN.md "Disclosure envelope"; formats in docs/formats.md ("Disclosures"); decisions in
docs/adr/0003-disclosure-sealing.md. A bottom layer: it imports only ``audit_log``'s formats and
proof types.

In the TEE: :func:`disclosures_for` (which disclosures a verdict requires) then
:func:`seal_disclosure` (statement → DSSE → pad → seal). At the authority:
:class:`DisclosureOpener`, :class:`SequenceState` and :func:`verify_disclosure_inclusion`.
"""

from disclosure.authority import AuthorityCheck, check_disclosure
from disclosure.envelope import ENTRY_KIND, OUTBOX_TOPIC, DisclosureEnvelope, sequence_state_key
from disclosure.errors import (
    DisclosureError,
    DisclosureFormatError,
    DisclosureVerificationError,
    ForgedDisclosure,
    KeyFileError,
    MisaddressedEnvelope,
    NotInLog,
    OpenError,
    PolicyError,
    ReplayedDisclosure,
    SealError,
    SequenceError,
    SequenceGap,
    SimulatedDisclosure,
    UnknownSuite,
    WrongPassphrase,
)
from disclosure.keys import AuthorityPrivateKey, AuthorityPublicKey, authority_key_id, policy_entry_toml
from disclosure.open import DisclosureOpener, OpenedDisclosure, verify_disclosure_inclusion
from disclosure.policy import MIN_DISCLOSURE_THRESHOLD, Authority, DisclosurePolicy, DisclosureRule
from disclosure.seal import (
    DisclosureContext,
    DsseSigner,
    Ed25519DsseSigner,
    SealedDisclosure,
    seal_disclosure,
)
from disclosure.sequence import SequenceState, format_state, parse_state, stream_id
from disclosure.session import SessionHasher
from disclosure.statement import CSAM_CATEGORY, PADDED_SIZE, PAYLOAD_TYPE, Statement
from disclosure.suites import SuiteName
from disclosure.triggers import DisclosureTrigger, disclosures_for

__all__ = [
    "CSAM_CATEGORY",
    "ENTRY_KIND",
    "MIN_DISCLOSURE_THRESHOLD",
    "OUTBOX_TOPIC",
    "PADDED_SIZE",
    "PAYLOAD_TYPE",
    "Authority",
    "AuthorityCheck",
    "AuthorityPrivateKey",
    "AuthorityPublicKey",
    "DisclosureContext",
    "DisclosureEnvelope",
    "DisclosureError",
    "DisclosureFormatError",
    "DisclosureOpener",
    "DisclosurePolicy",
    "DisclosureRule",
    "DisclosureTrigger",
    "DisclosureVerificationError",
    "DsseSigner",
    "Ed25519DsseSigner",
    "ForgedDisclosure",
    "KeyFileError",
    "MisaddressedEnvelope",
    "NotInLog",
    "OpenError",
    "OpenedDisclosure",
    "PolicyError",
    "ReplayedDisclosure",
    "SealError",
    "SealedDisclosure",
    "SequenceError",
    "SequenceGap",
    "SequenceState",
    "SessionHasher",
    "SimulatedDisclosure",
    "Statement",
    "SuiteName",
    "UnknownSuite",
    "WrongPassphrase",
    "authority_key_id",
    "check_disclosure",
    "disclosures_for",
    "format_state",
    "parse_state",
    "policy_entry_toml",
    "seal_disclosure",
    "sequence_state_key",
    "stream_id",
    "verify_disclosure_inclusion",
]
