"""``veritee authority keygen`` / ``open`` end to end: real files, real exit codes.

keygen writes the key pair; the TEE side seals in process to the public key read back from the
policy entry keygen wrote; ``open`` decrypts and verifies. The main paths run the installed
``veritee`` in a subprocess; the matrix of failures runs the same typer app in process (typer's
``CliRunner``), which keeps the suite fast: every subprocess pays the CLI's full import time. Nothing
that did not verify may reach standard output.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audit_log import Mode
from audit_log.checkpoint import Checkpoint, sign_checkpoint
from audit_log.formats import jcs
from audit_log.formats.note import NoteSigner
from audit_log.merkle import CompactRange, inclusion_proof, leaf_hash
from audit_log.receipt import Receipt
from disclosure import (
    DisclosureContext,
    DisclosurePolicy,
    Ed25519DsseSigner,
    SealedDisclosure,
    SessionHasher,
    disclosures_for,
    seal_disclosure,
)
from reporting.cli import app

VERITEE = str(Path(sys.executable).with_name("veritee"))
ORIGIN = "veritee.test/log"
CANARY = "CANARY-cli_31c9 do-not-leak"


def veritee(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the installed console script."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [VERITEE, *map(str, args)], capture_output=True, text=True, timeout=60, check=False, env=env
    )


def veritee_in_process(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the same typer app in this process; same shape of result as :func:`veritee`."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@dataclass
class Tee:
    """The TEE side of the test: its log key and a policy built from keygen's public key entry."""

    policy: DisclosurePolicy
    log_key: Ed25519PrivateKey
    vkey_path: Path

    def seal(self, seq: int, mode: Mode = Mode.PRODUCTION) -> SealedDisclosure:
        (trigger,) = disclosures_for("csam", 0.9997, self.policy)
        context = DisclosureContext(
            log_index=0,
            session_id=CANARY,
            content_sha256="ab" * 32,
            policy_version=self.policy.policy_version,
            attestation_sha256="cd" * 32,
            mode=mode,
            at=datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC),
        )
        return seal_disclosure(
            trigger,
            seq=seq,
            context=context,
            sessions=SessionHasher(b"s" * 32),
            signer=Ed25519DsseSigner(self.log_key, mode),
        )


