"""The core paths again with the audit log on the real PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import openai
import pytest
from gateway_harness import (
    HARMFUL_CHEM,
    MODEL,
    ORIGIN,
    RunningGateway,
    rfc9162_root,
    rows_containing,
    signature_with_receipt,
    stop_cleanly,
    verify_signature_document,
)

from audit_log import CheckpointPolicy
from inference import ConfigError

pytestmark = pytest.mark.postgres


def test_answers_blocks_and_signed_verdicts_on_postgres(
    pg_url: str, start: Callable[..., RunningGateway]
) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    running = start(db=pg_url)
    assert running.gateway.database_label.startswith("postgresql")
    client = running.client()
    answer = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": f"echo: {canary}"}]
    )
    assert answer.parse().choices[0].message.content == canary
    streamed = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"echo: {canary} again"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == f"{canary} again"
    with pytest.raises(openai.APIStatusError) as blocked:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"{HARMFUL_CHEM} {canary}"}]
        )
    assert blocked.value.status_code == 451
    verdict = blocked.value.response.json()["verdict"]

    vkey = running.vkey()
    with running.http() as http:
        document = signature_with_receipt(http, verdict["verdict_id"])
        verify_signature_document(document, vkey, verdict)
        allowed = http.get(f"/v1/signature/{answer.headers['x-veritee-verdict-id']}")
        assert allowed.status_code == 200
        checkpoint = CheckpointPolicy(ORIGIN, (vkey,)).verify(http.get("/v1/log/checkpoint").content)
        tile = http.get(f"/v1/log/tile/0/000.p/{checkpoint.size}").content
    leaves = [tile[i : i + 32] for i in range(0, len(tile), 32)]
    assert rfc9162_root(leaves) == checkpoint.root

    assert rows_containing(pg_url, canary) == [], "canary in a PostgreSQL row"
    entries = stop_cleanly(running)
    assert [e["kind"] for e in entries].count("verdict") == 4
    assert not [e for e in entries if canary in json.dumps(e)]


def test_two_gateways_cannot_write_one_postgres_log(
    pg_url: str, start: Callable[..., RunningGateway]
) -> None:
    first = start(db=pg_url)
    with pytest.raises(ConfigError, match="audit log"):
        start(db=pg_url)
    assert first.running
