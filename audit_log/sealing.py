"""Sealing audit entries at rest with AES-256-GCM (NIST SP 800-38D) before they reach the database.

The host that stores the database is untrusted (DESIGN.md, trust boundaries), so it only ever sees::

    sealed = 0x01 ‖ nonce[12] ‖ AES-256-GCM(storage key, nonce, entry, aad)
    aad    = "veritee/audit-entry/v1" ‖ 0x0A ‖ UTF-8(origin) ‖ 0x0A ‖ uint64_be(seq)

The AAD binds each ciphertext to its log and its position: a ciphertext copied to another log or moved
to another index no longer opens. Nonces are 96 random bits per seal; with one storage key the
collision bound of SP 800-38D §8.3 allows 2^32 seals, far above any log this service writes
(docs/adr/0001-audit-log-storage.md). Opening fails with one opaque error, whatever the cause.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from audit_log.errors import KeyStoreError, TamperError

SEALED_VERSION = 0x01
NONCE_SIZE = 12
TAG_SIZE = 16
STORAGE_KEY_SIZE = 32
AAD_DOMAIN = b"veritee/audit-entry/v1"
_KEY_ID_DOMAIN = b"veritee/storage-key-id/v1\n"


def entry_aad(origin: str, seq: int) -> bytes:
    """The additional authenticated data for entry ``seq`` of the log named ``origin``."""
    if "\n" in origin or not 0 <= seq < 1 << 64:
        raise ValueError("origin must be one line and seq a uint64")
    return AAD_DOMAIN + b"\n" + origin.encode() + b"\n" + seq.to_bytes(8, "big")


def storage_key_id(key: bytes) -> bytes:
    """A 16-byte public fingerprint of a storage key, stored beside the log to catch a wrong key."""
    return hashlib.sha256(_KEY_ID_DOMAIN + key).digest()[:16]


class EntrySealer:
    """Seals and opens the entries of one log under one storage key."""

    def __init__(self, key: bytes, origin: str) -> None:
        if len(key) != STORAGE_KEY_SIZE:
            raise KeyStoreError(f"storage key must be {STORAGE_KEY_SIZE} bytes")
        self._aead = AESGCM(key)
        self._origin = origin
        self.key_id = storage_key_id(key)

    def seal(self, seq: int, entry: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return (
            bytes([SEALED_VERSION]) + nonce + self._aead.encrypt(nonce, entry, entry_aad(self._origin, seq))
        )

    def open(self, seq: int, sealed: bytes) -> bytes:
        """The entry bytes at ``seq``; :class:`TamperError` naming ``seq`` if they do not open."""
        if len(sealed) < 1 + NONCE_SIZE + TAG_SIZE or sealed[0] != SEALED_VERSION:
            raise TamperError("sealed entry is malformed", seq)
        nonce, ciphertext = sealed[1 : 1 + NONCE_SIZE], sealed[1 + NONCE_SIZE :]
        try:
            return self._aead.decrypt(nonce, ciphertext, entry_aad(self._origin, seq))
        except InvalidTag:
            raise TamperError("sealed entry does not open under the storage key", seq) from None
