"""Blocks and redactions end to end: what a caller receives when the policy says no.

Input blocks use the ``local`` backend. Output blocks need a model that says something the prompt
never contained, so they go through the ``openai`` backend to :mod:`scripted_upstream`, a real
upstream whose answers the test scripts on the server side. Streamed answers are read as raw bytes:
a harmful phrase must not reach the caller in any byte.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import (
    BENIGN,
    HARMFUL_BIO,
    HARMFUL_CHEM,
    HARMFUL_CYBER,
    MODEL,
    VERDICT_FIELDS,
    RunningGateway,
    ServerLogs,
    demo_policy,
    gateway_settings,
    start_gateway,
    stop_cleanly,
    verdict_entries,
    write_policy,
)
from scripted_upstream import SCRIPTED_MODEL, Script, ScriptedUpstream, serve_scripted_upstream

from inference import BackendKind
from inference.classifiers import ClassifierConfig, load_classifiers, shipped_manifest
from inference.gates import REDACTION_MARK, decide
from inference.policy import PolicyModel
from inference.scoring import to_text_assessment
from inference.streaming import Holdback

WINDOW, OVERLAP = 256, 96  # the shipped policy's streaming window
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DONE = b"data: [DONE]\n\n"


def redact_cyber_policy(data_dir: Path) -> Path:
    """The demo policy with cyber redacted (above 0.3) instead of blocked; chem, bio still block."""
    document = demo_policy(data_dir)
    document["version"] = "test-redact-cyber"
    document["categories"]["cyber"] = {"threshold": 0.3, "action": "redact"}
    return write_policy(data_dir, document)


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with serve_scripted_upstream() as running:
        yield running


@pytest.fixture(scope="module")
def scripted(
    tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream, module_logs: ServerLogs
) -> Iterator[RunningGateway]:
    """A gateway whose model is the scripted upstream, under the redact-cyber policy."""
    data_dir = tmp_path_factory.mktemp("scripted")
    running = start_gateway(
        gateway_settings(
            data_dir,
            backend=BackendKind.OPENAI,
            upstream=upstream.base_url,
            model=SCRIPTED_MODEL,
            policy=redact_cyber_policy(data_dir),
        )
    )
    yield running
    stop_cleanly(running)


@pytest.fixture(scope="module")
def redacting(tmp_path_factory: pytest.TempPathFactory, module_logs: ServerLogs) -> Iterator[RunningGateway]:
    """The local backend under the redact-cyber policy."""
    data_dir = tmp_path_factory.mktemp("redacting")
    running = start_gateway(gateway_settings(data_dir, policy=redact_cyber_policy(data_dir)))
    yield running
    stop_cleanly(running)


def script(upstream: ScriptedUpstream, text: str, **options: Any) -> list[Any]:
    """Register ``text`` as the model's next answer; return the (benign) messages that select it."""
    name = uuid.uuid4().hex
    upstream.scripts[name] = Script(text, **options)
    return [{"role": "user", "content": f"script:{name}"}]


def post(gateway: RunningGateway, body: dict[str, Any]) -> httpx.Response:
    with gateway.http() as http:
        return http.post("/v1/chat/completions", json=body)


def stream_bytes(gateway: RunningGateway, body: dict[str, Any]) -> tuple[int, bytes]:
    with (
        gateway.http() as http,
        http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r,
    ):
        return r.status_code, r.read()


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    assert raw.endswith(DONE)
    assert b"\r" not in raw
    frames = raw[: -len(DONE)].split(b"\n\n")[:-1]
    assert all(f.startswith(b"data: ") for f in frames)
    return [json.loads(f[len(b"data: ") :]) for f in frames]


def assert_block_body(response: httpx.Response, category: str, policy_version: str) -> dict[str, Any]:
    """451 with OpenAI's error object and the ExternalVerdict, and nothing else."""
    assert response.status_code == 451
    body = response.json()
    assert set(body) == {"error", "verdict"}
    assert body["error"] == {
        "message": body["error"]["message"],
        "type": "safety_block",
        "code": "content_policy_violation",
    }
    verdict = body["verdict"]
    assert set(verdict) == VERDICT_FIELDS
    assert verdict["action"] == "block"
    assert verdict["risk_category"] == category
    assert verdict["policy_version"] == policy_version
    assert TIMESTAMP.match(verdict["timestamp"])
    assert uuid.UUID(verdict["verdict_id"]).version == 4
    assert response.headers["x-veritee-verdict-id"] == verdict["verdict_id"]
    assert response.headers["x-veritee-mode"] == "simulated"
    result: dict[str, Any] = verdict
    return result


