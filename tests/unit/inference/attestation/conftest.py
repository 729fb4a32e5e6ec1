"""Fixtures for the attestation tests: real vector quotes and collateral, and sample claims."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log import Mode
from inference.attestation import AuthorityKey, Claims, ClassifierArtefact, Collateral

ATTESTATION = "attestation"


@pytest.fixture(scope="session")
def attestation_vectors(vectors: Path) -> Path:
    return vectors / ATTESTATION


@pytest.fixture(scope="session")
def expected(attestation_vectors: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((attestation_vectors / "expected.json").read_text())
    return data


@pytest.fixture(scope="session")
def load_quote(attestation_vectors: Path) -> Callable[[str], bytes]:
    """Raw quote bytes of a vector, by its path relative to the attestation vectors."""

    def load(relative: str) -> bytes:
        path = attestation_vectors / relative
        if path.suffix == ".json":
            return bytes.fromhex(json.loads(path.read_text())["quote"])
        return path.read_bytes()

    return load


@pytest.fixture(scope="session")
def load_collateral(attestation_vectors: Path) -> Callable[[str], Collateral]:
    def load(relative: str) -> Collateral:
        return Collateral.from_json((attestation_vectors / relative).read_bytes())

    return load


@pytest.fixture
def make_claims() -> Callable[..., Claims]:
    """Build sample claims; keyword arguments override fields."""

    def make(mode: Mode = Mode.SIMULATED, **overrides: object) -> Claims:
        log_key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        fields: dict[str, object] = {
            "mode": mode,
            "service_version": "0.1.0",
            "log_origin": "veritee.test/log",
            "log_signing_key": log_key,
            "tls_spki_sha256": hashlib.sha256(b"tls spki").digest(),
            "policy_sha256": hashlib.sha256(b"policy.toml").digest(),
            "classifiers": (
                ClassifierArtefact("patterns", "1", hashlib.sha256(b"patterns").digest()),
                ClassifierArtefact("learned", "2", hashlib.sha256(b"weights").digest()),
            ),
            "model_sha256": hashlib.sha256(b"model").digest(),
            "authority_keys": (AuthorityKey("ncmec", "k-ncmec-1"), AuthorityKey("cisa", "k-cisa-1")),
        }
        fields.update(overrides)
        return Claims(**fields)  # type: ignore[arg-type]

    return make
