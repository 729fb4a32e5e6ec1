"""Offline verification of attestation documents: a policy object that fails closed.

Spec: DESIGN.md "Attestation document", STYLE.md §4 (a policy has one method; it takes the subject
and ``at`` and returns the verified value or raises). :class:`AttestationPolicy` is the production
verifier; :class:`UnsafeAcceptSimulated` (demos and tests only, a warning on every use) also accepts
simulated documents and marks the result SIMULATED. Any exception inside a verification, of any
type, surfaces as :class:`AttestationVerificationError`: nothing unverified is ever returned.

The quote step (:func:`verify_tdx_quote`) and the binding step (:func:`check_binding`) are separate
functions, so each can be exercised on real hardware quotes, which cannot carry veritee's claims.
"""

from __future__ import annotations

import datetime
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from audit_log import Mode
from inference.attestation.claims import Claims, report_data
from inference.attestation.dcap import TCB_UP_TO_DATE, TcbVerdict, check_allowed_statuses, verify_quote
from inference.attestation.document import AttestationDocument, Collateral, Platform
from inference.attestation.errors import (
    AttestationError,
    AttestationVerificationError,
    BindingMismatch,
    MeasurementMismatch,
    QuoteVerificationError,
    SimulatedAttestationRejected,
)
from inference.attestation.event_log import replay
from inference.attestation.expectations import ExpectedClaims
from inference.attestation.reference_values import ReferenceValues
from inference.attestation.simulated import is_simulated_quote, simulated_report_data
from inference.attestation.tdx_quote import TdxMeasurements, TdxQuote, parse_tdx_quote

logger = logging.getLogger(__name__)

RESULT_VERIFIED = "VERIFIED"
RESULT_SIMULATED = "SIMULATED"

_T = TypeVar("_T")


@dataclass(frozen=True)
class VerifiedQuote:
    """A TDX quote whose signature, chain, collateral and TCB status verified at a given time."""

    quote: TdxQuote
    tcb: TcbVerdict


@dataclass(frozen=True)
class VerifiedAttestation:
    """Claims that verified, with the evidence summary a report or CLI shows."""

    mode: Mode
    platform: Platform
    claims: Claims
    attestation_sha256: bytes
    verified_at: datetime.datetime
    tcb_status: str | None = None
    advisory_ids: tuple[str, ...] = ()
    measurements: TdxMeasurements | None = None
    reference_entry: str | None = None
    event_log_replayed: bool = False

    @property
    def simulated(self) -> bool:
        return self.mode is Mode.SIMULATED

    def to_json_object(self) -> dict[str, object]:
        return {
            "result": RESULT_SIMULATED if self.simulated else RESULT_VERIFIED,
            "mode": self.mode.value,
            "platform": self.platform.value,
            "verified_at": _rfc3339(self.verified_at),
            "attestation_sha256": self.attestation_sha256.hex(),
            "tcb_status": self.tcb_status,
            "advisory_ids": list(self.advisory_ids),
            "measurements": None if self.measurements is None else self.measurements.to_json_object(),
            "reference_entry": self.reference_entry,
            "event_log_replayed": self.event_log_replayed,
            "claims": self.claims.to_json_object(),
        }


class AttestationVerifier(Protocol):
    """One method: verify ``document`` for ``nonce`` at ``at``; return verified claims or raise."""

    def verify(
        self, document: AttestationDocument, nonce: bytes, at: datetime.datetime
    ) -> VerifiedAttestation: ...


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _unix_seconds(at: datetime.datetime) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("verification time must be timezone-aware")
    return int(at.timestamp())


def _fail_closed(body: Callable[[], _T]) -> _T:
    """Run a verification; any failure that is not already a verification error becomes one."""
    try:
        return body()
    except AttestationVerificationError:
        raise
    except AttestationError as exc:
        raise AttestationVerificationError(f"attestation rejected: {exc}") from exc
    except Exception as exc:
        raise AttestationVerificationError(
            f"attestation rejected: verification aborted by {type(exc).__name__}"
        ) from exc


