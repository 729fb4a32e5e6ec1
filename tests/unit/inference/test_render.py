"""OpenAI objects and SSE framing for pipeline results, byte for byte (pure)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from inference.backends.base import ToolCall, Usage
from inference.http.render import DONE, ResponseIdentity, completion_object, dumps, sse, sse_stream
from inference.pipeline import (
    Choice,
    Completion,
    ErrorEvent,
    FinishEvent,
    StreamEvent,
    TextEvent,
    ToolCallsEvent,
    UsageEvent,
)
from inference.verdicts import ExternalVerdict

IDENTITY = ResponseIdentity("chatcmpl-abc", 1_700_000_000, "m", "veritee-simulated")
VERDICT = ExternalVerdict(
    "6f1c1d1e-0000-4000-8000-000000000000", "none", "allow", "p/1", "2026-01-01T00:00:00Z"
)


def render(events: Sequence[StreamEvent], include_usage: bool) -> bytes:
    async def source() -> AsyncIterator[StreamEvent]:
        for event in events:
            yield event

    async def collect() -> bytes:
        return b"".join([part async for part in sse_stream(IDENTITY, source(), include_usage)])

    return asyncio.run(collect())


def frames(raw: bytes) -> list[bytes]:
    assert b"\r" not in raw
    parts = raw.split(b"\n\n")
    assert parts.pop() == b""
    for part in parts:
        assert part.startswith(b"data: ")
        assert b"\n" not in part
    return [p.removeprefix(b"data: ") for p in parts]


def chunks(raw: bytes) -> list[dict[str, Any]]:
    body = frames(raw)
    assert body[-1] == b"[DONE]"
    return [json.loads(f) for f in body[:-1]]


STREAM: list[StreamEvent] = [
    TextEvent(0, "Hello,\nworld"),
    TextEvent(1, "Zweite "),
    TextEvent(0, ' "quoted"'),
    FinishEvent(0, "stop"),
    TextEvent(1, "Antwort"),
    FinishEvent(1, "length"),
    UsageEvent(Usage(3, 5)),
]


def test_one_event_per_line_lf_only_done_last() -> None:
    raw = render(STREAM, include_usage=True)
    assert raw.endswith(DONE)
    assert raw.count(b"[DONE]") == 1
    assert len(frames(raw)) == len(STREAM) + 1


def test_usage_chunk_is_last_with_no_choices_and_the_others_say_null() -> None:
    parsed = chunks(render(STREAM, include_usage=True))
    assert parsed[-1]["choices"] == []
    assert parsed[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert all(c["usage"] is None for c in parsed[:-1])


def test_without_include_usage_there_is_no_usage_at_all() -> None:
    parsed = chunks(render(STREAM, include_usage=False))
    assert len(parsed) == len(STREAM) - 1
    assert all("usage" not in c for c in parsed)


def test_role_once_per_choice_and_one_finish_reason_each() -> None:
    parsed = chunks(render(STREAM, include_usage=False))
    roles: dict[int, int] = {}
    finishes: dict[int, list[str]] = {}
    text: dict[int, str] = {}
    for chunk in parsed:
        (choice,) = chunk["choices"]
        index = choice["index"]
        roles[index] = roles.get(index, 0) + ("role" in choice["delta"])
        if choice["finish_reason"] is not None:
            finishes.setdefault(index, []).append(choice["finish_reason"])
        text[index] = text.get(index, "") + choice["delta"].get("content", "")
        assert chunk["object"] == "chat.completion.chunk"
        assert (chunk["id"], chunk["created"], chunk["model"]) == ("chatcmpl-abc", 1_700_000_000, "m")
    assert roles == {0: 1, 1: 1}
    assert finishes == {0: ["stop"], 1: ["length"]}
    assert text == {0: 'Hello,\nworld "quoted"', 1: "Zweite Antwort"}


def test_tool_calls_are_indexed_deltas() -> None:
    calls = (ToolCall("call_1", "f", '{"a":1}'), ToolCall("call_2", "g", "{}"))
    parsed = chunks(
        render([ToolCallsEvent(0, calls), FinishEvent(0, "tool_calls"), UsageEvent(Usage(1, 2))], False)
    )
    delta = parsed[0]["choices"][0]["delta"]
    assert delta["role"] == "assistant"
    assert delta["tool_calls"] == [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
        {"index": 1, "id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]


def test_failure_mid_stream_is_an_error_event_and_never_done() -> None:
    raw = render([TextEvent(0, "partial"), ErrorEvent("audit")], include_usage=True)
    *head, last = frames(raw)
    assert b"[DONE]" not in raw
    error = json.loads(last)
    assert set(error) == {"error"}
    assert error["error"]["code"] == "fail_closed"
    assert "(audit)" in error["error"]["message"]
    assert json.loads(head[0])["choices"][0]["finish_reason"] is None


def test_unexpected_failure_mid_stream_still_ends_with_the_error_event() -> None:
    async def source() -> AsyncIterator[StreamEvent]:
        yield TextEvent(0, "partial")
        raise RuntimeError("bug")

    parts: list[bytes] = []

    async def collect() -> None:
        async for part in sse_stream(IDENTITY, source(), True):
            parts.append(part)

    with pytest.raises(RuntimeError):
        asyncio.run(collect())
    assert b"[DONE]" not in b"".join(parts)
    assert json.loads(frames(b"".join(parts))[-1])["error"]["code"] == "fail_closed"


def test_content_filter_finish_then_usage_then_done() -> None:
    raw = render([TextEvent(0, "ok"), FinishEvent(0, "content_filter"), UsageEvent(Usage(1, 1))], True)
    parsed = chunks(raw)
    assert [c["choices"][0]["finish_reason"] for c in parsed[:-1]] == [None, "content_filter"]
    assert parsed[-1]["choices"] == []


def test_completion_object_shape() -> None:
    completion = Completion(
        VERDICT,
        (Choice(0, "hi", (), "stop"), Choice(1, "", (ToolCall("call_9", "f", "{}"),), "tool_calls")),
        Usage(2, 3),
    )
    body = completion_object(IDENTITY, completion)
    assert body["object"] == "chat.completion"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    first, second = body["choices"]  # type: ignore[misc]
    assert first["message"] == {"role": "assistant", "content": "hi", "refusal": None}
    assert second["message"]["content"] is None
    assert second["message"]["tool_calls"][0]["function"] == {"name": "f", "arguments": "{}"}
    assert second["finish_reason"] == "tool_calls"
    assert "verdict" not in body


def test_json_is_compact_utf8_and_one_line() -> None:
    assert dumps({"a": "é\n", "b": [1, 2]}) == '{"a":"é\\n","b":[1,2]}'.encode()
    assert sse({"x": "line\nbreak"}) == b'data: {"x":"line\\nbreak"}\n\n'
