"""The attested OpenAI client end to end against a real TLS server on loopback.

The server mounts the attestation router (simulated mode) and a minimal chat completions route.
Each refusal test plants a canary in the prompt and checks the server never received it.
"""

from __future__ import annotations

import datetime
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import openai
import pytest
from attested_server import ANSWER, Seen, make_app, serve_tls
from fastapi import APIRouter
from fastapi.responses import Response
from openai.types.chat import ChatCompletionMessageParam

from audit_log import Mode
from inference.attestation import (
    AttestationPolicy,
    AttestationVerifier,
    Attester,
    Claims,
    NonceStore,
    ReferenceValues,
    SimulatedAttestationRejected,
    SimulatedQuoteProvider,
    TlsIdentity,
    UnsafeAcceptSimulated,
    VerifiedAttestation,
    generate_tls_identity,
)
from inference.http.attest import attestation_router
from reporting.client import AsyncOpenAI, AttestationRefused, OpenAI

NOW = datetime.datetime.now(datetime.UTC)
CANARY = "CANARY-7f3a-do-not-deliver"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"hello {CANARY}"}]


class Gateway:
    """A running test server, what it has seen, and the claims it attests."""

    def __init__(self, base_url: str, seen: list[Seen], claims: Claims) -> None:
        self.base_url = base_url
        self.seen = seen
        self.claims = claims

    def paths(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.seen]

    def received_canary(self) -> bool:
        return any(CANARY.encode() in s.body for s in self.seen)


@pytest.fixture
def servers(tmp_path: Path, make_claims: Callable[..., Claims]) -> Iterator[Callable[..., Gateway]]:
    """Start gateways; ``attested_key`` lets the claims name another key than the one served."""
    with ExitStack() as stack:

        def start(
            attested_key: TlsIdentity | None = None, route: Callable[[Claims], APIRouter] | None = None
        ) -> Gateway:
            served = generate_tls_identity(now=NOW)
            claims = make_claims(Mode.SIMULATED, tls_spki_sha256=(attested_key or served).spki_sha256)
            seen: list[Seen] = []
            router = (
                route(claims) if route else attestation_router(SimulatedQuoteProvider(), claims, NonceStore())
            )
            directory = Path(tempfile.mkdtemp(dir=tmp_path))
            base_url = stack.enter_context(serve_tls(make_app(router, seen), served, directory))
            return Gateway(base_url, seen, claims)

        yield start


def client_for(
    gateway: Gateway,
    policy: AttestationVerifier,
    on_verified: Callable[[VerifiedAttestation], None] | None = None,
) -> openai.OpenAI:
    return OpenAI(
        attestation_policy=policy,
        base_url=f"{gateway.base_url}/v1",
        api_key="test-key",
        on_verified=on_verified,
    )


def test_prompt_goes_over_the_connection_that_was_attested(servers: Callable[..., Gateway]) -> None:
    gateway = servers()
    verified: list[VerifiedAttestation] = []
    client = client_for(gateway, UnsafeAcceptSimulated(), verified.append)
    first = client.chat.completions.create(model="local", messages=MESSAGES)
    second = client.chat.completions.create(model="local", messages=MESSAGES)
    assert first.choices[0].message.content == second.choices[0].message.content == ANSWER
    assert gateway.paths() == [
        "GET /v1/attestation",
        "POST /v1/chat/completions",
        "POST /v1/chat/completions",
    ]
    assert len({s.client_port for s in gateway.seen}) == 1  # one TLS connection for all three
    assert [v.claims for v in verified] == [gateway.claims]
    assert verified[0].simulated
    client.close()


