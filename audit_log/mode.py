"""Attestation mode, carried by everything veritee signs.

A signature made in simulated mode must never pass for a production one, so the mode is part of
every signed object and of every DSSE key id (``sim:`` prefix), and verifiers take the mode they
accept as an explicit argument.
"""

from __future__ import annotations

import enum
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class Mode(enum.StrEnum):
    PRODUCTION = "production"
    SIMULATED = "simulated"


SIMULATED_KEY_PREFIX = "sim:"


def signing_key_id(public_key: Ed25519PublicKey, mode: Mode) -> str:
    """DSSE key id of an Ed25519 key: hex SHA-256 of the raw key, ``sim:``-prefixed when simulated."""
    digest = hashlib.sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()
    return (SIMULATED_KEY_PREFIX if mode is Mode.SIMULATED else "") + digest
