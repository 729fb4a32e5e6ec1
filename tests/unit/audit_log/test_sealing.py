"""AES-256-GCM sealing at rest: the host sees ciphertext bound to its log and its position."""

from __future__ import annotations

import hashlib

import pytest

from audit_log.errors import KeyStoreError, TamperError
from audit_log.sealing import NONCE_SIZE, TAG_SIZE, EntrySealer, entry_aad, storage_key_id

KEY = bytes(range(32))
ORIGIN = "veritee.test/log"
ENTRY = b'{"body":{},"kind":"startup"}'


def test_sealed_entry_opens_at_its_own_index() -> None:
    sealer = EntrySealer(KEY, ORIGIN)
    sealed = sealer.seal(7, ENTRY)
    assert len(sealed) == 1 + NONCE_SIZE + len(ENTRY) + TAG_SIZE
    assert ENTRY not in sealed
    assert sealer.open(7, sealed) == ENTRY


def test_aad_bytes_are_pinned() -> None:
    expected = b"veritee/audit-entry/v1\nveritee.test/log\n" + bytes([0, 0, 0, 0, 0, 0, 1, 2])
    assert entry_aad(ORIGIN, 258) == expected


def test_ciphertext_moved_to_another_index_does_not_open() -> None:
    sealer = EntrySealer(KEY, ORIGIN)
    with pytest.raises(TamperError) as caught:
        sealer.open(8, sealer.seal(7, ENTRY))
    assert caught.value.index == 8


def test_ciphertext_copied_to_another_log_does_not_open() -> None:
    sealed = EntrySealer(KEY, ORIGIN).seal(0, ENTRY)
    with pytest.raises(TamperError):
        EntrySealer(KEY, "other.test/log").open(0, sealed)


@pytest.mark.parametrize("position", [0, 1, NONCE_SIZE + 1, -1])
def test_flipped_bit_does_not_open(position: int) -> None:
    sealer = EntrySealer(KEY, ORIGIN)
    sealed = bytearray(sealer.seal(0, ENTRY))
    sealed[position] ^= 0x01
    with pytest.raises(TamperError):
        sealer.open(0, bytes(sealed))


def test_truncated_ciphertext_does_not_open() -> None:
    sealer = EntrySealer(KEY, ORIGIN)
    with pytest.raises(TamperError):
        sealer.open(0, sealer.seal(0, ENTRY)[: 1 + NONCE_SIZE + TAG_SIZE - 1])


def test_other_storage_key_does_not_open() -> None:
    sealed = EntrySealer(KEY, ORIGIN).seal(0, ENTRY)
    with pytest.raises(TamperError):
        EntrySealer(bytes(32), ORIGIN).open(0, sealed)


def test_nonces_are_fresh_per_seal() -> None:
    sealer = EntrySealer(KEY, ORIGIN)
    nonces = {sealer.seal(0, ENTRY)[1 : 1 + NONCE_SIZE] for _ in range(200)}
    assert len(nonces) == 200


def test_short_storage_key_is_refused() -> None:
    with pytest.raises(KeyStoreError):
        EntrySealer(KEY[:16], ORIGIN)


def test_storage_key_id_is_a_domain_separated_fingerprint() -> None:
    assert storage_key_id(KEY) == hashlib.sha256(b"veritee/storage-key-id/v1\n" + KEY).digest()[:16]
    assert storage_key_id(KEY) != storage_key_id(bytes(32))
