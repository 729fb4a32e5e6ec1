"""No content leaks: a canary planted in prompts and answers reaches its caller and nothing else.

One gateway per test gets every kind of traffic carrying a fresh canary: allowed answers that echo
it (plain, streamed, several choices, tool calls, tool results, system messages), blocked prompts
(plain and streamed, one high-confidence enough to seal a mandatory disclosure), an answer the
model writes on its own (through a scripted upstream), bad requests and a refused one. Then the
canary is searched for everywhere the operator could look: every log record the server emitted
(at DEBUG), the process's stdout and stderr, every row of every table, the raw SQLite files
(database, WAL, keys, policy) while running and after stop, every audit entry unsealed, every
signed verdict, every disclosure opened with the demo authority's key, every error body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from gateway_harness import (
    BENIGN,
    HARMFUL_CHEM,
    MODEL,
    RunningGateway,
    ServerLogs,
    files_containing,
    rows_containing,
    stop_cleanly,
    store_url,
)
from scripted_upstream import SCRIPTED_MODEL, Script, serve_scripted_upstream

from disclosure import OUTBOX_TOPIC, AuthorityPrivateKey, check_disclosure
from inference import BackendKind
from inference.demo_authorities import demo_key_path
from reporting.demo import DISCLOSURE_PROMPT

TOOL = {"type": "function", "function": {"name": "run", "parameters": {"type": "object"}}}


def new_canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


def post(gateway: RunningGateway, body: dict[str, Any]) -> httpx.Response:
    with gateway.http() as http:
        if body.get("stream"):
            with http.stream("POST", "/v1/chat/completions", json=body) as response:
                response.read()
                return response
        return http.post("/v1/chat/completions", json=body)


def traffic(canary: str) -> list[tuple[dict[str, Any], int, bool]]:
    """(request body, expected status, whether the answer must carry the canary)."""
    user = [{"role": "user", "content": f"echo: please repeat {canary} verbatim"}]
    with_tool_result = [
        {"role": "system", "content": f"You are helpful. Ticket {canary}."},
        {"role": "user", "content": "look it up"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "run", "arguments": json.dumps({"q": canary})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": f"result for {canary}"},
    ]

    def ask(content: str, **extra: Any) -> dict[str, Any]:
        return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}

    usage = {"include_usage": True}
    return [
        ({"model": MODEL, "messages": user}, 200, True),
        ({"model": MODEL, "messages": user, "stream": True}, 200, True),
        ({"model": MODEL, "messages": user, "n": 3, "stream": True, "stream_options": usage}, 200, True),
        (ask(f"echo: {canary} " + BENIGN * 12, stream=True), 200, True),
        (ask(f'call:run {{"q": "{canary}"}}', tools=[TOOL]), 200, True),
        (ask(f"call:run {canary}", tools=[TOOL], stream=True), 200, True),
        ({"model": MODEL, "messages": with_tool_result, "tools": [TOOL]}, 200, False),
        (ask(f"{HARMFUL_CHEM} {canary}"), 451, False),
        (ask(f"echo: {canary} {HARMFUL_CHEM}", stream=True), 451, False),
        (ask(f"{DISCLOSURE_PROMPT} {canary}"), 451, False),
        ({"model": MODEL, "messages": [{"role": canary, "content": canary}]}, 400, False),
        ({"model": canary, "messages": user}, 404, False),
        ({"model": MODEL, "messages": user, canary: canary}, 400, False),
    ]


def assert_nowhere_but_the_answers(
    running: RunningGateway, canary: str, logs: ServerLogs, capfd: pytest.CaptureFixture[str]
) -> None:
    needle = canary.encode()
    assert not [line for line in logs.lines() if canary in line], "canary in a server log record"
    assert files_containing(running.settings.data_dir, needle) == [], "canary in a file while running"
    assert rows_containing(store_url(running.settings), canary) == [], "canary in a database row"
    gateway = running.gateway
    for record in gateway.log.outbox_after(0, 1000):
        assert needle not in record.payload, f"canary in an outbox {record.topic} item"
    disclosures = [r for r in gateway.log.outbox_after(0, 1000) if r.topic == OUTBOX_TOPIC]
    assert disclosures, "the disclosure prompt sealed no disclosure"
    for record in disclosures:
        outer = json.loads(record.payload)
        key_file = demo_key_path(running.settings.data_dir, outer["authority"])
        checked = check_disclosure(
            record.payload,
            AuthorityPrivateKey.from_file_bytes(key_file.read_bytes()),
            gateway.log.verifier.vkey,
            allow_simulated=True,
        )
        assert needle not in checked.opened.statement_json, "canary in a sealed disclosure's plaintext"
    entries = stop_cleanly(running)
    assert not [e for e in entries if canary in json.dumps(e)], "canary in an audit entry"
    assert files_containing(running.settings.data_dir, needle) == [], "canary in a file after stop"
    captured = capfd.readouterr()
    assert canary not in captured.out
    assert canary not in captured.err


def test_canary_reaches_only_its_caller(
    start: Callable[..., RunningGateway], server_logs: ServerLogs, capfd: pytest.CaptureFixture[str]
) -> None:
    canary = new_canary()
    running = start()
    verdict_ids = []
    for body, status, echoed in traffic(canary):
        response = post(running, body)
        assert response.status_code == status, (body, response.text)
        assert (canary in response.text) == echoed, body
        if "x-veritee-verdict-id" in response.headers:
            verdict_ids.append(response.headers["x-veritee-verdict-id"])
    with running.http() as http:
        unpaired = {"model": MODEL, "messages": [{"role": "user", "content": "\ud800" + canary}]}
        refused = http.post(
            "/v1/chat/completions", content=json.dumps(unpaired), headers={"content-type": "application/json"}
        )
        assert refused.status_code == 400
        assert canary not in refused.text
        for verdict_id in verdict_ids:
            signed = http.get(f"/v1/signature/{verdict_id}")
            assert signed.status_code == 200
            assert canary not in signed.text
    assert len(verdict_ids) == 10
    assert_nowhere_but_the_answers(running, canary, server_logs, capfd)


def scripted_body(content: str, stream: bool) -> dict[str, Any]:
    return {"model": SCRIPTED_MODEL, "messages": [{"role": "user", "content": content}], "stream": stream}


def test_canary_the_model_writes_reaches_only_the_caller(
    start: Callable[..., RunningGateway], server_logs: ServerLogs, capfd: pytest.CaptureFixture[str]
) -> None:
    canary = new_canary()
    with serve_scripted_upstream() as upstream:
        upstream.scripts["says"] = Script(f"The secret is {canary}. " + BENIGN * 6)
        upstream.scripts["harmful"] = Script(f"The secret is {canary}. {HARMFUL_CHEM}")
        running = start(backend=BackendKind.OPENAI, upstream=upstream.base_url, model=SCRIPTED_MODEL)
        for stream in (False, True):
            said = post(running, scripted_body("script:says", stream))
            assert said.status_code == 200
            assert canary in said.text
            blocked = post(running, scripted_body("script:harmful", stream))
            assert blocked.status_code == 451
            assert canary not in blocked.text
        needle = canary.encode()
        assert not [line for line in server_logs.lines() if canary in line]
        assert files_containing(running.settings.data_dir, needle) == []
        assert rows_containing(store_url(running.settings), canary) == []
        entries = stop_cleanly(running)
    assert not [e for e in entries if canary in json.dumps(e)]
    captured = capfd.readouterr()
    assert canary not in captured.out + captured.err
