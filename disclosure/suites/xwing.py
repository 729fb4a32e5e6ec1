"""Suite ``hpke-xwing``: HPKE (RFC 9180) base mode with the X-Wing hybrid KEM, via ``cryptography``.

https://www.rfc-editor.org/rfc/rfc9180 , https://datatracker.ietf.org/doc/draft-connolly-cfrg-xwing-kem/

Fixed suite: KEM X-Wing (0x647A, ML-KEM-768 + X25519), KDF HKDF-SHA256 (0x0001), AEAD AES-256-GCM
(0x0002), mode base, single shot. Ciphertext = enc (1,120) ‖ AEAD ciphertext (plaintext + 16).
``info`` binds the envelope's addressing fields; a mismatch fails opening like any other tampering.

Keys are stored the X-Wing way, as a 32-byte seed: SHAKE-256(seed) gives 96 bytes, the first 64 are
the ML-KEM-768 seed (d ‖ z), the last 32 the X25519 private key. The public key is the ML-KEM-768
encapsulation key (1,184) ‖ the X25519 public key (32).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from disclosure.errors import OpenError, PolicyError, SealError
from disclosure.suites.base import PRIVATE_KEY_SIZE, SuiteName

MLKEM768_PUBLIC_KEY_SIZE = 1184
X25519_PUBLIC_KEY_SIZE = 32
PUBLIC_KEY_SIZE = MLKEM768_PUBLIC_KEY_SIZE + X25519_PUBLIC_KEY_SIZE
ENC_SIZE = 1120
TAG_SIZE = 16

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def expand_seed(seed: bytes) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
    """The X-Wing key expansion: SHAKE-256(seed, 96) = ML-KEM-768 seed (64) ‖ X25519 secret (32)."""
    if len(seed) != PRIVATE_KEY_SIZE:
        raise ValueError(f"an X-Wing seed is {PRIVATE_KEY_SIZE} bytes")
    expanded = hashlib.shake_256(seed).digest(96)
    return (
        mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
        x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
    )


@lru_cache(maxsize=64)
def _load_public(public_key: bytes) -> hpke.MLKEM768X25519PublicKey:
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an X-Wing public key is {PUBLIC_KEY_SIZE} bytes")
    x25519_public = x25519.X25519PublicKey.from_public_bytes(public_key[MLKEM768_PUBLIC_KEY_SIZE:])
    # X-Wing itself does not check the X25519 point; refuse a low-order one up front (all-zero DH).
    x25519.X25519PrivateKey.generate().exchange(x25519_public)
    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:MLKEM768_PUBLIC_KEY_SIZE]), x25519_public
    )


class XWingSuite:
    """HPKE base mode, X-Wing / HKDF-SHA256 / AES-256-GCM."""

    name = SuiteName.HPKE_XWING
    public_key_size = PUBLIC_KEY_SIZE
    binds_info = True

    def generate_private_key(self) -> bytes:
        return os.urandom(PRIVATE_KEY_SIZE)

    def public_key(self, private_key: bytes) -> bytes:
        mlkem_private, x25519_private = expand_seed(private_key)
        return mlkem_private.public_key().public_bytes_raw() + x25519_private.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )

    def check_public_key(self, public_key: bytes) -> None:
        try:
            _load_public(public_key)
        except ValueError as exc:
            raise PolicyError(f"not a usable {self.name} public key ({len(public_key)} bytes)") from exc

    def ciphertext_size(self, plaintext_size: int) -> int:
        return ENC_SIZE + plaintext_size + TAG_SIZE

    def seal(self, plaintext: bytes, public_key: bytes, info: bytes) -> bytes:
        try:
            return _SUITE.encrypt(plaintext, _load_public(public_key), info=info)
        except ValueError as exc:
            raise SealError(f"{self.name} sealing failed") from exc

    def open(self, ciphertext: bytes, private_key: bytes, info: bytes) -> bytes:
        try:
            mlkem_private, x25519_private = expand_seed(private_key)
            return _SUITE.decrypt(
                ciphertext, hpke.MLKEM768X25519PrivateKey(mlkem_private, x25519_private), info=info
            )
        except (InvalidTag, ValueError):  # Opaque by design: whatever failed, the answer is the same.
            raise OpenError from None