def keygen(
    tmp_path: Path, suite: str, *extra: str, run: Callable[..., subprocess.CompletedProcess[str]] = veritee
) -> Tee:
    result = run("authority", "keygen", "--out", tmp_path / "keys", "--id", "ncmec", "--suite", suite, *extra)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    document = tomllib.loads((tmp_path / "keys" / "ncmec.pub.toml").read_text())
    document |= {"version": "cli-test", "categories": {"csam": {"authority": "ncmec"}}}
    log_key = Ed25519PrivateKey.generate()
    vkey_path = tmp_path / "log.vkey"
    vkey_path.write_text(NoteSigner(ORIGIN, log_key).verifier.vkey + "\n")
    return Tee(DisclosurePolicy.from_policy_mapping(document), log_key, vkey_path)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("suite", "run"),
    [("hpke-xwing", veritee), ("x25519-sealedbox", veritee_in_process)],
    ids=["hpke-xwing-subprocess", "x25519-sealedbox-in-process"],
)
def test_keygen_seal_open_round_trip_with_state_and_replay(
    tmp_path: Path, suite: str, run: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    tee = keygen(tmp_path, suite, run=run)
    key = tmp_path / "keys" / "ncmec.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    envelope = write(tmp_path / "d1.json", tee.seal(1).envelope_bytes)
    state = tmp_path / "seq.json"
    opened = run("authority", "open", envelope, "--key", key, "--tee-key", tee.vkey_path, "--state", state)
    assert opened.returncode == 0, opened.stderr
    statement = json.loads(opened.stdout)
    assert statement["risk_category"] == "csam"
    assert statement["seq"] == 1
    assert statement["mode"] == "production"
    assert "NOT CHECKED (no --proof)" in opened.stderr
    assert json.loads(state.read_text())["streams"]

    replayed = run("authority", "open", envelope, "--key", key, "--tee-key", tee.vkey_path, "--state", state)
    assert replayed.returncode == 1
    assert replayed.stdout == ""
    assert "already opened" in replayed.stderr

    gap = write(tmp_path / "d3.json", tee.seal(3).envelope_bytes)
    skipped = run("authority", "open", gap, "--key", key, "--tee-key", tee.vkey_path, "--state", state)
    assert (skipped.returncode, skipped.stdout) == (1, "")
    assert "withheld or lost" in skipped.stderr


def test_open_with_inclusion_proof_and_passphrase(tmp_path: Path) -> None:
    passphrase = write(tmp_path / "pass.txt", b"correct horse battery staple\n")
    tee = keygen(tmp_path, "hpke-xwing", "--passphrase-file", str(passphrase))
    sealed = tee.seal(1)
    entries = [
        jcs.canonicalize({"v": 1, "seq": 0, "kind": "verdict", "body": {}}),
        jcs.canonicalize({"v": 1, "seq": 1, "kind": "disclosure", "body": sealed.audit_entry_body}),
    ]
    tree, nodes = CompactRange(), {}
    for data in entries:
        nodes.update({(level, index): node for level, index, node in tree.append(leaf_hash(data))})
    note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), NoteSigner(ORIGIN, tee.log_key))
    proof = inclusion_proof(1, 2, lambda level, index: nodes[(level, index)])
    receipt = write(tmp_path / "receipt.txt", Receipt(1, tuple(proof), note, entries[1]).to_bytes())
    envelope = write(tmp_path / "d1.json", sealed.envelope_bytes)
    key = tmp_path / "keys" / "ncmec.key"
    base = ("authority", "open", envelope, "--key", key, "--tee-key", tee.vkey_path, "--last-seq", "0")

    opened = veritee(
        *base,
        "--passphrase-file",
        passphrase,
        "--proof",
        receipt,
        "--checkpoint",
        write(tmp_path / "cp", note),
    )
    assert opened.returncode == 0, opened.stderr
    assert f"in log       {ORIGIN} at size 2" in opened.stderr
    assert json.loads(opened.stdout)["disclosure_id"] == sealed.envelope.disclosure_id

    wrong = write(tmp_path / "wrong.txt", b"incorrect horse\n")
    refused = veritee_in_process(*base, "--passphrase-file", wrong)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert "wrong passphrase" in refused.stderr


def test_open_failures_print_nothing_and_exit_with_the_right_code(tmp_path: Path) -> None:
    tee = keygen(tmp_path, "x25519-sealedbox", run=veritee_in_process)
    key = tmp_path / "keys" / "ncmec.key"
    sealed = json.loads(tee.seal(1).envelope_bytes)
    tampered = bytearray(tee.seal(1).envelope.ciphertext)
    tampered[100] ^= 1

    cases = {
        "tampered": (
            jcs.canonicalize({**sealed, "ciphertext": base64.b64encode(bytes(tampered)).decode()}),
            1,
            "does not open",
        ),
        "malformed": (b"{not json", 2, "bad input"),
        "unknown-suite": (jcs.canonicalize({**sealed, "suite": "rsa"}), 2, "unknown suite"),
        "re-addressed": (jcs.canonicalize({**sealed, "seq": 7}), 1, "re-addressed"),
        "simulated": (tee.seal(1, Mode.SIMULATED).envelope_bytes, 1, "SIMULATED"),
        "oversized": (b" " * ((1 << 20) + 1), 2, "larger than"),
    }
    for name, (data, code, message) in cases.items():
        result = veritee_in_process(
            "authority",
            "open",
            write(tmp_path / f"{name}.json", data),
            "--key",
            key,
            "--tee-key",
            tee.vkey_path,
        )
        assert (name, result.returncode, result.stdout) == (name, code, ""), result.stderr
        assert message in result.stderr, (name, result.stderr)
        assert CANARY not in result.stderr
        assert "Traceback" not in result.stderr

    simulated = tmp_path / "simulated.json"
    allowed = veritee_in_process(
        "authority", "open", simulated, "--key", key, "--tee-key", tee.vkey_path, "--allow-simulated"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "SIMULATED DISCLOSURE" in allowed.stderr
    assert json.loads(allowed.stdout)["mode"] == "simulated"
