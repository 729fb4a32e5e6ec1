"""The OpenAI chat-completions wire format, as the ``openai`` backend speaks it to an upstream.

Pure: :func:`request_body` turns a :class:`GenerationRequest` into the JSON body of
``POST /v1/chat/completions`` (always streamed, with ``stream_options.include_usage``), and
:class:`StreamAssembler` turns the decoded ``data:`` payloads of the answer back into
:class:`Chunk` and :class:`Usage` objects, checking the stream as it goes. Reference:
https://platform.openai.com/docs/api-reference/chat/streaming

What the assembler guarantees to its caller, whatever the upstream sends:

* text chunks for choice indices ``0 <= i < n`` only, none after that choice finished;
* tool calls emitted whole (id, name, complete arguments), once, in the chunk that carries the
  choice's finish reason (upstreams stream them in pieces keyed by a tool index);
* exactly one finish reason per choice, one of ``stop``, ``length``, ``tool_calls``,
  ``content_filter`` (legacy ``function_call`` is read as ``tool_calls``);
* one :class:`Usage`, last, after ``[DONE]``.

Anything else raises :class:`BadBackendResponse`, whose message never quotes the payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import cast

from inference.backends.base import Chunk, FinishReason, GenerationRequest, Message, ToolCall, Usage
from inference.backends.errors import BackendRejected, BadBackendResponse

DONE = "[DONE]"
_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_BUILTIN_TOOL_CHOICES = ("auto", "none", "required")


def message_json(message: Message) -> dict[str, object]:
    body: dict[str, object] = {"role": message.role, "content": message.content}
    if message.name is not None:
        body["name"] = message.name
    if message.tool_calls:
        body["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
        if not message.content:
            body["content"] = None
    if message.tool_call_id is not None:
        body["tool_call_id"] = message.tool_call_id
    return body


def request_body(request: GenerationRequest) -> dict[str, object]:
    """The streaming chat-completions request for ``request``; unset sampling fields are omitted."""
    sampling = request.sampling
    body: dict[str, object] = {
        "model": request.model,
        "messages": [message_json(message) for message in request.messages],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    optional: dict[str, object | None] = {
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": sampling.seed,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if sampling.n != 1:
        body["n"] = sampling.n
    if request.tools:
        tools = []
        for tool in request.tools:
            try:
                parameters = json.loads(tool.parameters_json)
            except ValueError as exc:
                raise BackendRejected("tool parameters are not JSON") from exc
            function = {"name": tool.name, "description": tool.description}
            function["parameters"] = parameters
            tools.append({"type": "function", "function": function})
        body["tools"] = tools
    if request.tool_choice is not None:
        if request.tool_choice in _BUILTIN_TOOL_CHOICES:
            body["tool_choice"] = request.tool_choice
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
    return body


def parse_models(payload: bytes) -> tuple[str, ...]:
    """Model ids from a ``GET /v1/models`` answer."""
    try:
        listing = json.loads(payload)
        ids = tuple(entry["id"] for entry in listing["data"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadBackendResponse("model list is not an OpenAI list object") from exc
    if not ids or not all(isinstance(model, str) and model for model in ids):
        raise BadBackendResponse("model list is empty or has a non-string id")
    return cast(tuple[str, ...], ids)


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    finished: bool = False
    calls: dict[int, _PartialCall] = field(default_factory=dict)


class StreamAssembler:
    """Checks one streamed completion with ``n`` choices and converts it to chunks and usage."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        self._choices = [_Choice() for _ in range(n)]
        self._usage: Usage | None = None
        self.done = False

    def feed(self, payload: str) -> list[Chunk | Usage]:
        """Take one event's data; return what it adds (the usage only once ``[DONE]`` arrives)."""
        if self.done:
            raise BadBackendResponse("data after [DONE]")
        if payload == DONE:
            return self._finish()
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise BadBackendResponse("stream event is not JSON") from exc
        if not isinstance(event, dict):
            raise BadBackendResponse("stream event is not a JSON object")
        if "error" in event:
            raise BadBackendResponse("upstream reported an error mid-stream")
        out: list[Chunk | Usage] = []
        choices = event.get("choices")
        if not isinstance(choices, list):
            raise BadBackendResponse("stream event has no choices list")
        for choice in choices:
            chunk = self._choice(choice)
            if chunk is not None:
                out.append(chunk)
        usage = event.get("usage")
        if usage is not None and not choices:
            self._take_usage(usage)
        return out

    def _choice(self, choice: object) -> Chunk | None:
        if not isinstance(choice, dict):
            raise BadBackendResponse("choice is not an object")
        index = choice.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            raise BadBackendResponse("choice index is not an integer")
        if not 0 <= index < len(self._choices):
            raise BadBackendResponse(f"choice index {index} out of range")
        state = self._choices[index]
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise BadBackendResponse("choice delta is not an object")
        text = delta.get("content") or ""
        if not isinstance(text, str):
            raise BadBackendResponse("delta content is not a string")
        self._take_tool_calls(state, delta.get("tool_calls") or [])
        raw_finish = choice.get("finish_reason")
        if state.finished and (text or raw_finish is not None or state.calls):
            raise BadBackendResponse(f"choice {index} continues after its finish reason")
        if raw_finish is None:
            return Chunk(index=index, text=text) if text else None
        finish = _FINISH_REASONS.get(raw_finish) if isinstance(raw_finish, str) else None
        if finish is None:
            raise BadBackendResponse(f"choice {index} has an unknown finish reason")
        state.finished = True
        calls = tuple(_whole_call(index, state.calls[key]) for key in sorted(state.calls))
        state.calls = {}
        return Chunk(index=index, text=text, tool_calls=calls, finish_reason=finish)

    @staticmethod
    def _take_tool_calls(state: _Choice, deltas: object) -> None:
        if not isinstance(deltas, list):
            raise BadBackendResponse("tool_calls delta is not a list")
        for delta in deltas:
            if not isinstance(delta, dict):
                raise BadBackendResponse("tool call delta is not an object")
            key = delta.get("index", 0)
            function = delta.get("function") or {}
            if not isinstance(key, int) or not isinstance(function, dict):
                raise BadBackendResponse("tool call delta is malformed")
            partial = state.calls.setdefault(key, _PartialCall())
            for attribute, value in (("id", delta.get("id")), ("name", function.get("name"))):
                if value is None:
                    continue
                if not isinstance(value, str):
                    raise BadBackendResponse(f"tool call {attribute} is not a string")
                setattr(partial, attribute, getattr(partial, attribute) + value)
            arguments = function.get("arguments")
            if arguments is not None:
                if not isinstance(arguments, str):
                    raise BadBackendResponse("tool call arguments are not a string")
                partial.arguments.append(arguments)

    def _take_usage(self, usage: object) -> None:
        if self._usage is not None:
            raise BadBackendResponse("more than one usage chunk")
        if not isinstance(usage, dict):
            raise BadBackendResponse("usage is not an object")
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (prompt, completion)):
            raise BadBackendResponse("usage token counts are not integers")
        self._usage = Usage(prompt_tokens=cast(int, prompt), completion_tokens=cast(int, completion))

    def _finish(self) -> list[Chunk | Usage]:
        unfinished = [i for i, state in enumerate(self._choices) if not state.finished]
        if unfinished:
            raise BadBackendResponse(f"[DONE] before choice {unfinished[0]} finished")
        if self._usage is None:
            raise BadBackendResponse("no usage chunk (the upstream ignored include_usage)")
        self.done = True
        return [self._usage]


def _whole_call(index: int, partial: _PartialCall) -> ToolCall:
    if not partial.id or not partial.name:
        raise BadBackendResponse(f"choice {index} has a tool call without id or name")
    return ToolCall(id=partial.id, name=partial.name, arguments="".join(partial.arguments))
