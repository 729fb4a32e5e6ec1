"""The attested OpenAI client (``reporting.client``) against the real gateway.

The client attests every new TLS connection before it writes a request on it; the gateway serves
``/v1/attestation`` on the same TLS key it was attested with. A production policy must refuse the
simulated gateway before any prompt leaves the client: the gateway's audit log, which gets a verdict
entry for every chat request that reaches the pipeline, must not grow.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from gateway_harness import MODEL, RunningGateway

from audit_log import Mode
from inference.attestation import (
    AttestationPolicy,
    ReferenceValues,
    UnsafeAcceptSimulated,
    VerifiedAttestation,
)
from reporting.client import AsyncOpenAI, AttestationRefused, OpenAI

CANARY = "CANARY-attest-2d9c41"


def test_attested_client_sends_its_prompt_to_the_gateway(gateway: RunningGateway) -> None:
    verified: list[VerifiedAttestation] = []
    client = OpenAI(
        attestation_policy=UnsafeAcceptSimulated(),
        base_url=gateway.base_url,
        api_key="unused",
        on_verified=verified.append,
        max_retries=0,
    )
    try:
        answer = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"echo: hello {CANARY}"}]
        )
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "echo: streamed too"}], stream=True
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    finally:
        client.close()
    assert answer.choices[0].message.content == f"hello {CANARY}"
    assert streamed == "streamed too"
    (attestation,) = verified  # one connection, attested once
    claims = attestation.claims
    assert attestation.mode is Mode.SIMULATED
    assert claims.tls_spki_sha256 == gateway.gateway.tls.spki_sha256
    assert claims.policy_sha256.hex() == gateway.gateway.policy.sha256
    assert claims.log_signing_key == gateway.vkey().public_key.public_bytes_raw()
    assert claims.log_origin == gateway.gateway.log_origin


async def test_async_attested_client_works_end_to_end(gateway: RunningGateway) -> None:
    client = AsyncOpenAI(
        attestation_policy=UnsafeAcceptSimulated(), base_url=gateway.base_url, api_key="unused", max_retries=0
    )
    try:
        answer = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "echo: async hello"}]
        )
    finally:
        await client.close()
    assert answer.choices[0].message.content == "async hello"


def test_production_policy_refuses_the_simulated_gateway_and_sends_nothing(
    gateway: RunningGateway, vectors: Path
) -> None:
    recorded = json.loads((vectors / "attestation" / "expected.json").read_text())["quotes"]
    quote = recorded["intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin"]
    registers = ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id")
    entry = {"name": "phala sample", **{r: quote[r] for r in registers}}
    reference = ReferenceValues.from_json(json.dumps({"v": 1, "measurements": [entry]}))
    client = OpenAI(
        attestation_policy=AttestationPolicy.production(reference_values=reference),
        base_url=gateway.base_url,
        api_key="unused",
        max_retries=0,
    )
    size_before = gateway.gateway.log.size
    try:
        with pytest.raises(AttestationRefused):
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": CANARY}])
    finally:
        client.close()
    assert gateway.gateway.log.size == size_before, "a request reached the pipeline"


def test_reused_nonce_is_refused_409(gateway: RunningGateway) -> None:
    nonce = secrets.token_hex(32)
    with gateway.http() as http:
        first = http.get(f"/v1/attestation?nonce={nonce}")
        again = http.get(f"/v1/attestation?nonce={nonce}")
    assert first.status_code == 200
    assert json.loads(first.content)["nonce"] is not None
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "nonce_replayed"


@pytest.mark.parametrize(
    "query", ["", "?nonce=abc", "?nonce=" + "AB" * 32, "?nonce=" + "ab" * 32 + "&nonce=x"]
)
def test_malformed_nonce_is_400(gateway: RunningGateway, query: str) -> None:
    with gateway.http() as http:
        response = http.get("/v1/attestation" + query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_nonce"