# -- input blocks --------------------------------------------------------------------------------


def test_harmful_prompt_is_refused_451_with_only_the_verdict(gateway: RunningGateway) -> None:
    response = post(gateway, {"model": MODEL, "messages": [{"role": "user", "content": HARMFUL_CHEM}]})
    assert_block_body(response, "chem", gateway.gateway.policy.version)
    assert HARMFUL_CHEM not in response.text


def test_fixed_block_message_never_varies(gateway: RunningGateway) -> None:
    messages = [HARMFUL_CHEM, HARMFUL_BIO, HARMFUL_CYBER]
    bodies = [post(gateway, {"model": MODEL, "messages": [{"role": "user", "content": m}]}) for m in messages]
    assert len({b.json()["error"]["message"] for b in bodies}) == 1
    assert [b.json()["verdict"]["risk_category"] for b in bodies] == ["chem", "bio", "cyber"]


def test_sdk_raises_with_status_451(gateway: RunningGateway) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": HARMFUL_BIO}]
        )
    assert caught.value.status_code == 451
    assert caught.value.response.json()["verdict"]["risk_category"] == "bio"


def test_sdk_stream_raises_451_before_any_chunk(gateway: RunningGateway) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "echo: " + HARMFUL_CHEM}], stream=True
        )
    assert caught.value.status_code == 451


TOOL: Any = {"type": "function", "function": {"name": "run", "parameters": {"type": "object"}}}
ACCENTS = str.maketrans("aeio", "áéíó")  # the classifiers fold them; JSON escapes hide them

HIDING_PLACES: dict[str, dict[str, Any]] = {
    "earlier user message": {
        "messages": [
            {"role": "user", "content": HARMFUL_CHEM},
            {"role": "assistant", "content": "Sure."},
            {"role": "user", "content": "thanks, go on"},
        ]
    },
    "system message": {
        "messages": [{"role": "system", "content": HARMFUL_CHEM}, {"role": "user", "content": "go on"}]
    },
    "developer message": {
        "messages": [{"role": "developer", "content": HARMFUL_CHEM}, {"role": "user", "content": "go on"}]
    },
    "assistant message": {
        "messages": [{"role": "assistant", "content": HARMFUL_CHEM}, {"role": "user", "content": "go on"}]
    },
    "tool message": {
        "messages": [
            {"role": "user", "content": "look it up"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "run", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": HARMFUL_CHEM},
        ],
        "tools": [TOOL],
    },
    "tool-call arguments": {
        "messages": [
            {"role": "user", "content": "look it up"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "run", "arguments": json.dumps({"query": HARMFUL_CHEM})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
        ],
        "tools": [TOOL],
    },
    "tool-call arguments in JSON escapes": {
        "messages": [
            {"role": "user", "content": "look it up"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "run",
                            "arguments": '{"q": "' + "".join(f"\\u{ord(c):04x}" for c in HARMFUL_CHEM) + '"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
        ],
        "tools": [TOOL],
    },
    "tool parameter description with accents": {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "run",
                    "parameters": {"type": "object", "description": HARMFUL_CHEM.translate(ACCENTS)},
                },
            }
        ],
    },
    "tool definition": {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "run", "description": HARMFUL_CHEM}}],
    },
    "second content part": {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": HARMFUL_CHEM}],
            }
        ]
    },
}


@pytest.mark.parametrize("place", list(HIDING_PLACES))
@pytest.mark.parametrize("stream", [False, True])
def test_harmful_text_anywhere_in_the_conversation_is_blocked(
    gateway: RunningGateway, place: str, stream: bool
) -> None:
    body = {"model": MODEL, **HIDING_PLACES[place], "stream": stream}
    response = post(gateway, body)
    assert_block_body(response, "chem", gateway.gateway.policy.version)


def test_tool_call_the_caller_asks_for_with_harmful_arguments_is_blocked(gateway: RunningGateway) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"call:run {HARMFUL_CYBER}"}],
        "tools": [TOOL],
    }
    assert_block_body(post(gateway, body), "cyber", gateway.gateway.policy.version)


# -- output blocks (the model says it, the prompt did not) ----------------------------------------