def test_streaming_works_over_the_attested_connection(servers: Callable[..., Gateway]) -> None:
    gateway = servers()
    client = client_for(gateway, UnsafeAcceptSimulated())
    stream = client.chat.completions.create(model="local", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == ANSWER
    assert gateway.paths()[0] == "GET /v1/attestation"
    client.close()


def test_server_presenting_another_key_than_the_attested_one_gets_no_prompt(
    servers: Callable[..., Gateway],
) -> None:
    gateway = servers(attested_key=generate_tls_identity(now=NOW))
    client = client_for(gateway, UnsafeAcceptSimulated())
    with pytest.raises(AttestationRefused, match="attested TLS key is not the key this connection presented"):
        client.chat.completions.create(model="local", messages=MESSAGES)
    assert gateway.paths() == ["GET /v1/attestation"]  # no retries, no prompt
    assert not gateway.received_canary()


def test_server_answering_with_an_attestation_for_another_nonce_gets_no_prompt(
    servers: Callable[..., Gateway],
) -> None:
    def replaying(claims: Claims) -> APIRouter:
        recorded = Attester(SimulatedQuoteProvider(), claims).attest(bytes(32)).to_json()
        router = APIRouter()

        @router.get("/v1/attestation")
        async def replay() -> Response:
            return Response(recorded, media_type="application/json")

        return router

    gateway = servers(route=replaying)
    client = client_for(gateway, UnsafeAcceptSimulated())
    with pytest.raises(AttestationRefused, match="nonce differs"):
        client.chat.completions.create(model="local", messages=MESSAGES)
    assert gateway.paths() == ["GET /v1/attestation"]
    assert not gateway.received_canary()


def test_production_policy_refuses_a_simulated_server(
    servers: Callable[..., Gateway], attestation_reference: ReferenceValues
) -> None:
    gateway = servers()
    client = client_for(gateway, AttestationPolicy.production(reference_values=attestation_reference))
    with pytest.raises(AttestationRefused, match="mode is simulated") as refused:
        client.chat.completions.create(model="local", messages=MESSAGES)
    assert isinstance(refused.value.error, SimulatedAttestationRejected)
    assert gateway.paths() == ["GET /v1/attestation"]
    assert not gateway.received_canary()


def test_attestation_endpoint_error_refuses_the_connection(servers: Callable[..., Gateway]) -> None:
    def failing(claims: Claims) -> APIRouter:
        router = APIRouter()

        @router.get("/v1/attestation")
        async def unavailable() -> Response:
            return Response(json.dumps({"error": {"message": "x", "type": "t", "code": "c"}}), 503)

        return router

    gateway = servers(route=failing)
    client = client_for(gateway, UnsafeAcceptSimulated())
    with pytest.raises(AttestationRefused, match="answered HTTP 503"):
        client.models.list()
    assert gateway.paths() == ["GET /v1/attestation"]


def test_plain_http_is_refused_before_connecting(servers: Callable[..., Gateway]) -> None:
    gateway = servers()
    client = OpenAI(
        attestation_policy=UnsafeAcceptSimulated(),
        base_url=gateway.base_url.replace("https://", "http://") + "/v1",
        api_key="test-key",
    )
    with pytest.raises(AttestationRefused, match="https"):
        client.chat.completions.create(model="local", messages=MESSAGES)
    assert gateway.seen == []


async def test_async_client_attests_then_sends(servers: Callable[..., Gateway]) -> None:
    gateway = servers()
    client = AsyncOpenAI(
        attestation_policy=UnsafeAcceptSimulated(), base_url=f"{gateway.base_url}/v1", api_key="k"
    )
    answer = await client.chat.completions.create(model="local", messages=MESSAGES)
    assert answer.choices[0].message.content == ANSWER
    assert gateway.paths() == ["GET /v1/attestation", "POST /v1/chat/completions"]
    assert len({s.client_port for s in gateway.seen}) == 1
    await client.close()


async def test_async_client_refuses_a_server_with_another_key(servers: Callable[..., Gateway]) -> None:
    gateway = servers(attested_key=generate_tls_identity(now=NOW))
    client = AsyncOpenAI(
        attestation_policy=UnsafeAcceptSimulated(), base_url=f"{gateway.base_url}/v1", api_key="k"
    )
    with pytest.raises(AttestationRefused, match="attested TLS key"):
        await client.chat.completions.create(model="local", messages=MESSAGES)
    assert gateway.paths() == ["GET /v1/attestation"]
    assert not gateway.received_canary()
    await client.close()
