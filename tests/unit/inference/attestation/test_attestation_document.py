"""The attestation document: canonical bytes, strict parsing, and no self-contradiction."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

import pytest

from audit_log import Mode
from inference.attestation import (
    AttestationDocument,
    AttestationFormatError,
    Attester,
    Claims,
    Collateral,
    Platform,
    SimulatedQuoteProvider,
)

NONCE = bytes(range(32))
COLLATERAL = "intel-tdx/phala-dcap-qvl/tdx_quote_v4.collateral.json"


@pytest.fixture
def document(make_claims: Callable[..., Claims]) -> AttestationDocument:
    return Attester(SimulatedQuoteProvider(), make_claims(Mode.SIMULATED)).attest(NONCE)


def test_document_round_trips_and_hashes_its_canonical_bytes(document: AttestationDocument) -> None:
    data = document.to_json()
    assert AttestationDocument.from_json(data) == document
    assert document.attestation_sha256 == hashlib.sha256(data).digest()
    obj = json.loads(data)
    assert obj["format"] == "veritee-attestation/v1"
    assert obj["mode"] == obj["claims"]["mode"] == "simulated"
    assert obj["nonce"] == NONCE.hex()
    assert base64.b64decode(obj["quote"]).startswith(b"SIMULATED-NOT-A-TEE")


def test_whitespace_does_not_change_the_parsed_document(document: AttestationDocument) -> None:
    pretty = json.dumps(json.loads(document.to_json()), indent=2)
    assert AttestationDocument.from_json(pretty).to_json() == document.to_json()


def test_document_with_collateral_and_event_log_round_trips(
    make_claims: Callable[..., Claims], load_collateral: Callable[[str], Collateral]
) -> None:
    from inference.attestation import TdxEvent

    event = TdxEvent(imr=3, event_type=1, digest=bytes(48), event="boot", payload=b"\x01")
    document = AttestationDocument(
        mode=Mode.PRODUCTION,
        platform=Platform.INTEL_TDX,
        quote=b"\x04\x00" + bytes(100),
        nonce=NONCE,
        claims=make_claims(Mode.PRODUCTION),
        collateral=load_collateral(COLLATERAL),
        event_log=(event,),
    )
    assert AttestationDocument.from_json(document.to_json()) == document


def _edited(document: AttestationDocument, edit: Callable[[dict[str, object]], object]) -> bytes:
    obj = json.loads(document.to_json())
    edit(obj)
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda o: o.update(gpu={}), "GPU evidence"),
        (lambda o: o.update(extra=1), "unexpected"),
        (lambda o: o.pop("nonce"), "missing"),
        (lambda o: o.update(format="veritee-attestation/v2"), "format"),
        (lambda o: o.update(platform="amd-sev-snp"), "platform"),
        (lambda o: o.update(platform="intel-tdx"), "contradicts"),
        (lambda o: o.update(mode="production", platform="intel-tdx"), "claims mode differs"),
        (lambda o: o.update(nonce="00" * 31), "nonce"),
        (lambda o: o.update(quote="not base64!"), "base64"),
        (lambda o: o.update(quote=""), "quote"),
        (lambda o: o.update(collateral=None), "collateral"),
        (lambda o: o.update(collateral={"tcb_info": "x"}), "collateral"),
        (lambda o: o.update(event_log={}), "event log"),
    ],
)
def test_malformed_documents_are_rejected_with_a_reason(
    document: AttestationDocument, edit: Callable[[dict[str, object]], object], message: str
) -> None:
    with pytest.raises(AttestationFormatError, match=message):
        AttestationDocument.from_json(_edited(document, edit))


@pytest.mark.parametrize("data", [b"", b"[]", b"{", b'{"a":1,"a":2}', b"\xff", b"NaN"])
def test_non_json_documents_are_rejected(data: bytes) -> None:
    with pytest.raises(AttestationFormatError):
        AttestationDocument.from_json(data)


def test_oversized_document_is_rejected() -> None:
    with pytest.raises(AttestationFormatError, match="larger than"):
        AttestationDocument.from_json(b" " * (1024 * 1024 + 1))


def test_collateral_vector_parses_and_rejects_non_hex_crl(
    load_collateral: Callable[[str], Collateral],
) -> None:
    collateral = load_collateral(COLLATERAL)
    assert Collateral.from_json(collateral.to_json()) == collateral
    with pytest.raises(AttestationFormatError, match="root_ca_crl must be hex"):
        Collateral(**{**collateral.__dict__, "root_ca_crl": "zz"})


def test_attester_refuses_to_attest_production_claims_with_a_simulated_provider(
    make_claims: Callable[..., Claims],
) -> None:
    with pytest.raises(AttestationFormatError, match="simulated quote provider"):
        Attester(SimulatedQuoteProvider(), make_claims(Mode.PRODUCTION))
