"""Fixtures for the attestation integration tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from configfs_mimic import MimicConfigfs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log import Mode
from inference.attestation import AuthorityKey, Claims, ClassifierArtefact, ReferenceValues

TEMPLATE = "attestation/intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin"


@pytest.fixture
def mimic(tmp_path: Path, vectors: Path) -> Iterator[MimicConfigfs]:
    configfs = MimicConfigfs(tmp_path / "tsm" / "report", (vectors / TEMPLATE).read_bytes())
    yield configfs
    configfs.join()


@pytest.fixture
def make_claims() -> Callable[..., Claims]:
    """Sample claims for ``mode``; keyword arguments override fields."""

    def make(mode: Mode = Mode.SIMULATED, **overrides: object) -> Claims:
        log_key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        fields: dict[str, object] = {
            "mode": mode,
            "service_version": "0.1.0",
            "log_origin": "veritee.test/log",
            "log_signing_key": log_key,
            "tls_spki_sha256": hashlib.sha256(b"tls spki").digest(),
            "policy_sha256": hashlib.sha256(b"policy.toml").digest(),
            "classifiers": (ClassifierArtefact("patterns", "1", hashlib.sha256(b"patterns").digest()),),
            "model_sha256": hashlib.sha256(b"model").digest(),
            "authority_keys": (AuthorityKey("ncmec", "k-ncmec-1"),),
        }
        fields.update(overrides)
        return Claims(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def attestation_reference(vectors: Path) -> ReferenceValues:
    """Reference values for a real TDX quote: a production policy needs some to exist."""
    recorded = json.loads((vectors / "attestation" / "expected.json").read_text())["quotes"]
    quote = recorded["intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin"]
    registers = ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id")
    entry = {"name": "phala sample", **{r: quote[r] for r in registers}}
    return ReferenceValues.from_json(json.dumps({"v": 1, "measurements": [entry]}))