def verify_tdx_quote(
    quote: bytes,
    collateral: Collateral,
    *,
    at: datetime.datetime,
    allowed_tcb_statuses: frozenset[str] = frozenset({TCB_UP_TO_DATE}),
) -> VerifiedQuote:
    """Steps 3-6 of production verification, on raw quote bytes."""
    at_unix = _unix_seconds(at)
    # Step 3 (Intel TDX DCAP quote format): header version 4/5, TEE type 0x81, ECDSA-P256
    # attestation key, Intel QE vendor id; TD report body read at its documented offsets.
    try:
        parsed = parse_tdx_quote(quote)
    except AttestationError as exc:
        raise QuoteVerificationError(f"quote rejected: {exc}") from exc
    # Step 4 (Intel DCAP quote verification): ECDSA signature over header and body by the
    # attestation key, QE report signed by the PCK key, PCK chain to Intel's root, CRLs, TCB info and
    # QE identity signed by Intel and valid at ``at``, TCB status in the allow-list.
    tcb = verify_quote(quote, collateral, at_unix, allowed_tcb_statuses)
    # Step 5: the registers read in step 3 are the ones dcap-qvl found in the signed body.
    ours = {
        "mr_td": parsed.measurements.mrtd,
        **{f"rt_mr{i}": rtmr for i, rtmr in enumerate(parsed.measurements.rtmrs)},
        "mr_config_id": parsed.measurements.mr_config_id,
        "td_attributes": parsed.td_attributes,
        "report_data": parsed.report_data,
    }
    disagreeing = [name for name, value in ours.items() if tcb.signed_registers.get(name) != value.hex()]
    if disagreeing:
        raise QuoteVerificationError(f"quote parser and dcap-qvl disagree on {', '.join(disagreeing)}")
    # Step 6 (TDX Module ABI, TDATTRIBUTES.DEBUG): a debug TD's memory is open to the host.
    if parsed.debug:
        raise QuoteVerificationError("quote comes from a debug TD (TDATTRIBUTES.DEBUG set)")
    return VerifiedQuote(parsed, tcb)


def check_binding(quote_report_data: bytes, expected_report_data: bytes) -> None:
    """Constant-time comparison of a quote's report_data with the value the verifier computed."""
    if len(expected_report_data) != 64 or not hmac.compare_digest(quote_report_data, expected_report_data):
        raise BindingMismatch("quote report_data does not bind these claims and this nonce")


def _check_nonce(document: AttestationDocument, nonce: bytes) -> None:
    # Step 2 (freshness): the document answers this verifier's nonce, not someone else's.
    if not hmac.compare_digest(document.nonce, nonce):
        raise BindingMismatch("document nonce differs from the nonce this verifier sent")


