"""``veritee attest verify``: exit codes, SIMULATED labelling, and real quotes verified at fixed times."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_log import Mode
from inference.attestation import (
    AttestationDocument,
    Attester,
    Claims,
    Collateral,
    Platform,
    SimulatedQuoteProvider,
)
from reporting.cli import app

NONCE = bytes(range(32))
TINFOIL = "intel-tdx/tinfoil-verifier/tdx_quote_v4.bin"
TINFOIL_COLLATERAL = "intel-tdx/tinfoil-verifier/fmspc_90c06f000000_2026-01-12.collateral.json"
FEB_2026_COLLATERAL = "intel-tdx/phala-dcap-qvl/fmspc_90C06F000000_2026-02-18.collateral.json"


def veritee(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["attest", "verify", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def simulated(tmp_path: Path, make_claims: Callable[..., Claims]) -> tuple[Path, Claims]:
    claims = make_claims(Mode.SIMULATED)
    path = tmp_path / "simulated.json"
    path.write_bytes(Attester(SimulatedQuoteProvider(), claims).attest(NONCE).to_json())
    return path, claims


@pytest.fixture
def tinfoil(tmp_path: Path, vectors: Path, make_claims: Callable[..., Claims]) -> tuple[Path, Path]:
    """A production document around the real tinfoil quote, and reference values for it."""
    attestation = vectors / "attestation"
    document = AttestationDocument(
        mode=Mode.PRODUCTION,
        platform=Platform.INTEL_TDX,
        quote=(attestation / TINFOIL).read_bytes(),
        nonce=NONCE,
        claims=make_claims(Mode.PRODUCTION),
        collateral=Collateral.from_json((attestation / TINFOIL_COLLATERAL).read_bytes()),
    )
    recorded = json.loads((attestation / "expected.json").read_text())["quotes"][TINFOIL]
    registers = ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id")
    reference = {"v": 1, "measurements": [{"name": "tinfoil", **{r: recorded[r] for r in registers}}]}
    (tmp_path / "tinfoil.json").write_bytes(document.to_json())
    (tmp_path / "reference.json").write_text(json.dumps(reference))
    return tmp_path / "tinfoil.json", tmp_path / "reference.json"


def test_simulated_document_is_accepted_only_with_allow_simulated_and_says_so(
    simulated: tuple[Path, Claims],
) -> None:
    path, claims = simulated
    code, out, err = veritee(path, "--nonce", NONCE.hex(), "--allow-simulated")
    assert code == 0, err
    printed = json.loads(out)
    assert printed["result"] == "SIMULATED"
    assert printed["claims"] == claims.to_json_object()
    assert "SIMULATED" in err


def test_simulated_document_is_rejected_by_a_production_verification(
    simulated: tuple[Path, Claims], tinfoil: tuple[Path, Path]
) -> None:
    _, reference = tinfoil
    code, out, err = veritee(simulated[0], "--nonce", NONCE.hex(), "--reference-values", reference)
    assert code == 1
    assert out == ""
    assert "mode is simulated" in err


def test_production_verification_needs_reference_values(simulated: tuple[Path, Claims]) -> None:
    code, _, err = veritee(simulated[0], "--nonce", NONCE.hex())
    assert code == 2
    assert "--reference-values is required" in err


def test_wrong_nonce_fails_verification(simulated: tuple[Path, Claims]) -> None:
    code, out, err = veritee(simulated[0], "--nonce", "00" * 32, "--allow-simulated")
    assert (code, out) == (1, "")
    assert "nonce differs" in err


def test_wrong_policy_hash_fails_verification(simulated: tuple[Path, Claims], tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"v": 1, "expected_claims": {"policy_sha256": "ab" * 32}}))
    code, out, err = veritee(simulated[0], "--nonce", NONCE.hex(), "--allow-simulated", "--policy", policy)
    assert (code, out) == (1, "")
    assert "policy_sha256" in err


def test_expected_policy_hash_passes(simulated: tuple[Path, Claims], tmp_path: Path) -> None:
    path, claims = simulated
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"v": 1, "expected_claims": {"policy_sha256": claims.policy_sha256.hex()}}))
    code, _, err = veritee(path, "--nonce", NONCE.hex(), "--allow-simulated", "--policy", policy)
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--nonce", "xyz"), "nonce"),
        (("--nonce", NONCE.hex(), "--at", "yesterday"), "RFC 3339"),
        (("--nonce", NONCE.hex(), "--at", "2026-01-20T00:00:00"), "time zone"),
    ],
)
def test_bad_input_exits_2(simulated: tuple[Path, Claims], args: tuple[str, ...], message: str) -> None:
    code, _, err = veritee(simulated[0], *args, "--allow-simulated")
    assert code == 2
    assert message in err


def test_malformed_document_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "veritee-attestation/v1"')
    code, _, err = veritee(path, "--nonce", NONCE.hex(), "--allow-simulated")
    assert code == 2
    assert "not valid JSON" in err


def test_missing_document_exits_3(tmp_path: Path) -> None:
    code, _, _ = veritee(tmp_path / "absent.json", "--nonce", NONCE.hex(), "--allow-simulated")
    assert code == 3


def test_real_quote_is_verified_up_to_the_binding_it_cannot_carry(tinfoil: tuple[Path, Path]) -> None:
    document, reference = tinfoil
    args = (document, "--nonce", NONCE.hex(), "--reference-values", reference)
    code, _, err = veritee(*args, "--at", "2026-01-20T00:00:00Z")
    assert code == 1
    assert "report_data does not bind" in err
    code, _, err = veritee(*args, "--at", "2026-02-12T00:00:00Z")
    assert code == 1
    assert "TCBInfo expired" in err


def test_supplied_collateral_replaces_the_documents(tinfoil: tuple[Path, Path], vectors: Path) -> None:
    document, reference = tinfoil
    collateral = vectors / "attestation" / FEB_2026_COLLATERAL
    code, _, err = veritee(
        document, "--nonce", NONCE.hex(), "--reference-values", reference,
        "--collateral", collateral, "--at", "2026-02-19T00:00:00Z",
    )  # fmt: skip
    assert code == 1
    assert "report_data does not bind" in err
