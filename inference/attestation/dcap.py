"""Intel DCAP quote verification through ``dcap-qvl``: the only module that imports it.

Spec: Intel SGX/TDX DCAP Quote Verification (quote signature by the attestation key, QE report
signed by the PCK key, PCK chain to Intel's SGX root, CRLs, TCB info and QE identity signed by
Intel and valid at the given time, TCB level matching). ``dcap-qvl``'s strict policy is used with
three relaxations that real cloud TDX hosts need (their PCK certificates say dynamic platform,
cached keys and SMT; see the vectors' README); the TCB status must be ``UpToDate`` unless the
caller allow-lists others. ``Revoked`` can never be allowed. Every failure, whatever the binding
raises, becomes :class:`QuoteVerificationError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import dcap_qvl

from inference.attestation.document import Collateral
from inference.attestation.errors import AttestationFormatError, QuoteVerificationError

TCB_UP_TO_DATE = "UpToDate"
ALLOWABLE_TCB_STATUSES = frozenset(
    {
        "UpToDate",
        "SWHardeningNeeded",
        "ConfigurationNeeded",
        "ConfigurationAndSWHardeningNeeded",
        "OutOfDate",
        "OutOfDateConfigurationNeeded",
    }
)
_MESSAGE_LIMIT = 200


def check_allowed_statuses(statuses: frozenset[str]) -> None:
    """Reject an allow-list naming an unknown status or ``Revoked``."""
    unknown = sorted(statuses - ALLOWABLE_TCB_STATUSES)
    if unknown:
        raise AttestationFormatError(f"TCB statuses cannot be allowed: {unknown}")
    if TCB_UP_TO_DATE not in statuses:
        raise AttestationFormatError("the TCB status allow-list must include UpToDate")


@dataclass(frozen=True)
class TcbVerdict:
    """What ``dcap-qvl`` established about a quote, plus the registers it read from the signed body."""

    status: str
    advisory_ids: tuple[str, ...]
    tcb_eval_data_number: int
    signed_registers: dict[str, str]


def verify_quote(
    quote: bytes, collateral: Collateral, at_unix: int, allowed_statuses: frozenset[str]
) -> TcbVerdict:
    """Verify signature, chain, collateral validity at ``at_unix`` and TCB status of ``quote``."""
    check_allowed_statuses(allowed_statuses)
    try:
        parsed_collateral = dcap_qvl.QuoteCollateralV3.from_json(collateral.to_json())
        policy = (
            dcap_qvl.QuotePolicy.strict(at_unix)
            .allow_dynamic_platform(True)
            .allow_cached_keys(True)
            .allow_smt(True)
        )
        for status in sorted(allowed_statuses - {TCB_UP_TO_DATE}):
            policy = policy.allow_status(status)
        claims = dcap_qvl.QuoteVerifier().verify_with_policy(quote, parsed_collateral, at_unix, policy)
        report = json.loads(claims.to_json())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust binding may raise a pyo3 PanicException (BaseException)
        detail = str(exc).removeprefix("Verification failed: ")[:_MESSAGE_LIMIT]
        raise QuoteVerificationError(f"quote rejected by DCAP verification: {detail}") from exc
    return _verdict(report)


def _verdict(report: object) -> TcbVerdict:
    try:
        if not isinstance(report, dict):
            raise TypeError("claims are not a JSON object")
        tcb = report["tcb"]
        (body,) = report["report"].values()
        signed = body.get("base", body)  # TDREPORT 1.5 nests the 1.0 fields under "base"
        registers = {
            name: str(signed[name])
            for name in (
                "mr_td",
                "rt_mr0",
                "rt_mr1",
                "rt_mr2",
                "rt_mr3",
                "mr_config_id",
                "td_attributes",
                "report_data",
            )
        }
        return TcbVerdict(
            status=str(tcb["status"]),
            advisory_ids=tuple(str(a) for a in tcb["advisory_ids"]),
            tcb_eval_data_number=int(tcb["eval_data_number"]),
            signed_registers=registers,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise QuoteVerificationError("dcap-qvl returned claims of an unexpected shape") from exc
