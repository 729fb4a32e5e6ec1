"""``veritee attest verify``: check an attestation document offline and print its verified claims.

Verification follows ``inference/attestation/verify.py`` (quote, DCAP at ``--at``, reference values,
report_data binding, expected claims). Exit codes (reporting/cli/exit_codes.py): 0 verified (the
JSON on stdout says ``"result": "VERIFIED"``, or ``"SIMULATED"`` under ``--allow-simulated``),
1 the document does not verify, 2 bad input (malformed document, nonce, time or policy file; a
missing ``--reference-values``), 3 an unreadable file.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from inference.attestation import (
    AttestationDocument,
    AttestationFormatError,
    AttestationPolicy,
    AttestationVerifier,
    Collateral,
    PolicyFile,
    ReferenceValues,
    UnsafeAcceptSimulated,
    parse_nonce,
)
from reporting.cli.exit_codes import handled

app = typer.Typer(help="Attestation tools.", no_args_is_help=True)
err_console = Console(stderr=True)


def parse_time(text: str) -> datetime.datetime:
    """An RFC 3339 time with an explicit offset (``2025-06-20T00:00:00Z``)."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise AttestationFormatError("--at must be an RFC 3339 time such as 2025-06-20T00:00:00Z") from exc
    if moment.tzinfo is None:
        raise AttestationFormatError("--at needs a time zone (for example a trailing Z)")
    return moment


def build_verifier(
    policy_file: PolicyFile,
    reference_values: ReferenceValues | None,
    collateral: Collateral | None,
    allow_simulated: bool,
) -> AttestationVerifier:
    production = (
        None
        if reference_values is None
        else AttestationPolicy.production(
            reference_values=reference_values,
            expected_claims=policy_file.expected_claims,
            allowed_tcb_statuses=policy_file.allowed_tcb_statuses,
            collateral=collateral,
        )
    )
    if allow_simulated:
        return UnsafeAcceptSimulated(policy_file.expected_claims, production)
    if production is None:
        raise AttestationFormatError("--reference-values is required to verify a production attestation")
    return production


@app.command("verify")
def verify(
    document: Annotated[Path, typer.Argument(help="The attestation document (JSON).", dir_okay=False)],
    nonce: Annotated[str, typer.Option("--nonce", help="The 32-byte nonce you sent, as 64 hex digits.")],
    policy: Annotated[
        Path | None,
        typer.Option("--policy", dir_okay=False, help="Expected claims and allowed TCB statuses (JSON)."),
    ] = None,
    reference_values: Annotated[
        Path | None,
        typer.Option(
            "--reference-values", dir_okay=False, help="Accepted MRTD/RTMR/MRCONFIGID values (JSON)."
        ),
    ] = None,
    collateral: Annotated[
        Path | None,
        typer.Option(
            "--collateral",
            dir_okay=False,
            help="Intel PCS collateral (dcap-qvl JSON); replaces the document's.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Verify as of this RFC 3339 time instead of now."),
    ] = None,
    allow_simulated: Annotated[
        bool,
        typer.Option("--allow-simulated", help="Accept SIMULATED documents (demos and tests only)."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of a one-line error.")
    ] = False,
) -> None:
    """Verify an attestation document offline and print its verified claims as JSON."""

    with handled(debug):
        expected_nonce = parse_nonce(nonce)
        moment = parse_time(at) if at is not None else datetime.datetime.now(datetime.UTC)
        verifier = build_verifier(
            PolicyFile.from_json(policy.read_bytes()) if policy else PolicyFile(),
            ReferenceValues.from_json(reference_values.read_bytes()) if reference_values else None,
            Collateral.from_json(collateral.read_bytes()) if collateral else None,
            allow_simulated,
        )
        parsed = AttestationDocument.from_json(document.read_bytes())
        verified = verifier.verify(parsed, expected_nonce, moment)
        if verified.simulated:
            err_console.print(
                "[bold red]SIMULATED:[/] this attestation proves nothing about a TEE; "
                "accepted only because of --allow-simulated",
                highlight=False,
            )
        typer.echo(json.dumps(verified.to_json_object(), indent=2, sort_keys=True))
