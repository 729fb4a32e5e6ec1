"""OpenAI chat-completion objects and SSE framing for pipeline results (pure).

SSE follows OpenAI byte for byte: each event is ``data: <one-line JSON>\\n\\n`` with LF only, the
stream ends with ``data: [DONE]\\n\\n``, every choice gets exactly one ``finish_reason``, and with
``stream_options.include_usage`` exactly one chunk carries ``usage``: the last before ``[DONE]``,
with ``choices: []`` (the others carry ``"usage": null``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from inference.backends.base import ToolCall, Usage
from inference.http.errors import refused_body
from inference.pipeline import (
    Completion,
    ErrorEvent,
    FinishEvent,
    StreamEvent,
    TextEvent,
    ToolCallsEvent,
    UsageEvent,
)

DONE = b"data: [DONE]\n\n"


def dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sse(value: object) -> bytes:
    return b"data: " + dumps(value) + b"\n\n"


def usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def tool_calls_list(calls: tuple[ToolCall, ...]) -> list[dict[str, object]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls
    ]


@dataclass(frozen=True)
class ResponseIdentity:
    """The fields every object of one response shares."""

    completion_id: str
    created: int
    model: str
    fingerprint: str


def completion_object(identity: ResponseIdentity, completion: Completion) -> dict[str, object]:
    choices = []
    for choice in completion.choices:
        message: dict[str, object] = {"role": "assistant", "content": choice.text, "refusal": None}
        if choice.tool_calls:
            message["tool_calls"] = tool_calls_list(choice.tool_calls)
            if not choice.text:
                message["content"] = None
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
        )
    return {
        "id": identity.completion_id,
        "object": "chat.completion",
        "created": identity.created,
        "model": identity.model,
        "system_fingerprint": identity.fingerprint,
        "choices": choices,
        "usage": usage_dict(completion.usage),
    }


async def sse_stream(
    identity: ResponseIdentity, events: AsyncIterator[StreamEvent], include_usage: bool
) -> AsyncIterator[bytes]:
    """Frame pipeline events as OpenAI ``chat.completion.chunk`` SSE events."""
    started: set[int] = set()

    def chunk(choices: list[dict[str, object]], **extra: object) -> bytes:
        body: dict[str, object] = {
            "id": identity.completion_id,
            "object": "chat.completion.chunk",
            "created": identity.created,
            "model": identity.model,
            "system_fingerprint": identity.fingerprint,
            "choices": choices,
        }
        if include_usage:
            body["usage"] = None
        body.update(extra)
        return sse(body)

    def choice(index: int, delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
        if index not in started:
            started.add(index)
            delta = {"role": "assistant", **delta}
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    try:
        async for event in events:
            match event:
                case TextEvent(index, text):
                    yield chunk([choice(index, {"content": text})])
                case ToolCallsEvent(index, calls):
                    deltas = [{"index": k, **call} for k, call in enumerate(tool_calls_list(calls))]
                    yield chunk([choice(index, {"tool_calls": deltas})])
                case FinishEvent(index, reason):
                    yield chunk([choice(index, {}, reason)])
                case UsageEvent(usage):
                    if include_usage:
                        yield chunk([], usage=usage_dict(usage))
                    yield DONE
                case ErrorEvent(stage):
                    # Fail closed mid-stream: an error event and no [DONE], so no client mistakes
                    # the cut-off answer for a complete one.
                    yield sse(refused_body(stage))
    except Exception:
        # Anything unexpected ends the stream the same way; the exception goes on to the
        # middleware, which logs its type (and nothing else).
        yield sse(refused_body("internal"))
        raise
