"""The sealing-suite seam: what a suite must do, and the names of the suites veritee implements.

DESIGN.md "Disclosure envelope"; the byte-level suite definitions are in docs/formats.md.

A suite seals a fixed-size plaintext to an authority's raw public key and opens it with the raw
32-byte private key (an X25519 secret or an X-Wing seed). ``info`` is the context string that
binds the envelope's addressing fields; a suite that cannot bind it cryptographically
(``x25519-sealedbox``) says so through :attr:`Suite.binds_info`, and the binding then rests on the
signed statement alone.
"""

from __future__ import annotations

import enum
from typing import Protocol

PRIVATE_KEY_SIZE = 32


class SuiteName(enum.StrEnum):
    X25519_SEALEDBOX = "x25519-sealedbox"
    HPKE_XWING = "hpke-xwing"


class Suite(Protocol):
    """One public-key sealing scheme, fixed in every parameter."""

    @property
    def name(self) -> SuiteName: ...

    @property
    def public_key_size(self) -> int: ...

    @property
    def binds_info(self) -> bool:
        """Whether :meth:`seal` authenticates ``info`` (otherwise it is ignored)."""
        ...

    def generate_private_key(self) -> bytes:
        """A fresh 32-byte private key from the OS's CSPRNG."""
        ...

    def public_key(self, private_key: bytes) -> bytes:
        """The raw public key that belongs to ``private_key``."""
        ...

    def check_public_key(self, public_key: bytes) -> None:
        """Raise :class:`~disclosure.errors.PolicyError` unless ``public_key`` is usable."""
        ...

    def ciphertext_size(self, plaintext_size: int) -> int: ...

    def seal(self, plaintext: bytes, public_key: bytes, info: bytes) -> bytes:
        """Encrypt to ``public_key``; raises :class:`~disclosure.errors.SealError` on failure."""
        ...

    def open(self, ciphertext: bytes, private_key: bytes, info: bytes) -> bytes:
        """Decrypt; raises the opaque :class:`~disclosure.errors.OpenError` on any failure."""
        ...
