"""Server-sent events checked byte for byte with a raw HTTP client, as strict clients read them.

The SDKs forgive a stream without ``[DONE]``, CRLF framing or a missing ``finish_reason``
(INTEROP.md); these tests do not: LF only, ``data: <one-line JSON>\\n\\n``, exactly one
``finish_reason`` per choice, the usage chunk last with ``choices: []``, ``[DONE]`` last.
"""

from __future__ import annotations

import json
from typing import Any

from gateway_harness import MODEL, RunningGateway

DONE = b"data: [DONE]\n\n"


def raw_stream(gateway: RunningGateway, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    with gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        return response.read(), dict(response.headers)


def events(raw: bytes) -> list[dict[str, Any]]:
    """Split a finished stream into its JSON events, checking the framing of every byte."""
    assert b"\r" not in raw, "CRLF in the event stream"
    assert raw.endswith(DONE)
    assert raw.count(b"[DONE]") == 1
    frames = raw[: -len(DONE)].split(b"\n\n")
    assert frames.pop() == b"", "the last event before [DONE] is not terminated by a blank line"
    parsed = []
    for frame in frames:
        assert frame.startswith(b"data: "), frame[:20]
        payload = frame[len(b"data: ") :]
        assert b"\n" not in payload, "an event spans several lines"
        parsed.append(json.loads(payload))
    return parsed


def test_stream_framing_is_openai_byte_for_byte(gateway: RunningGateway) -> None:
    text = "lorem ipsum dolor sit amet " * 40
    raw, headers = raw_stream(
        gateway,
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "echo: " + text}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert headers["content-type"].startswith("text/event-stream")
    chunks = events(raw)
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    assert all(c["model"] == MODEL for c in chunks)
    *content, usage_chunk = chunks
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 201, "completion_tokens": 200, "total_tokens": 401}
    assert all(c["usage"] is None for c in content), "usage before the last chunk"
    assert content[0]["choices"][0]["delta"]["role"] == "assistant"
    assert sum("role" in c["choices"][0]["delta"] for c in content) == 1
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in content) == text
    finishes = [c["choices"][0]["finish_reason"] for c in content if c["choices"][0]["finish_reason"]]
    assert finishes == ["stop"]
    assert content[-1]["choices"][0]["finish_reason"] == "stop"


def test_without_include_usage_no_usage_key_and_done_last(gateway: RunningGateway) -> None:
    raw, _ = raw_stream(
        gateway, {"model": MODEL, "messages": [{"role": "user", "content": "echo: a b c"}], "stream": True}
    )
    chunks = events(raw)
    assert all("usage" not in c for c in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"


def test_each_of_n_choices_finishes_exactly_once(gateway: RunningGateway) -> None:
    raw, _ = raw_stream(
        gateway,
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "echo: " + "x " * 300}],
            "stream": True,
            "n": 4,
            "stream_options": {"include_usage": True},
        },
    )
    chunks = events(raw)
    finishes: dict[int, int] = {}
    roles: dict[int, int] = {}
    for chunk in chunks[:-1]:
        for choice in chunk["choices"]:
            finishes[choice["index"]] = finishes.get(choice["index"], 0) + (
                choice["finish_reason"] is not None
            )
            roles[choice["index"]] = roles.get(choice["index"], 0) + ("role" in choice["delta"])
    assert finishes == {0: 1, 1: 1, 2: 1, 3: 1}
    assert roles == {0: 1, 1: 1, 2: 1, 3: 1}
    assert chunks[-1]["choices"] == []


def test_streamed_tool_call_framing(gateway: RunningGateway) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    raw, _ = raw_stream(
        gateway,
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": 'call:lookup {"q": 1}'}],
            "tools": [tool],
            "stream": True,
        },
    )
    chunks = events(raw)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert len(calls) == 1
    assert calls[0]["index"] == 0
    assert calls[0]["type"] == "function"
    assert calls[0]["function"] == {"name": "lookup", "arguments": '{"q": 1}'}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == [
        "tool_calls"
    ]
