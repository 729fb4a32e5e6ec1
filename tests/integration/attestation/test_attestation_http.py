"""``GET /v1/attestation`` on a real TLS server: documents, and 4xx/5xx in OpenAI's error shape."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from attested_server import Seen, make_app, serve_tls

from audit_log import Mode
from inference.attestation import (
    AttestationDocument,
    Claims,
    ConfigfsTsmProvider,
    NonceStore,
    QuoteProvider,
    SimulatedQuoteProvider,
    UnsafeAcceptSimulated,
    generate_tls_identity,
)
from inference.http.attest import attestation_router

NOW = datetime.datetime.now(datetime.UTC)


class Server:
    def __init__(self, base_url: str, claims: Claims) -> None:
        self.base_url = base_url
        self.claims = claims

    def get(self, query: str) -> httpx2.Response:
        with httpx2.Client(verify=False, trust_env=False) as client:  # the pin is the client module's job
            return client.get(f"{self.base_url}/v1/attestation{query}")


@pytest.fixture
def start(tmp_path: Path, make_claims: Callable[..., Claims]) -> Iterator[Callable[..., Server]]:
    stack: list[object] = []

    def start_server(provider: QuoteProvider | None = None, nonces: NonceStore | None = None) -> Server:
        provider = provider or SimulatedQuoteProvider()
        identity = generate_tls_identity(now=NOW)
        claims = make_claims(provider.mode, tls_spki_sha256=identity.spki_sha256)
        seen: list[Seen] = []
        app = make_app(attestation_router(provider, claims, NonceStore() if nonces is None else nonces), seen)
        context = serve_tls(app, identity, tmp_path)
        base_url = context.__enter__()
        stack.append(context)
        return Server(base_url, claims)

    yield start_server
    for context in reversed(stack):
        context.__exit__(None, None, None)  # type: ignore[attr-defined]


def test_document_answers_the_callers_nonce(start: Callable[..., Server]) -> None:
    server = start()
    nonce = secrets.token_bytes(32)
    response = server.get(f"?nonce={nonce.hex()}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-veritee-mode"] == "simulated"
    document = AttestationDocument.from_json(response.content)
    assert document.to_json() == response.content
    verified = UnsafeAcceptSimulated().verify(document, nonce, NOW)
    assert verified.claims == server.claims


BAD_QUERIES = [
    "",
    "?nonce=",
    "?nonce=" + "AB" * 32,
    "?nonce=" + "ab" * 31,
    "?nonce=" + "ab" * 33,
    "?nonce=" + "zz" * 32,
    "?nonce=" + "ab" * 32 + "&nonce=" + "cd" * 32,
]


def test_bad_or_missing_nonce_is_400_in_openai_shape(start: Callable[..., Server]) -> None:
    server = start()
    for query in BAD_QUERIES:
        response = server.get(query)
        assert response.status_code == 400, query
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] == "invalid_nonce"
        assert error["param"] == "nonce"
        assert isinstance(error["message"], str)


def test_replayed_nonce_is_409(start: Callable[..., Server]) -> None:
    server = start()
    query = f"?nonce={secrets.token_hex(32)}"
    assert server.get(query).status_code == 200
    replay = server.get(query)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "nonce_replayed"


def test_too_many_live_nonces_is_429_with_retry_after(start: Callable[..., Server]) -> None:
    server = start(nonces=NonceStore(ttl=120, capacity=1))
    assert server.get(f"?nonce={secrets.token_hex(32)}").status_code == 200
    refused = server.get(f"?nonce={secrets.token_hex(32)}")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_attestations"
    assert 1 <= int(refused.headers["retry-after"]) <= 120


def test_failing_quote_provider_is_503_and_serves_nothing(
    start: Callable[..., Server], tmp_path: Path
) -> None:
    server = start(provider=ConfigfsTsmProvider(root=tmp_path / "no-configfs"))
    response = server.get(f"?nonce={secrets.token_hex(32)}")
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "message": "the TEE could not produce a quote; retry later",
            "type": "service_unavailable",
            "code": "attestation_unavailable",
        }
    }
    assert server.claims.mode is Mode.PRODUCTION
