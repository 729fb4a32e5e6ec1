"""Suite ``x25519-sealedbox``: libsodium's ``crypto_box_seal`` through PyNaCl.

https://doc.libsodium.org/public-key_cryptography/sealed_boxes

Ciphertext = ephemeral X25519 public key (32) ‖ XSalsa20-Poly1305 box (plaintext + 16); the nonce is
BLAKE2b(ephemeral pk ‖ recipient pk). A sealed box has no associated data, so ``info`` is not bound
here: the envelope's addressing fields are bound inside the signed statement instead, and the opener
compares them. This module is the only place that imports ``nacl``.
"""

from __future__ import annotations

import os

import nacl.bindings
import nacl.exceptions
import nacl.public

from disclosure.errors import OpenError, PolicyError, SealError
from disclosure.suites.base import PRIVATE_KEY_SIZE, SuiteName

PUBLIC_KEY_SIZE = 32
OVERHEAD = 32 + 16


class SealedBoxSuite:
    """X25519 + XSalsa20-Poly1305 anonymous sealed boxes (libsodium ``crypto_box_seal``)."""

    name = SuiteName.X25519_SEALEDBOX
    public_key_size = PUBLIC_KEY_SIZE
    binds_info = False

    def generate_private_key(self) -> bytes:
        return bytes(nacl.public.PrivateKey.generate())

    def public_key(self, private_key: bytes) -> bytes:
        return bytes(nacl.public.PrivateKey(private_key).public_key)

    def check_public_key(self, public_key: bytes) -> None:
        if len(public_key) != PUBLIC_KEY_SIZE:
            raise PolicyError(f"an {self.name} public key is {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}")
        try:
            # libsodium refuses a shared secret of all zeros, which is what a low-order point gives.
            nacl.bindings.crypto_scalarmult(os.urandom(32), public_key)
        except nacl.exceptions.CryptoError as exc:  # PyNaCl's exceptions all derive from it.
            raise PolicyError(f"the {self.name} public key is a low-order point") from exc

    def ciphertext_size(self, plaintext_size: int) -> int:
        return plaintext_size + OVERHEAD

    def seal(self, plaintext: bytes, public_key: bytes, info: bytes) -> bytes:
        del info  # Not bindable in a sealed box; see the module docstring.
        try:
            return bytes(nacl.public.SealedBox(nacl.public.PublicKey(public_key)).encrypt(plaintext))
        except nacl.exceptions.CryptoError as exc:
            raise SealError(f"{self.name} sealing failed") from exc

    def open(self, ciphertext: bytes, private_key: bytes, info: bytes) -> bytes:
        del info
        if len(private_key) != PRIVATE_KEY_SIZE:
            raise OpenError
        try:
            return bytes(nacl.public.SealedBox(nacl.public.PrivateKey(private_key)).decrypt(ciphertext))
        except nacl.exceptions.CryptoError:
            raise OpenError from None
