"""An authority trusts a disclosure only through the deployment's attestation.

A live gateway seals a disclosure; the authority fetches the start-up attestation, and
``veritee authority open --attestation`` verifies it, takes the log key from its claims, opens the
envelope and checks that the disclosure names exactly that attestation. An attestation from
another start of the same deployment (same log key, new TLS key) is refused: the disclosure is bound
to the attestation of the run that made it.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from audit_log.formats import jcs
from disclosure import OUTBOX_TOPIC
from inference import BackgroundGateway, Settings, demo_key_path
from reporting.demo import DISCLOSURE_PROMPT, MODEL


def _http(listening_url: str, certificate_pem: bytes) -> httpx.Client:
    context = ssl.create_default_context(cadata=certificate_pem.decode())
    context.check_hostname = False
    return httpx.Client(base_url=listening_url, verify=context, timeout=30)


def _run_and_seal(data_dir: Path, out: Path) -> tuple[Path, Path]:
    """Start a gateway, trigger one disclosure; return the envelope and start-up attestation files."""
    with BackgroundGateway(Settings(data_dir=data_dir, port=0)) as listening:
        assert listening.certificate_pem is not None
        with _http(listening.url, listening.certificate_pem) as http:
            blocked = http.post(
                "/v1/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": DISCLOSURE_PROMPT}]},
            )
            assert blocked.status_code == 451
            attestation = http.get("/v1/attestation/startup")
            assert attestation.status_code == 200
        rows = [r for r in listening.gateway.log.outbox_after(0, 1000) if r.topic == OUTBOX_TOPIC]
    assert rows, "the CSAM probe did not reach disclosure confidence"
    envelope, startup = out / "envelope.json", out / "startup-attestation.json"
    envelope.write_bytes(rows[-1].payload)
    startup.write_bytes(attestation.content)
    return envelope, startup


def _open(envelope: Path, key: Path, attestation: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "reporting.cli", "authority", "open", str(envelope),
            "--key", str(key), "--attestation", str(attestation), "--last-seq", "0", *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_disclosure_opens_only_under_the_attestation_of_the_run_that_sealed_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "gateway"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    envelope, startup = _run_and_seal(data_dir, first)
    _, restarted = _run_and_seal(data_dir, second)
    authority = jcs.parse_object(envelope.read_bytes())["authority"]
    key = demo_key_path(data_dir, str(authority))

    # A simulated attestation is refused unless the authority explicitly accepts simulation.
    refused = _open(envelope, key, startup)
    assert refused.returncode == 1
    assert "SIMULATED" in refused.stderr
    assert refused.stdout == ""

    opened = _open(envelope, key, startup, "--allow-simulated")
    assert opened.returncode == 0, opened.stderr
    statement = jcs.parse_object(opened.stdout)
    assert statement["risk_category"] == "csam"
    assert statement["mode"] == "simulated"
    assert "SIMULATED" in opened.stderr

    # Same log key, another start: the envelope verifies under the key but names another attestation.
    mismatched = _open(envelope, key, restarted, "--allow-simulated")
    assert mismatched.returncode == 1
    assert "names another attestation" in mismatched.stderr
    assert mismatched.stdout == ""


def test_open_needs_exactly_one_source_of_the_tee_key(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "reporting.cli", "authority", "open", str(tmp_path / "e.json"), "--key", "k"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