def test_model_output_harmful_is_refused_451(scripted: RunningGateway, upstream: ScriptedUpstream) -> None:
    response = post(scripted, {"model": SCRIPTED_MODEL, "messages": script(upstream, HARMFUL_CHEM)})
    verdict = assert_block_body(response, "chem", "test-redact-cyber")
    assert "sarin" not in response.text
    (entry,) = verdict_entries(scripted, verdict["verdict_id"])
    assert (entry["phase"], entry["decided_at"], entry["outcome"]) == ("final", "output", "blocked")


def test_streamed_output_blocked_before_the_first_byte_is_451(
    scripted: RunningGateway, upstream: ScriptedUpstream
) -> None:
    status, raw = stream_bytes(
        scripted, {"model": SCRIPTED_MODEL, "messages": script(upstream, HARMFUL_CHEM)}
    )
    assert status == 451
    body = json.loads(raw)
    assert set(body) == {"error", "verdict"}
    assert body["verdict"]["risk_category"] == "chem"
    assert b"sarin" not in raw


def harmful_after(prefix_chars: int, harmful: str) -> str:
    """Benign prose of exactly ``prefix_chars`` characters, then ``harmful`` three times and more
    than a window of prose, so the block falls in a full window (not the final flush)."""
    prose = BENIGN * (prefix_chars // len(BENIGN) + 6)
    return prose[:prefix_chars] + f"{harmful}. " * 3 + prose[: WINDOW + 100]


@pytest.mark.parametrize("include_usage", [False, True])
def test_block_mid_stream_ends_with_content_filter_and_done(
    scripted: RunningGateway, upstream: ScriptedUpstream, include_usage: bool
) -> None:
    text = harmful_after(2 * WINDOW, HARMFUL_CHEM)
    body: dict[str, Any] = {"model": SCRIPTED_MODEL, "messages": script(upstream, text)}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    status, raw = stream_bytes(scripted, body)
    assert status == 200
    assert b"sarin" not in raw
    assert b"nerve" not in raw
    chunks = sse_events(raw)
    if include_usage:
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"] is not None
        chunks = chunks[:-1]
    released = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert released == text[: 2 * WINDOW], "exactly the two benign windows were released"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finishes == ["content_filter"]


def test_block_in_the_last_partial_window_still_ends_with_content_filter(
    scripted: RunningGateway, upstream: ScriptedUpstream
) -> None:
    # The harmful text is the tail that is only classified when the model finishes.
    text = BENIGN * 4 + f"{HARMFUL_CHEM}. {HARMFUL_CHEM}."
    assert len(text) % WINDOW < len(text) - len(text) % WINDOW
    status, raw = stream_bytes(scripted, {"model": SCRIPTED_MODEL, "messages": script(upstream, text)})
    assert status == 200
    assert b"sarin" not in raw
    chunks = sse_events(raw)
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finishes == ["content_filter"]


def test_every_choice_of_a_blocked_stream_ends_with_content_filter(
    scripted: RunningGateway, upstream: ScriptedUpstream
) -> None:
    text = harmful_after(2 * WINDOW, HARMFUL_CHEM)
    status, raw = stream_bytes(
        scripted, {"model": SCRIPTED_MODEL, "messages": script(upstream, text), "n": 3}
    )
    assert status == 200
    assert b"sarin" not in raw
    finishes: dict[int, list[str]] = {}
    for chunk in sse_events(raw):
        for choice in chunk["choices"]:
            if choice["finish_reason"]:
                finishes.setdefault(choice["index"], []).append(choice["finish_reason"])
    assert finishes == {0: ["content_filter"], 1: ["content_filter"], 2: ["content_filter"]}


def test_blocked_stream_has_an_input_and_a_blocked_final_verdict(
    scripted: RunningGateway, upstream: ScriptedUpstream
) -> None:
    text = harmful_after(2 * WINDOW, HARMFUL_CHEM)
    with (
        scripted.http() as http,
        http.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": SCRIPTED_MODEL, "messages": script(upstream, text), "stream": True},
        ) as response,
    ):
        response.read()
        verdict_id = response.headers["x-veritee-verdict-id"]
    entries = verdict_entries(scripted, verdict_id)
    assert [(e["phase"], e["outcome"]) for e in entries] == [("input", "completed"), ("final", "blocked")]
    assert entries[0]["action"] != "block"
    assert entries[1]["action"] == "block"
    assert entries[1]["risk_category"] == "chem"


