"""The authority's whole check: envelope, inclusion of its audit entry in the signed log, sequence."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from disclosure_world import World

from audit_log.checkpoint import Checkpoint, sign_checkpoint
from audit_log.formats import jcs
from audit_log.formats.note import NoteSigner
from audit_log.merkle import CompactRange, inclusion_proof, leaf_hash
from audit_log.receipt import Receipt
from disclosure import (
    ENTRY_KIND,
    DisclosureFormatError,
    NotInLog,
    ReplayedDisclosure,
    SealedDisclosure,
    SequenceGap,
    SequenceState,
    check_disclosure,
)

ORIGIN = "veritee.test/log"


@dataclasses.dataclass
class Log:
    entries: list[bytes]
    checkpoint_note: bytes
    nodes: dict[tuple[int, int], bytes]

    def receipt(self, index: int, *, extra: bytes | None = None, note: bytes | None = None) -> bytes:
        size = len(self.entries)
        proof = inclusion_proof(index, size, lambda level, i: self.nodes[(level, i)])
        entry = self.entries[index] if extra is None else extra
        return Receipt(index, tuple(proof), note or self.checkpoint_note, entry).to_bytes()


def entry(seq: int, kind: str, body: dict[str, jcs.JSONValue]) -> bytes:
    return jcs.canonicalize(
        {"v": 1, "seq": seq, "time": "2026-03-14T15:09:26Z", "kind": kind, "prev": "00" * 32, "body": body}
    )


def build_log(key: Ed25519PrivateKey, sealed: SealedDisclosure, extra_entries: int = 3) -> Log:
    """A log whose entry 41 is the verdict and 42 the disclosure, signed by the TEE log key."""
    entries = [entry(i, "verdict", {"n": i}) for i in range(42)]
    entries.append(entry(42, ENTRY_KIND, sealed.audit_entry_body))
    entries += [entry(43 + i, "verdict", {"n": i}) for i in range(extra_entries)]
    tree, nodes = CompactRange(), {}
    for data in entries:
        for level, index, node in tree.append(leaf_hash(data)):
            nodes[(level, index)] = node
    note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), NoteSigner(ORIGIN, key))
    return Log(entries, note, nodes)


def vkey(key: Ed25519PrivateKey) -> str:
    return NoteSigner(ORIGIN, key).verifier.vkey


@pytest.fixture
def setup(world: World) -> tuple[World, SealedDisclosure, Log]:
    sealed = world.seal("csam", seq=1, log_index=41)
    return world, sealed, build_log(world.log_key, sealed)


def test_disclosure_entry_is_proven_in_the_signed_log(setup: tuple[World, SealedDisclosure, Log]) -> None:
    world, sealed, log = setup
    result = check_disclosure(
        sealed.envelope_bytes, world.authorities["ncmec"], vkey(world.log_key), receipt=log.receipt(42)
    )
    assert result.checkpoint is not None
    assert result.checkpoint.size == 46
    assert result.opened.statement.seq == 1


def test_pinned_checkpoint_must_be_the_receipts(setup: tuple[World, SealedDisclosure, Log]) -> None:
    world, sealed, log = setup
    check = dict(receipt=log.receipt(42))
    key, tee = world.authorities["ncmec"], vkey(world.log_key)
    assert check_disclosure(sealed.envelope_bytes, key, tee, pinned_checkpoint=log.checkpoint_note, **check)
    older = build_log(world.log_key, sealed, extra_entries=1).checkpoint_note
    with pytest.raises(NotInLog, match="pinned"):
        check_disclosure(sealed.envelope_bytes, key, tee, pinned_checkpoint=older, **check)


def test_receipt_for_another_envelope_is_refused(setup: tuple[World, SealedDisclosure, Log]) -> None:
    world, _, log = setup
    other = world.seal("csam", seq=2, log_index=43)
    with pytest.raises(NotInLog, match="not the disclosure entry"):
        check_disclosure(
            other.envelope_bytes, world.authorities["ncmec"], vkey(world.log_key), receipt=log.receipt(42)
        )


def test_receipt_for_an_entry_of_another_kind_is_refused(setup: tuple[World, SealedDisclosure, Log]) -> None:
    world, sealed, log = setup
    with pytest.raises(NotInLog, match="not the disclosure entry"):
        check_disclosure(
            sealed.envelope_bytes, world.authorities["ncmec"], vkey(world.log_key), receipt=log.receipt(41)
        )


def test_receipt_whose_entry_bytes_were_swapped_is_refused(
    setup: tuple[World, SealedDisclosure, Log],
) -> None:
    world, sealed, log = setup
    forged_entry = entry(41, ENTRY_KIND, sealed.audit_entry_body)  # right body, not the logged bytes
    with pytest.raises(NotInLog, match="does not verify"):
        check_disclosure(
            sealed.envelope_bytes,
            world.authorities["ncmec"],
            vkey(world.log_key),
            receipt=log.receipt(42, extra=forged_entry),
        )


def test_receipt_without_entry_bytes_is_refused(setup: tuple[World, SealedDisclosure, Log]) -> None:
    world, sealed, log = setup
    parsed = Receipt.parse(log.receipt(42))
    bare = dataclasses.replace(parsed, extra=None).to_bytes()
    with pytest.raises(NotInLog, match="entry bytes"):
        check_disclosure(sealed.envelope_bytes, world.authorities["ncmec"], vkey(world.log_key), receipt=bare)


def test_checkpoint_signed_by_another_log_key_is_refused(setup: tuple[World, SealedDisclosure, Log]) -> None:
    world, sealed, _ = setup
    impostor_log = build_log(Ed25519PrivateKey.generate(), sealed)
    with pytest.raises(NotInLog):
        check_disclosure(
            sealed.envelope_bytes,
            world.authorities["ncmec"],
            vkey(world.log_key),
            receipt=impostor_log.receipt(42),
        )


def test_disclosure_entry_logged_before_its_verdict_is_refused(world: World) -> None:
    sealed = world.seal("csam", seq=1, log_index=42)  # claims the verdict is the disclosure's own index
    log = build_log(world.log_key, sealed)
    with pytest.raises(NotInLog, match="after verdict"):
        check_disclosure(
            sealed.envelope_bytes, world.authorities["ncmec"], vkey(world.log_key), receipt=log.receipt(42)
        )


@pytest.mark.parametrize(
    "mangle",
    [lambda r: b"garbage", lambda r: r.replace(b"index 42", b"index 042")],
    ids=["garbage", "leading-zero-index"],
)
def test_malformed_receipt_is_bad_input(
    setup: tuple[World, SealedDisclosure, Log], mangle: Callable[[bytes], bytes]
) -> None:
    world, sealed, log = setup
    with pytest.raises(DisclosureFormatError):
        check_disclosure(
            sealed.envelope_bytes,
            world.authorities["ncmec"],
            vkey(world.log_key),
            receipt=mangle(log.receipt(42)),
        )


def test_malformed_verifier_key_is_bad_input(setup: tuple[World, SealedDisclosure, Log]) -> None:
    world, sealed, _ = setup
    with pytest.raises(DisclosureFormatError, match="verifier key"):
        check_disclosure(sealed.envelope_bytes, world.authorities["ncmec"], "not a vkey")


def test_sequence_is_checked_per_log_key_and_authority(world: World) -> None:
    key, tee = world.authorities["ncmec"], vkey(world.log_key)
    first, second, fourth = (world.seal("csam", seq=n) for n in (1, 2, 4))
    states = check_disclosure(first.envelope_bytes, key, tee, sequence_states={}).sequence_states
    assert states is not None
    result = check_disclosure(second.envelope_bytes, key, tee, sequence_states=states)
    assert result.sequence_states == {result.stream: SequenceState(2)}
    with pytest.raises(ReplayedDisclosure):
        check_disclosure(second.envelope_bytes, key, tee, sequence_states=result.sequence_states)
    with pytest.raises(SequenceGap):
        check_disclosure(fourth.envelope_bytes, key, tee, sequence_states=result.sequence_states)
    with pytest.raises(ReplayedDisclosure):
        check_disclosure(first.envelope_bytes, key, tee, last_seq=1)
    assert check_disclosure(fourth.envelope_bytes, key, tee, last_seq=1, allow_gap=True)
