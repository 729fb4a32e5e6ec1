"""The signed statement's shape and its fixed-size padding (``sodium_pad`` semantics)."""

from __future__ import annotations

import dataclasses
import json

import nacl.bindings
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_log import Mode, signing_key_id
from disclosure import DisclosureFormatError, OpenError, SealError, Statement, SuiteName
from disclosure.statement import created_at_for, key_id_mode, pad, unpad

STATEMENT = Statement(
    disclosure_id="0123456789abcdef0123456789abcdef",
    authority="ncmec",
    authority_key_id="x25519-sealedbox:" + "ab" * 16,
    suite=SuiteName.X25519_SEALEDBOX,
    seq=1,
    risk_category="csam",
    confidence=0.9995,
    session_id_hash="cd" * 32,
    content_hash="ef" * 32,
    policy_version="1",
    timestamp="2026-03-14T15:09:26Z",
    log_index=41,
    attestation_sha256="01" * 32,
    mode=Mode.PRODUCTION,
)


@pytest.mark.parametrize("size", [0, 1, 100, 4094, 4095])
def test_padding_matches_libsodium_sodium_pad(size: int) -> None:
    data = bytes([0x41]) * size
    assert pad(data) == nacl.bindings.sodium_pad(data, 4096)
    assert unpad(pad(data)) == nacl.bindings.sodium_unpad(pad(data), 4096) == data


def test_statement_of_exactly_one_block_is_refused_not_sent_in_a_longer_envelope() -> None:
    # sodium_pad always adds a byte: 4096 bytes would become 8192 and stand out.
    assert len(nacl.bindings.sodium_pad(bytes(4096), 4096)) == 8192
    with pytest.raises(SealError):
        pad(bytes(4096))


def test_statement_round_trips_through_json() -> None:
    assert Statement.from_json(STATEMENT.to_json()) == STATEMENT
    whole = dataclasses.replace(STATEMENT, confidence=1.0)
    assert b'"confidence":1,' in whole.to_json()
    assert Statement.from_json(whole.to_json()) == whole


def test_unpad_is_strict() -> None:
    for bad in (pad(b"x")[:-1], pad(b"x")[:-1] + b"\x01", b"\x00" * 4096, b"x" * 4096):
        with pytest.raises(OpenError):
            unpad(bad)


@pytest.mark.parametrize(
    "change",
    [
        {"content_hash": None},
        {"risk_category": "cyber"},
        {"confidence": 1.5},
        {"confidence": float("nan")},
        {"seq": 0},
        {"timestamp": "2026-02-30T00:00:00Z"},
        {"authority_key_id": "hpke-xwing:" + "ab" * 16},
        {"policy_version": "\n"},
    ],
    ids=[
        "csam-without-hash",
        "hash-without-csam",
        "confidence",
        "nan",
        "seq",
        "date",
        "suite-mismatch",
        "version",
    ],
)
def test_statement_invariants_are_enforced(change: dict[str, object]) -> None:
    with pytest.raises(DisclosureFormatError):
        dataclasses.replace(STATEMENT, **change)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [{"extra": 1}, {"seq": "1"}, {"confidence": True}, {"mode": "staging"}, {"suite": "rsa"}],
    ids=["extra", "seq-string", "confidence-bool", "mode", "suite"],
)
def test_statement_parsing_is_strict(change: dict[str, object]) -> None:
    obj = json.loads(STATEMENT.to_json())
    obj.update(change)
    with pytest.raises(DisclosureFormatError):
        Statement.from_json(json.dumps(obj).encode())


def test_created_at_is_the_timestamp_rounded_down_to_the_minute() -> None:
    assert created_at_for("2026-03-14T15:09:59Z") == "2026-03-14T15:09:00Z"


def test_simulated_key_id_prefix_agrees_with_the_audit_logs_key_ids() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    assert key_id_mode(signing_key_id(public, Mode.SIMULATED)) is Mode.SIMULATED
    assert key_id_mode(signing_key_id(public, Mode.PRODUCTION)) is Mode.PRODUCTION
