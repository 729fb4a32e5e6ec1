"""The quote step on real Intel evidence: recorded outcomes, bit flips, foreign roots, wrong collateral.

Every quote and collateral here is real Intel output, verified offline at the times the vectors'
README records (the collateral has long expired, so the wall clock is never used).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import dcap_qvl
import pytest
from tdx_forgery import ForeignPki

from inference.attestation import (
    AttestationFormatError,
    BindingMismatch,
    Collateral,
    QuoteVerificationError,
    check_binding,
    parse_tdx_quote,
    verify_tdx_quote,
)
from inference.attestation.dcap import check_allowed_statuses

PHALA_V4 = "intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin"
PHALA_V4_COLLATERAL = "intel-tdx/phala-dcap-qvl/tdx_quote_v4.collateral.json"
FEB_2026_COLLATERAL = "intel-tdx/phala-dcap-qvl/fmspc_90C06F000000_2026-02-18.collateral.json"
TINFOIL = "intel-tdx/tinfoil-verifier/tdx_quote_v4.bin"
TINFOIL_COLLATERAL = "intel-tdx/tinfoil-verifier/fmspc_90c06f000000_2026-01-12.collateral.json"
DSTACK = "intel-tdx/dstack/quote-report.json"
PHALA_AT = datetime.datetime(2025, 6, 20, tzinfo=datetime.UTC)
RECORDED_CASES = 13

Expected = dict[str, dict[str, dict[str, str]]]


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_recorded_verification_is_exercised(expected: dict[str, list[object]]) -> None:
    assert len(expected["verifications"]) == RECORDED_CASES


@pytest.mark.parametrize("case", range(RECORDED_CASES))
def test_recorded_outcome(
    case: int,
    expected: dict[str, list[dict[str, object]]],
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
) -> None:
    recorded = {key: str(value) for key, value in expected["verifications"][case].items()}
    advisories = expected["verifications"][case].get("advisory_ids")
    quote, collateral = load_quote(recorded["quote"]), load_collateral(recorded["collateral"])
    at = utc(recorded["at"])
    if recorded["quote"].endswith("sgx_quote_v3.bin"):
        # dcap-qvl accepts this SGX quote; a TDX verifier must not.
        with pytest.raises(QuoteVerificationError, match=r"tee_type is 0x0, expected TDX"):
            verify_tdx_quote(quote, collateral, at=at)
    elif recorded["result"] == "ok":
        verified = verify_tdx_quote(quote, collateral, at=at)
        assert verified.tcb.status == recorded["tcb_status"] == "UpToDate"
        assert list(verified.tcb.advisory_ids) == advisories
    else:
        reason = recorded["error"].removeprefix("Verification failed: ")
        with pytest.raises(QuoteVerificationError, match=reason):
            verify_tdx_quote(quote, collateral, at=at)


# Offsets into the v4 quote: header user data, MRTD, RTMR3, REPORTDATA, the quote signature, the
# attestation key, the QE report, its signature, the PCK certificate PEM.
@pytest.mark.parametrize(
    ("offset", "part"),
    [
        (30, "header user data"),
        (190, "MRTD"),
        (530, "RTMR3"),
        (600, "report_data"),
        (640, "quote signature"),
        (710, "attestation key"),
        (800, "QE report"),
        (1150, "QE report signature"),
        (1400, "PCK certificate"),
    ],
)
def test_a_flipped_bit_anywhere_in_the_signed_evidence_is_rejected(
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
    offset: int,
    part: str,
) -> None:
    quote = bytearray(load_quote(PHALA_V4))
    quote[offset] ^= 0x01
    with pytest.raises(QuoteVerificationError, match="quote rejected"):
        verify_tdx_quote(bytes(quote), load_collateral(PHALA_V4_COLLATERAL), at=PHALA_AT)


def test_unsigned_padding_after_the_signature_area_is_ignored(
    load_quote: Callable[[str], bytes], load_collateral: Callable[[str], Collateral]
) -> None:
    quote = bytearray(load_quote(PHALA_V4))
    quote[-1] ^= 0xFF  # real v4 quotes end with 70 zero bytes that no signature covers
    assert verify_tdx_quote(bytes(quote), load_collateral(PHALA_V4_COLLATERAL), at=PHALA_AT)


def test_quote_forged_under_a_lookalike_intel_root_is_rejected(
    load_quote: Callable[[str], bytes], load_collateral: Callable[[str], Collateral]
) -> None:
    genuine_quote, genuine_collateral = load_quote(PHALA_V4), load_collateral(PHALA_V4_COLLATERAL)
    pki = ForeignPki(genuine_quote, genuine_collateral)
    forged_quote = pki.forge_quote(genuine_quote, body_end=632)
    forged_collateral = pki.forge_collateral(genuine_collateral)
    # Control: the forgery is complete, so only the trust anchor tells it apart.
    control = dcap_qvl.verify_with_root_ca(
        forged_quote,
        dcap_qvl.QuoteCollateralV3.from_json(forged_collateral.to_json()),
        pki.root_der,
        int(PHALA_AT.timestamp()),
    )
    assert control.status == "UpToDate"
    assert parse_tdx_quote(forged_quote) == parse_tdx_quote(genuine_quote)
    with pytest.raises(QuoteVerificationError, match="certificate chain"):
        verify_tdx_quote(forged_quote, genuine_collateral, at=PHALA_AT)
    with pytest.raises(QuoteVerificationError, match="root CA CRL"):
        verify_tdx_quote(forged_quote, forged_collateral, at=PHALA_AT)
    with pytest.raises(QuoteVerificationError, match="root CA CRL"):
        verify_tdx_quote(genuine_quote, forged_collateral, at=PHALA_AT)


def test_collateral_for_another_platform_is_rejected(
    load_quote: Callable[[str], bytes], load_collateral: Callable[[str], Collateral]
) -> None:
    with pytest.raises(QuoteVerificationError, match="Fmspc mismatch"):
        verify_tdx_quote(
            load_quote(PHALA_V4), load_collateral(FEB_2026_COLLATERAL), at=utc("2026-02-19T00:00:00Z")
        )


def test_tcb_info_with_an_edited_status_is_rejected(
    load_quote: Callable[[str], bytes], load_collateral: Callable[[str], Collateral]
) -> None:
    genuine = load_collateral(PHALA_V4_COLLATERAL)
    edited = Collateral(**{**genuine.__dict__, "tcb_info": genuine.tcb_info.replace("OutOfDate", "UpToDate")})
    assert edited.tcb_info != genuine.tcb_info
    with pytest.raises(QuoteVerificationError, match="quote rejected"):
        verify_tdx_quote(load_quote(PHALA_V4), edited, at=PHALA_AT)


@pytest.mark.parametrize(
    "statuses",
    [frozenset({"UpToDate", "Revoked"}), frozenset({"UpToDate", "Fine"}), frozenset({"OutOfDate"})],
)
def test_tcb_allow_list_cannot_admit_revoked_unknown_or_drop_up_to_date(statuses: frozenset[str]) -> None:
    with pytest.raises(AttestationFormatError):
        check_allowed_statuses(statuses)


def test_verification_time_must_be_timezone_aware(
    load_quote: Callable[[str], bytes], load_collateral: Callable[[str], Collateral]
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_tdx_quote(
            load_quote(PHALA_V4), load_collateral(PHALA_V4_COLLATERAL), at=datetime.datetime(2025, 6, 20)
        )


@pytest.mark.parametrize(
    ("vector", "collateral", "at"),
    [
        (TINFOIL, TINFOIL_COLLATERAL, "2026-01-20T00:00:00Z"),  # SHA-256(TLS SPKI) ‖ HPKE key
        (DSTACK, FEB_2026_COLLATERAL, "2026-02-19T00:00:00Z"),  # 1234 then zeros
    ],
)
def test_binding_step_on_real_report_data(
    vector: str,
    collateral: str,
    at: str,
    expected: Expected,
    load_quote: Callable[[str], bytes],
    load_collateral: Callable[[str], Collateral],
) -> None:
    verified = verify_tdx_quote(load_quote(vector), load_collateral(collateral), at=utc(at))
    real = bytes.fromhex(expected["quotes"][f"intel-tdx/{vector.split('/', 1)[1]}"]["report_data"])
    check_binding(verified.quote.report_data, real)
    for index in (0, 31, 32, 63):
        wrong = bytearray(real)
        wrong[index] ^= 0x80
        with pytest.raises(BindingMismatch, match="report_data does not bind"):
            check_binding(verified.quote.report_data, bytes(wrong))
