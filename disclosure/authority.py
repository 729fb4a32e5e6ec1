"""Everything an authority checks before it reads a disclosure, composed from bytes.

The pure core behind ``veritee authority open``: the CLI reads files and prints; this decides.

Steps of :func:`check_disclosure`:

1. Parse the TEE's log verifier key (C2SP vkey ``name+id+base64(0x01 ‖ Ed25519 key)``); its name is
   the log origin unless another is given.
2. Open the envelope (:meth:`DisclosureOpener.open`: addressing, decryption, padding, DSSE signature,
   mode, binding).
3. With a receipt: the ``disclosure`` entry of this envelope is in the log under a checkpoint signed
   by the same key (:func:`verify_disclosure_inclusion`), optionally pinned to a given checkpoint.
4. With the authority's sequence states (or just the last sequence number it opened): the number
   continues this log key's and authority's stream (:meth:`SequenceState.accept`).

Only a :class:`AuthorityCheck` that passed every requested step is returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from audit_log import AuditLogError, Checkpoint, CheckpointPolicy, Receipt, parse_vkey
from audit_log import VerificationError as AuditLogVerificationError
from disclosure.errors import DisclosureFormatError, NotInLog
from disclosure.keys import AuthorityPrivateKey
from disclosure.open import DisclosureOpener, OpenedDisclosure, verify_disclosure_inclusion
from disclosure.sequence import SequenceState, stream_id


@dataclass(frozen=True)
class AuthorityCheck:
    """The verified disclosure and what else was checked about it."""

    opened: OpenedDisclosure
    #: The checkpoint that proves the disclosure entry is in the log, when a receipt was given.
    checkpoint: Checkpoint | None
    #: This disclosure's sequence stream (TEE log key id and authority).
    stream: str
    #: All sequence states with this one advanced, when states were given.
    sequence_states: dict[str, SequenceState] | None


def check_disclosure(
    envelope: bytes,
    key: AuthorityPrivateKey,
    log_vkey: str,
    *,
    allow_simulated: bool = False,
    receipt: bytes | None = None,
    pinned_checkpoint: bytes | None = None,
    origin: str | None = None,
    sequence_states: Mapping[str, SequenceState] | None = None,
    last_seq: int | None = None,
    allow_gap: bool = False,
) -> AuthorityCheck:
    """Run the steps in the module docstring; raises the first failure."""
    # Step 1.
    try:
        verifier = parse_vkey(log_vkey)
    except AuditLogError as exc:
        raise DisclosureFormatError(f"TEE log verifier key: {exc}") from exc
    if pinned_checkpoint is not None and receipt is None:
        raise DisclosureFormatError("a pinned checkpoint needs a receipt to check against it")
    if sequence_states is not None and last_seq is not None:
        raise DisclosureFormatError("give either sequence states or the last sequence number, not both")
    # Step 2.
    opener = (DisclosureOpener.unsafe_accept_simulated if allow_simulated else DisclosureOpener.production)(
        key, verifier.public_key
    )
    opened = opener.open(envelope)
    # Step 3.
    checkpoint = None
    if receipt is not None:
        policy = CheckpointPolicy.of(origin or verifier.name, [verifier])
        with _log_errors("receipt or pinned checkpoint"):
            parsed_receipt = Receipt.parse(receipt)
            pinned = None if pinned_checkpoint is None else policy.verify(pinned_checkpoint)
        checkpoint = verify_disclosure_inclusion(opened, parsed_receipt, policy, pinned)
    # Step 4.
    stream = stream_id(opened.signer_key_id, key.authority)
    seq = opened.statement.seq
    states = None
    if last_seq is not None:
        SequenceState(last_seq).accept(seq, allow_gap=allow_gap)
    elif sequence_states is not None:
        states = dict(sequence_states)
        states[stream] = states.get(stream, SequenceState()).accept(seq, allow_gap=allow_gap)
    return AuthorityCheck(opened, checkpoint, stream, states)


@contextmanager
def _log_errors(what: str) -> Iterator[None]:
    """Translate ``audit_log``'s errors: malformed input is bad input, a false proof is not in the log."""
    try:
        yield
    except AuditLogVerificationError as exc:
        raise NotInLog(f"{what}: {exc}") from exc
    except AuditLogError as exc:
        raise DisclosureFormatError(f"{what}: {exc}") from exc
