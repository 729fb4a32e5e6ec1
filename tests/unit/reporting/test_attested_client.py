"""The attestation exchange the client speaks on a fresh TLS connection, fed byte by byte."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log import Mode
from inference.attestation import Attester, Claims, SimulatedQuoteProvider, UnsafeAcceptSimulated
from reporting.client import AttestationRefused, _AttestationExchange

NONCE = bytes(range(32))


def document_bytes() -> bytes:
    claims = Claims(
        mode=Mode.SIMULATED,
        service_version="0.1.0",
        log_origin="veritee.test/log",
        log_signing_key=Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw),
        tls_spki_sha256=hashlib.sha256(b"spki").digest(),
        policy_sha256=hashlib.sha256(b"policy").digest(),
        classifiers=(),
        model_sha256=hashlib.sha256(b"model").digest(),
        authority_keys=(),
    )
    return Attester(SimulatedQuoteProvider(), claims).attest(NONCE).to_json()


def response(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + extra + b"\r\n" + body


def test_request_is_a_plain_get_with_the_nonce() -> None:
    exchange = _AttestationExchange("gateway.test:8443", "/v1/attestation", NONCE)
    assert exchange.request.startswith(f"GET /v1/attestation?nonce={NONCE.hex()} HTTP/1.1\r\n".encode())
    assert b"host: gateway.test:8443\r\n" in exchange.request.lower()


def test_response_fed_in_small_pieces_yields_the_document() -> None:
    body = document_bytes()
    exchange = _AttestationExchange("h", "/v1/attestation", NONCE)
    data = response(body)
    done = [exchange.receive(data[i : i + 7]) for i in range(0, len(data), 7)]
    assert done[-1]
    assert not any(done[:-1])
    verified = UnsafeAcceptSimulated().verify(exchange.document(), NONCE, datetime.datetime.now(datetime.UTC))
    assert verified.simulated


def test_error_status_refuses() -> None:
    exchange = _AttestationExchange("h", "/v1/attestation", NONCE)
    assert exchange.receive(response(b'{"error": {}}', "409 Conflict"))
    with pytest.raises(AttestationRefused, match="answered HTTP 409"):
        exchange.document()


def test_server_that_will_close_the_connection_refuses() -> None:
    exchange = _AttestationExchange("h", "/v1/attestation", NONCE)
    assert exchange.receive(response(document_bytes(), extra=b"connection: close\r\n"))
    with pytest.raises(AttestationRefused, match="keep the attested connection open"):
        exchange.document()


def test_bytes_after_the_response_refuse() -> None:
    exchange = _AttestationExchange("h", "/v1/attestation", NONCE)
    assert exchange.receive(response(document_bytes()) + b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(AttestationRefused, match="unexpected bytes"):
        exchange.document()


def test_connection_closed_mid_response_refuses() -> None:
    exchange = _AttestationExchange("h", "/v1/attestation", NONCE)
    assert not exchange.receive(response(document_bytes())[:100])
    with pytest.raises(Exception, match=r"closed|incomplete|peer"):
        exchange.receive(b"")


def test_response_declaring_an_oversized_body_refuses() -> None:
    exchange = _AttestationExchange("h", "/v1/attestation", NONCE)
    with pytest.raises(AttestationRefused, match="too large"):
        exchange.receive(b"HTTP/1.1 200 OK\r\ncontent-length: 3000000\r\n\r\n")


def test_chunked_response_growing_past_the_bound_refuses() -> None:
    exchange = _AttestationExchange("h", "/v1/attestation", NONCE)
    exchange.receive(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    for _ in range(32):  # exactly 2 MiB is still accepted
        assert not exchange.receive(chunk)
    with pytest.raises(AttestationRefused, match="too large"):
        exchange.receive(chunk)
