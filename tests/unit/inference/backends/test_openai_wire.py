"""The OpenAI wire format: the request we send upstream and the checks on the stream we get back."""

from __future__ import annotations

import json

import pytest

from inference.backends import (
    BackendRejected,
    BadBackendResponse,
    Chunk,
    GenerationRequest,
    Message,
    Sampling,
    Tool,
    ToolCall,
    Usage,
)
from inference.backends.openai_wire import StreamAssembler, parse_models, request_body

TOOL = Tool(name="get_weather", description="d", parameters_json='{"type": "object"}')


def event(*choices: dict[str, object], usage: dict[str, int] | None = None) -> str:
    body: dict[str, object] = {"object": "chat.completion.chunk", "choices": list(choices)}
    if usage is not None:
        body["usage"] = usage
    return json.dumps(body)


def delta(index: int, content: str | None = None, finish: str | None = None) -> dict[str, object]:
    return {"index": index, "delta": {"content": content}, "finish_reason": finish}


USAGE = event(usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8})


def run(assembler: StreamAssembler, *payloads: str) -> list[Chunk | Usage]:
    out: list[Chunk | Usage] = []
    for payload in payloads:
        out += assembler.feed(payload)
    return out


def test_request_body_carries_every_sampling_field_tool_and_tool_message() -> None:
    request = GenerationRequest(
        request_id="r",
        model="m",
        messages=(
            Message(role="system", content="be brief"),
            Message(
                role="assistant",
                content="",
                tool_calls=(ToolCall(id="c1", name="get_weather", arguments='{"city":"x"}'),),
            ),
            Message(role="tool", content="sunny", tool_call_id="c1", name="get_weather"),
        ),
        sampling=Sampling(max_tokens=7, temperature=0.5, top_p=0.9, stop=("\n",), n=2, seed=11),
        tools=(TOOL,),
        tool_choice="get_weather",
    )
    body = request_body(request)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (7, 0.5, 0.9)
    assert (body["stop"], body["n"], body["seed"]) == (["\n"], 2, 11)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object"}},
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assistant, tool = body["messages"][1], body["messages"][2]
    assert assistant["content"] is None
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"city":"x"}'
    assert (tool["tool_call_id"], tool["name"]) == ("c1", "get_weather")


def test_request_body_omits_unset_sampling_fields() -> None:
    request = GenerationRequest(request_id="r", model="m", messages=(Message(role="user", content="hi"),))
    body = request_body(request)
    assert not {"max_tokens", "temperature", "top_p", "stop", "n", "seed", "tools"} & set(body)


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_builtin_tool_choices_are_sent_as_strings(choice: str) -> None:
    request = GenerationRequest(
        request_id="r",
        model="m",
        messages=(Message(role="user", content="hi"),),
        tools=(TOOL,),
        tool_choice=choice,
    )
    assert request_body(request)["tool_choice"] == choice


def test_tool_with_non_json_parameters_is_rejected() -> None:
    bad = Tool(name="t", description="", parameters_json="{not json")
    request = GenerationRequest(
        request_id="r", model="m", messages=(Message(role="user", content="x"),), tools=(bad,)
    )
    with pytest.raises(BackendRejected):
        request_body(request)


def test_well_formed_stream_yields_chunks_then_one_usage_after_done() -> None:
    assembler = StreamAssembler(n=2)
    out = run(
        assembler,
        event({"index": 0, "delta": {"role": "assistant"}}),
        event(delta(0, "Hel"), delta(1, "Yo")),
        event(delta(0, "lo", "stop")),
        event(delta(1, None, "length")),
        USAGE,
    )
    assert out == [
        Chunk(0, "Hel"),
        Chunk(1, "Yo"),
        Chunk(0, "lo", finish_reason="stop"),
        Chunk(1, finish_reason="length"),
    ]
    assert run(assembler, "[DONE]") == [Usage(3, 5)]
    assert assembler.done


def test_tool_call_pieces_are_assembled_and_emitted_whole_with_the_finish() -> None:
    assembler = StreamAssembler(n=1)
    pieces = [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather"}},
        {"index": 0, "function": {"arguments": '{"ci'}},
        {"index": 1, "id": "call_2", "function": {"name": "lookup", "arguments": "{}"}},
        {"index": 0, "function": {"arguments": 'ty": "Paris"}'}},
    ]
    payloads = [event({"index": 0, "delta": {"tool_calls": [p]}}) for p in pieces]
    out = run(assembler, *payloads, event(delta(0, None, "tool_calls")), USAGE, "[DONE]")
    assert out[0] == Chunk(
        0,
        tool_calls=(
            ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
            ToolCall("call_2", "lookup", "{}"),
        ),
        finish_reason="tool_calls",
    )


def test_legacy_function_call_finish_reads_as_tool_calls() -> None:
    out = run(StreamAssembler(n=1), event(delta(0, "x", "function_call")))
    assert out == [Chunk(0, "x", finish_reason="tool_calls")]


@pytest.mark.parametrize(
    "payloads",
    [
        pytest.param([event(delta(0, "a", "stop")), "[DONE]"], id="no-usage"),
        pytest.param([event(delta(0, "a")), USAGE, "[DONE]"], id="choice-never-finished"),
        pytest.param([event(delta(1, "a"))], id="index-beyond-n"),
        pytest.param([event(delta(0, "a", "stop")), event(delta(0, "more"))], id="after-finish"),
        pytest.param([event(delta(0, "a", "eos"))], id="unknown-finish"),
        pytest.param(["{not json"], id="not-json"),
        pytest.param(["[1, 2]"], id="not-an-object"),
        pytest.param([json.dumps({"error": {"message": "boom"}})], id="error-event"),
        pytest.param([json.dumps({"choices": "x"})], id="choices-not-list"),
        pytest.param([event({"index": "0", "delta": {}})], id="index-not-int"),
        pytest.param([event({"index": 0, "delta": {"content": 5}})], id="content-not-str"),
        pytest.param([USAGE, USAGE], id="two-usages"),
        pytest.param([event(usage={"prompt_tokens": "3", "completion_tokens": 1})], id="usage-not-int"),
        pytest.param(
            [
                event({"index": 0, "delta": {"tool_calls": [{"function": {"arguments": "{}"}}]}}),
                event(delta(0, None, "tool_calls")),
            ],
            id="tool-call-without-id",
        ),
        pytest.param(
            [event(delta(0, "a", "stop")), USAGE, "[DONE]", event(delta(0, "x"))],
            id="data-after-done",
        ),
    ],
)
def test_malformed_streams_are_bad_responses(payloads: list[str]) -> None:
    assembler = StreamAssembler(n=1)
    with pytest.raises(BadBackendResponse):
        run(assembler, *payloads)


def test_bad_response_messages_never_quote_the_payload() -> None:
    secret = "CANARY-91c2"
    for payload in (f"{{{secret}", json.dumps({"error": {"message": secret}})):
        with pytest.raises(BadBackendResponse) as caught:
            StreamAssembler(n=1).feed(payload)
        assert secret not in str(caught.value)


def test_parse_models_reads_an_openai_list() -> None:
    payload = b'{"object": "list", "data": [{"id": "a", "object": "model"}, {"id": "b"}]}'
    assert parse_models(payload) == ("a", "b")


@pytest.mark.parametrize("payload", [b"[]", b'{"data": []}', b'{"data": [{"id": 3}]}', b"<html>"])
def test_parse_models_refuses_anything_else(payload: bytes) -> None:
    with pytest.raises(BadBackendResponse):
        parse_models(payload)