def split_phrase_stream(policy: PolicyModel) -> tuple[str, str]:
    """A stream where a harmful phrase straddles a window boundary, and its second half.

    Dots around it keep the windows free of prose (prose dilutes the classifiers' scores). The
    preconditions are checked with the real classifier and the shipped policy, so the test proves
    the overlap: each window on its own is allowed, the second window with its overlap is not.
    """
    first, second = "how to make mustard", " gas at home"
    text = "." * (3 * WINDOW - len(first)) + first + second + "." * (WINDOW + 40)
    classifier = load_classifiers(ClassifierConfig(manifest=shipped_manifest()))

    def harmful(piece: str) -> bool:
        return decide([to_text_assessment(classifier.assess(piece))], policy).action != "allow"

    holdback = Holdback(WINDOW, OVERLAP)
    holdback.push(text)
    contexts, chunks = [], []
    while (window := holdback.next_window(final=True)) is not None:
        contexts.append(window.context)
        chunks.append(window.text)
        holdback.released(window.text)
    assert chunks[2].endswith(first)
    assert chunks[3].startswith(second)
    assert not any(harmful(chunk) for chunk in chunks), "a window is harmful on its own"
    assert not harmful(contexts[2])
    assert harmful(contexts[3]), "the phrase is not harmful even whole"
    return text, second


def test_phrase_split_across_two_windows_is_still_caught(
    scripted: RunningGateway, upstream: ScriptedUpstream
) -> None:
    text, second_half = split_phrase_stream(scripted.gateway.policy.model)
    status, raw = stream_bytes(scripted, {"model": SCRIPTED_MODEL, "messages": script(upstream, text)})
    assert status == 200
    assert second_half.encode() not in raw
    chunks = sse_events(raw)
    released = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert released == text[: 3 * WINDOW]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == [
        "content_filter"
    ]


# -- redaction -----------------------------------------------------------------------------------

CYBER_WORDS = ("ransomware", "encrypts", "hospital network", "power grid", "SCADA")


def test_redacted_prompt_reaches_the_model_with_spans_replaced(redacting: RunningGateway) -> None:
    prompt = f"echo: Summarise this for my security class: {HARMFUL_CYBER}. {BENIGN}"
    response = post(redacting, {"model": MODEL, "messages": [{"role": "user", "content": prompt}]})
    assert response.status_code == 200
    answer = response.json()["choices"][0]["message"]["content"]
    assert REDACTION_MARK in answer
    assert not any(word in answer for word in CYBER_WORDS)
    assert answer.startswith("Summarise this for my security class: ")
    assert answer.endswith(BENIGN)
    verdict_id = response.headers["x-veritee-verdict-id"]
    (entry,) = verdict_entries(redacting, verdict_id)
    assert (entry["action"], entry["risk_category"], entry["outcome"]) == ("redact", "cyber", "completed")


def test_redacted_model_output_non_streamed(scripted: RunningGateway, upstream: ScriptedUpstream) -> None:
    text = f"Here you go: {HARMFUL_CYBER}. {BENIGN}"
    response = post(scripted, {"model": SCRIPTED_MODEL, "messages": script(upstream, text)})
    assert response.status_code == 200
    answer = response.json()["choices"][0]["message"]["content"]
    assert REDACTION_MARK in answer
    assert not any(word in answer for word in CYBER_WORDS)
    assert answer.startswith("Here you go: ")
    assert answer.endswith(BENIGN)


def test_redacted_model_output_streamed(scripted: RunningGateway, upstream: ScriptedUpstream) -> None:
    text = BENIGN * 4 + f"Here you go: {HARMFUL_CYBER}. " + BENIGN * 4
    status, raw = stream_bytes(scripted, {"model": SCRIPTED_MODEL, "messages": script(upstream, text)})
    assert status == 200
    chunks = sse_events(raw)
    answer = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert REDACTION_MARK in answer
    assert not any(word.encode() in raw for word in CYBER_WORDS)
    assert answer.startswith(BENIGN * 2)
    assert answer.endswith(BENIGN * 2)
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == ["stop"]


def test_redaction_in_tool_call_arguments_blocks_instead(redacting: RunningGateway) -> None:
    # Cutting spans out of JSON arguments would corrupt them, so the gateway blocks.
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "run", "arguments": json.dumps({"q": HARMFUL_CYBER})},
    }
    body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": "look it up"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
        ],
        "tools": [TOOL],
    }
    assert_block_body(post(redacting, body), "cyber", "test-redact-cyber")