@dataclass(frozen=True)
class AttestationPolicy:
    """The production verifier: real Intel TDX evidence only, measured, bound and as expected."""

    reference_values: ReferenceValues
    expected_claims: ExpectedClaims = field(default_factory=ExpectedClaims)
    allowed_tcb_statuses: frozenset[str] = frozenset({TCB_UP_TO_DATE})
    collateral: Collateral | None = None

    def __post_init__(self) -> None:
        check_allowed_statuses(self.allowed_tcb_statuses)

    @classmethod
    def production(
        cls,
        *,
        reference_values: ReferenceValues,
        expected_claims: ExpectedClaims | None = None,
        allowed_tcb_statuses: frozenset[str] = frozenset({TCB_UP_TO_DATE}),
        collateral: Collateral | None = None,
    ) -> AttestationPolicy:
        """The production policy; ``collateral``, when given, replaces the document's."""
        return cls(reference_values, expected_claims or ExpectedClaims(), allowed_tcb_statuses, collateral)

    def verify(
        self, document: AttestationDocument, nonce: bytes, at: datetime.datetime
    ) -> VerifiedAttestation:
        return _fail_closed(lambda: self._verify(document, nonce, at))

    def _verify(
        self, document: AttestationDocument, nonce: bytes, at: datetime.datetime
    ) -> VerifiedAttestation:
        # Step 1 (DESIGN.md, trust boundaries): simulated evidence is never production. The mode
        # decides (and with it the claims' mode, domain string and sim: key id, which the document
        # keeps consistent); a simulated quote under a production label is rejected by name too.
        if document.mode is not Mode.PRODUCTION:
            raise SimulatedAttestationRejected(
                "document mode is simulated; the production policy never accepts it"
            )
        if is_simulated_quote(document.quote):
            raise SimulatedAttestationRejected("quote is a SIMULATED-NOT-A-TEE quote")
        _check_nonce(document, nonce)  # step 2
        collateral = self.collateral or document.collateral
        if collateral is None:
            raise QuoteVerificationError(
                "no collateral: supply Intel PCS collateral for this quote's FMSPC (--collateral)"
            )
        verified = verify_tdx_quote(  # steps 3-6
            document.quote, collateral, at=at, allowed_tcb_statuses=self.allowed_tcb_statuses
        )
        # Step 7: MRTD, RTMR0-3 and MRCONFIGID match one reference entry.
        measurements = verified.quote.measurements
        reference_entry = self.reference_values.match(measurements)
        # Step 8 (TDG.MR.RTMR.EXTEND): an event log, when present, replays to the quoted RTMRs.
        if document.event_log is not None and replay(document.event_log) != measurements.rtmrs:
            raise MeasurementMismatch("event log does not replay to the quoted RTMR values")
        # Step 9 (DESIGN.md): report_data = SHA-256("veritee-attest/v1\0" ‖ JCS(claims)) ‖ nonce.
        check_binding(verified.quote.report_data, report_data(document.claims, nonce))
        # Step 10: the claims are the ones this verifier expects (policy hash, log key, ...).
        self.expected_claims.check(document.claims)
        return VerifiedAttestation(
            mode=Mode.PRODUCTION,
            platform=document.platform,
            claims=document.claims,
            attestation_sha256=document.attestation_sha256,
            verified_at=at,
            tcb_status=verified.tcb.status,
            advisory_ids=verified.tcb.advisory_ids,
            measurements=measurements,
            reference_entry=reference_entry,
            event_log_replayed=document.event_log is not None,
        )


@dataclass(frozen=True)
class UnsafeAcceptSimulated:
    """Accepts SIMULATED documents (demos and tests only); production documents go to ``production``.

    A simulated document proves nothing about where the code runs: it only shows that the claims
    and nonce are bound the way a real quote would bind them. Every use logs a warning.
    """

    expected_claims: ExpectedClaims = field(default_factory=ExpectedClaims)
    production: AttestationPolicy | None = None

    def verify(
        self, document: AttestationDocument, nonce: bytes, at: datetime.datetime
    ) -> VerifiedAttestation:
        logger.warning("UnsafeAcceptSimulated in use: SIMULATED attestation is accepted (no TEE evidence)")
        if document.mode is Mode.PRODUCTION:
            if self.production is None:
                raise AttestationVerificationError(
                    "production document, but no production policy (reference values) was given"
                )
            return self.production.verify(document, nonce, at)
        return _fail_closed(lambda: self._verify_simulated(document, nonce, at))

    def _verify_simulated(
        self, document: AttestationDocument, nonce: bytes, at: datetime.datetime
    ) -> VerifiedAttestation:
        _unix_seconds(at)
        _check_nonce(document, nonce)
        claimed = simulated_report_data(document.quote)
        # The simulated domain string makes this binding useless for any production verifier.
        check_binding(claimed, report_data(document.claims, nonce))
        self.expected_claims.check(document.claims)
        return VerifiedAttestation(
            mode=Mode.SIMULATED,
            platform=document.platform,
            claims=document.claims,
            attestation_sha256=document.attestation_sha256,
            verified_at=at,
        )
