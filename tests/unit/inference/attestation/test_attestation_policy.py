"""Whole-document verification: production vs simulated, nonce, binding, measurements, claims.

Real quotes cannot carry veritee's report_data, so the production policy is driven on real quotes
until the binding step, which they must fail; everything before it (mode, nonce, header, DCAP,
debug, reference values, event log) has then passed. The binding and claims checks that succeed
are exercised on simulated documents through ``UnsafeAcceptSimulated``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from audit_log import Mode
from inference.attestation import (
    AttestationDocument,
    AttestationPolicy,
    AttestationVerificationError,
    Attester,
    BindingMismatch,
    Claims,
    ClaimsMismatch,
    Collateral,
    ExpectedClaims,
    MeasurementMismatch,
    Platform,
    QuoteVerificationError,
    ReferenceValues,
    SimulatedAttestationRejected,
    SimulatedQuoteProvider,
    UnsafeAcceptSimulated,
    parse_event_log,
)

NONCE = bytes(range(32))
OTHER_NONCE = bytes(32)
TINFOIL = "intel-tdx/tinfoil-verifier/tdx_quote_v4.bin"
TINFOIL_COLLATERAL = "intel-tdx/tinfoil-verifier/fmspc_90c06f000000_2026-01-12.collateral.json"
FEB_2026_COLLATERAL = "intel-tdx/phala-dcap-qvl/fmspc_90C06F000000_2026-02-18.collateral.json"
PHALA_V4_COLLATERAL = "intel-tdx/phala-dcap-qvl/tdx_quote_v4.collateral.json"
DSTACK = "intel-tdx/dstack/quote-report.json"
NEARAI = "intel-tdx/nearai-private-ml-sdk/dstack_quote_v4.bin"
JAN_20 = datetime.datetime(2026, 1, 20, tzinfo=datetime.UTC)
FEB_19 = datetime.datetime(2026, 2, 19, tzinfo=datetime.UTC)

Expected = dict[str, dict[str, dict[str, str]]]


def reference_values_for(expected: Expected, *vectors: str) -> ReferenceValues:
    registers = ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id")
    entries = [
        {"name": vector, **{r: expected["quotes"][vector][r] for r in registers}} for vector in vectors
    ]
    return ReferenceValues.from_json(json.dumps({"v": 1, "measurements": entries}))


@pytest.fixture
def production_claims(make_claims: Callable[..., Claims]) -> Claims:
    return make_claims(Mode.PRODUCTION)


def real_document(
    quote: bytes, claims: Claims, collateral: Collateral | None = None, **extra: object
) -> AttestationDocument:
    return AttestationDocument(
        mode=Mode.PRODUCTION,
        platform=Platform.INTEL_TDX,
        quote=quote,
        nonce=NONCE,
        claims=claims,
        collateral=collateral,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def tinfoil_document(
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
    production_claims: Claims,
) -> AttestationDocument:
    return real_document(load_quote(TINFOIL), production_claims, load_collateral(TINFOIL_COLLATERAL))


@pytest.fixture
def tinfoil_policy(expected: Expected) -> AttestationPolicy:
    return AttestationPolicy.production(reference_values=reference_values_for(expected, TINFOIL))


def test_real_quote_passes_every_step_before_the_binding_it_cannot_satisfy(
    tinfoil_document: AttestationDocument, tinfoil_policy: AttestationPolicy
) -> None:
    with pytest.raises(BindingMismatch, match="report_data does not bind these claims"):
        tinfoil_policy.verify(tinfoil_document, NONCE, JAN_20)


def test_real_quote_with_unlisted_measurements_is_rejected(
    tinfoil_document: AttestationDocument, expected: Expected
) -> None:
    policy = AttestationPolicy.production(
        reference_values=reference_values_for(expected, "intel-tdx/go-tdx-guest/quote_v5_sample.bin")
    )
    with pytest.raises(MeasurementMismatch, match="differs in mrtd, rtmr0, rtmr1, rtmr2"):
        policy.verify(tinfoil_document, NONCE, JAN_20)


def test_real_quote_after_its_collateral_expired_is_rejected(
    tinfoil_document: AttestationDocument, tinfoil_policy: AttestationPolicy
) -> None:
    with pytest.raises(QuoteVerificationError, match="TCBInfo expired"):
        tinfoil_policy.verify(tinfoil_document, NONCE, datetime.datetime(2026, 2, 12, tzinfo=datetime.UTC))


def test_real_quote_before_its_collateral_was_issued_is_rejected(
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
    production_claims: Claims,
    expected: Expected,
) -> None:
    vector = "intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin"
    document = real_document(load_quote(vector), production_claims, load_collateral(PHALA_V4_COLLATERAL))
    policy = AttestationPolicy.production(reference_values=reference_values_for(expected, vector))
    with pytest.raises(QuoteVerificationError, match="issue date is in the future"):
        policy.verify(document, NONCE, datetime.datetime(2025, 6, 19, 10, tzinfo=datetime.UTC))


def test_quote_without_collateral_fails_closed(
    load_quote: Callable[[str], bytes], production_claims: Claims, expected: Expected
) -> None:
    document = real_document(load_quote(NEARAI), production_claims)
    policy = AttestationPolicy.production(reference_values=reference_values_for(expected, NEARAI))
    with pytest.raises(QuoteVerificationError, match="no collateral"):
        policy.verify(document, NONCE, FEB_19)


def test_policy_collateral_replaces_the_documents(
    tinfoil_document: AttestationDocument,
    load_collateral: Callable[[str], Collateral],
    expected: Expected,
) -> None:
    stale_document = dataclasses.replace(tinfoil_document, collateral=load_collateral(PHALA_V4_COLLATERAL))
    policy = AttestationPolicy.production(
        reference_values=reference_values_for(expected, TINFOIL),
        collateral=load_collateral(FEB_2026_COLLATERAL),
    )
    with pytest.raises(BindingMismatch):
        policy.verify(stale_document, NONCE, FEB_19)


def test_answer_to_someone_elses_nonce_is_rejected(
    tinfoil_document: AttestationDocument, tinfoil_policy: AttestationPolicy
) -> None:
    with pytest.raises(BindingMismatch, match="nonce differs"):
        tinfoil_policy.verify(tinfoil_document, OTHER_NONCE, JAN_20)


def _dstack_document(
    attestation_vectors: Path,
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
    claims: Claims,
) -> AttestationDocument:
    report = json.loads((attestation_vectors / DSTACK).read_text())
    return real_document(
        load_quote(DSTACK),
        claims,
        load_collateral(FEB_2026_COLLATERAL),
        event_log=parse_event_log(json.loads(report["event_log"])),
    )


def test_event_log_that_replays_to_the_quote_passes_to_the_binding_step(
    attestation_vectors: Path,
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
    production_claims: Claims,
    expected: Expected,
) -> None:
    document = _dstack_document(attestation_vectors, load_quote, load_collateral, production_claims)
    policy = AttestationPolicy.production(reference_values=reference_values_for(expected, DSTACK))
    with pytest.raises(BindingMismatch):
        policy.verify(document, NONCE, FEB_19)


def test_event_log_with_a_dropped_event_is_rejected(
    attestation_vectors: Path,
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
    production_claims: Claims,
    expected: Expected,
) -> None:
    document = _dstack_document(attestation_vectors, load_quote, load_collateral, production_claims)
    assert document.event_log is not None
    truncated = dataclasses.replace(document, event_log=document.event_log[:-1])
    policy = AttestationPolicy.production(reference_values=reference_values_for(expected, DSTACK))
    with pytest.raises(MeasurementMismatch, match="event log does not replay"):
        policy.verify(truncated, NONCE, FEB_19)


# Simulated documents: the binding and claims checks that real quotes cannot reach.


@pytest.fixture
def simulated_claims(make_claims: Callable[..., Claims]) -> Claims:
    return make_claims(Mode.SIMULATED)


@pytest.fixture
def simulated_document(simulated_claims: Claims) -> AttestationDocument:
    return Attester(SimulatedQuoteProvider(), simulated_claims).attest(NONCE)


def test_simulated_document_is_accepted_only_as_simulated(
    simulated_document: AttestationDocument, simulated_claims: Claims, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        verified = UnsafeAcceptSimulated().verify(simulated_document, NONCE, JAN_20)
        UnsafeAcceptSimulated().verify(simulated_document, NONCE, JAN_20)
    assert verified.simulated
    assert verified.claims == simulated_claims
    assert verified.to_json_object()["result"] == "SIMULATED"
    assert verified.attestation_sha256 == simulated_document.attestation_sha256
    assert sum("UnsafeAcceptSimulated" in r.message for r in caplog.records) == 2


def test_perfect_simulated_document_is_rejected_by_the_production_policy(
    simulated_document: AttestationDocument, tinfoil_policy: AttestationPolicy, simulated_claims: Claims
) -> None:
    UnsafeAcceptSimulated(ExpectedClaims(policy_sha256=simulated_claims.policy_sha256)).verify(
        simulated_document, NONCE, JAN_20
    )
    with pytest.raises(SimulatedAttestationRejected, match="mode is simulated"):
        tinfoil_policy.verify(simulated_document, NONCE, JAN_20)


def test_simulated_quote_relabelled_as_production_is_rejected(
    simulated_document: AttestationDocument,
    simulated_claims: Claims,
    tinfoil_policy: AttestationPolicy,
    load_collateral: Callable[[str], Collateral],
) -> None:
    relabelled = real_document(
        simulated_document.quote,
        dataclasses.replace(simulated_claims, mode=Mode.PRODUCTION),
        load_collateral(TINFOIL_COLLATERAL),
    )
    with pytest.raises(SimulatedAttestationRejected, match="SIMULATED-NOT-A-TEE"):
        tinfoil_policy.verify(relabelled, NONCE, JAN_20)
    # Even a verifier that tolerates simulation sends production-labelled documents to production.
    with pytest.raises(SimulatedAttestationRejected):
        UnsafeAcceptSimulated(production=tinfoil_policy).verify(relabelled, NONCE, JAN_20)


def test_unsafe_policy_without_a_production_policy_rejects_production_documents(
    tinfoil_document: AttestationDocument,
) -> None:
    with pytest.raises(AttestationVerificationError, match="no production policy"):
        UnsafeAcceptSimulated().verify(tinfoil_document, NONCE, JAN_20)


def test_simulated_document_for_another_nonce_is_rejected(simulated_document: AttestationDocument) -> None:
    with pytest.raises(BindingMismatch, match="nonce differs"):
        UnsafeAcceptSimulated().verify(simulated_document, OTHER_NONCE, JAN_20)


def test_simulated_document_whose_nonce_field_was_swapped_is_rejected(
    simulated_document: AttestationDocument,
) -> None:
    swapped = dataclasses.replace(simulated_document, nonce=OTHER_NONCE)
    with pytest.raises(BindingMismatch, match="report_data does not bind"):
        UnsafeAcceptSimulated().verify(swapped, OTHER_NONCE, JAN_20)


def test_claims_swapped_under_a_quote_are_rejected(
    simulated_document: AttestationDocument, make_claims: Callable[..., Claims]
) -> None:
    swapped = dataclasses.replace(simulated_document, claims=make_claims(Mode.SIMULATED))
    with pytest.raises(BindingMismatch, match="report_data does not bind"):
        UnsafeAcceptSimulated().verify(swapped, NONCE, JAN_20)


@pytest.mark.parametrize("index", [20, 40, 60, 83])
def test_simulated_quote_with_a_flipped_report_data_bit_is_rejected(
    simulated_document: AttestationDocument, index: int
) -> None:
    quote = bytearray(simulated_document.quote)
    quote[index] ^= 0x01
    tampered = dataclasses.replace(simulated_document, quote=bytes(quote))
    with pytest.raises(BindingMismatch):
        UnsafeAcceptSimulated().verify(tampered, NONCE, JAN_20)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("policy_sha256", bytes(32), "policy_sha256"),
        ("log_signing_key", bytes(32), "log_signing_key"),
        ("log_origin", "elsewhere/log", "log_origin"),
        ("model_sha256", bytes(32), "model_sha256"),
        ("service_version", "9.9.9", "service_version"),
        ("tls_spki_sha256", bytes(32), "tls_spki_sha256"),
        ("classifiers", (), "classifiers"),
        ("authority_keys", (), "authority_key_ids"),
    ],
)
def test_claims_other_than_expected_are_rejected_and_named(
    simulated_document: AttestationDocument, field: str, value: object, named: str
) -> None:
    policy = UnsafeAcceptSimulated(ExpectedClaims(**{field: value}))  # type: ignore[arg-type]
    with pytest.raises(ClaimsMismatch, match=f"expected {named}$"):
        policy.verify(simulated_document, NONCE, JAN_20)


def test_expected_claims_that_match_pass(
    simulated_document: AttestationDocument, simulated_claims: Claims
) -> None:
    expected = ExpectedClaims(
        service_version=simulated_claims.service_version,
        log_origin=simulated_claims.log_origin,
        log_signing_key=simulated_claims.log_signing_key,
        tls_spki_sha256=simulated_claims.tls_spki_sha256,
        policy_sha256=simulated_claims.policy_sha256,
        classifiers=tuple(reversed(simulated_claims.classifiers)),
        model_sha256=simulated_claims.model_sha256,
        authority_keys=simulated_claims.authority_keys,
    )
    assert (
        UnsafeAcceptSimulated(expected).verify(simulated_document, NONCE, JAN_20).claims == simulated_claims
    )


@pytest.mark.parametrize(
    ("nonce", "at"),
    [("not bytes", JAN_20), (NONCE, datetime.datetime(2026, 1, 20))],
)
def test_any_unexpected_error_fails_closed_as_a_verification_error(
    simulated_document: AttestationDocument,
    tinfoil_document: AttestationDocument,
    tinfoil_policy: AttestationPolicy,
    nonce: object,
    at: datetime.datetime,
) -> None:
    with pytest.raises(AttestationVerificationError):
        UnsafeAcceptSimulated().verify(simulated_document, nonce, at)  # type: ignore[arg-type]
    with pytest.raises(AttestationVerificationError):
        tinfoil_policy.verify(tinfoil_document, nonce, at)  # type: ignore[arg-type]
