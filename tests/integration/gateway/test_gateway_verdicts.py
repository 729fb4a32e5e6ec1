"""Verdicts a caller can check: headers on every answer, unlinkable ids, signed verdicts with receipts.

``GET /v1/signature/{verdict_id}`` is verified the way an outsider would: the DSSE envelope with
the log key from ``/v1/log/key`` (key id in simulated form), its payload against the verdict the
caller got, and the receipt's inclusion proof against a checkpoint signed by the same key.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gateway_harness import (
    HARMFUL_CYBER,
    MODEL,
    ORIGIN,
    RunningGateway,
    signature_with_receipt,
    verify_signature_document,
)

from audit_log import NoteVerifier, VerificationError

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def chat(gateway: RunningGateway, content: str, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}
    with gateway.http() as http:
        if extra.get("stream"):
            with http.stream("POST", "/v1/chat/completions", json=body) as response:
                response.read()
                return response
        return http.post("/v1/chat/completions", json=body)


def signature(gateway: RunningGateway, verdict_id: str) -> dict[str, Any]:
    with gateway.http() as http:
        assert http.get(f"/v1/signature/{verdict_id}").headers["x-veritee-mode"] == "simulated"
        return signature_with_receipt(http, verdict_id)


def signed_payload(document: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.b64decode(document["envelope"]["payload"]))
    return payload


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/models", None),
        ("GET", "/v1/health", None),
        ("GET", "/v1/log/checkpoint", None),
        ("GET", "/v1/log/key", None),
        ("GET", "/v1/attestation?nonce=" + "ab" * 32, None),
        ("GET", "/v1/no-such-route", None),
        ("DELETE", "/v1/models", None),
        ("POST", "/v1/chat/completions", {"model": MODEL}),
        ("POST", "/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}),
        (
            "POST",
            "/v1/chat/completions",
            {"model": MODEL, "messages": [{"role": "user", "content": HARMFUL_CYBER}]},
        ),
    ],
)
def test_every_response_says_it_is_simulated(
    gateway: RunningGateway, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with gateway.http() as http:
        response = http.request(method, path, json=body)
    assert response.headers["x-veritee-mode"] == "simulated"


@pytest.mark.parametrize(
    ("content", "stream", "status"),
    [("hello", False, 200), ("hello", True, 200), (HARMFUL_CYBER, False, 451), (HARMFUL_CYBER, True, 451)],
)
def test_every_chat_answer_names_its_verdict(
    gateway: RunningGateway, content: str, stream: bool, status: int
) -> None:
    response = chat(gateway, content, stream=stream)
    assert response.status_code == status
    verdict_id = response.headers["x-veritee-verdict-id"]
    assert uuid.UUID(verdict_id).version == 4
    payload = signed_payload(signature(gateway, verdict_id))
    assert payload["verdict"]["verdict_id"] == verdict_id


def test_verdict_ids_are_random_uuid4_never_reused(gateway: RunningGateway) -> None:
    ids = [chat(gateway, f"hello {i}").headers["x-veritee-verdict-id"] for i in range(40)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == len(ids)
    # Time-ordered ids (UUIDv1/v7, counters) would come out sorted; 40 random ones essentially never do.
    assert ids != sorted(ids)


def test_timestamps_are_whole_seconds(gateway: RunningGateway) -> None:
    before = int(time.time())
    response = chat(gateway, HARMFUL_CYBER)
    after = time.time()
    stamp = response.json()["verdict"]["timestamp"]
    assert TIMESTAMP.match(stamp)
    seconds = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()
    assert before <= seconds <= after


def test_signed_verdict_of_a_block_is_exactly_the_451_verdict(gateway: RunningGateway) -> None:
    response = chat(gateway, HARMFUL_CYBER)
    verdict = response.json()["verdict"]
    document = signature(gateway, verdict["verdict_id"])
    verify_signature_document(document, gateway.vkey(), verdict)


@pytest.mark.parametrize("stream", [False, True])
def test_signed_verdict_of_an_allowed_answer_verifies(gateway: RunningGateway, stream: bool) -> None:
    response = chat(gateway, "echo: a harmless line", stream=stream)
    assert response.status_code == 200
    verdict_id = response.headers["x-veritee-verdict-id"]
    document = signature(gateway, verdict_id)
    expected = {
        "verdict_id": verdict_id,
        "risk_category": "none",
        "action": "allow",
        "policy_version": gateway.gateway.policy.version,
        "timestamp": signed_payload(document)["verdict"]["timestamp"],
    }
    verify_signature_document(document, gateway.vkey(), expected)
    assert TIMESTAMP.match(expected["timestamp"])


def test_signature_check_fails_for_a_tampered_verdict(gateway: RunningGateway) -> None:
    response = chat(gateway, HARMFUL_CYBER)
    verdict = response.json()["verdict"]
    document = signature(gateway, verdict["verdict_id"])
    payload = signed_payload(document)
    payload["verdict"]["action"] = "allow"
    forged = {
        **document,
        "envelope": {
            **document["envelope"],
            "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        },
    }
    with pytest.raises(VerificationError):
        verify_signature_document(forged, gateway.vkey(), payload["verdict"])


def test_signature_check_fails_under_another_log_key(gateway: RunningGateway) -> None:
    verdict = chat(gateway, HARMFUL_CYBER).json()["verdict"]
    document = signature(gateway, verdict["verdict_id"])
    other = NoteVerifier(ORIGIN, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(VerificationError):
        verify_signature_document(document, other, verdict)


def test_unknown_verdict_id_is_404_in_openai_shape(gateway: RunningGateway) -> None:
    with gateway.http() as http:
        response = http.get(f"/v1/signature/{uuid.uuid4()}")
    assert response.status_code == 404
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == "not_found"


def test_answer_arrives_only_after_its_verdict_is_durable(gateway: RunningGateway) -> None:
    # The signed verdict sits in the outbox written with the audit entry; it must be there the
    # moment the answer is received, not some time later.
    for content in ("echo: one", "echo: two", HARMFUL_CYBER):
        for stream in (False, True):
            response = chat(gateway, content, stream=stream)
            with gateway.http() as http:
                found = http.get(f"/v1/signature/{response.headers['x-veritee-verdict-id']}")
            assert found.status_code == 200
