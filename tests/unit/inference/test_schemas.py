"""The chat-completion request schema: limits from the policy, tool rules, what reaches the backend.

A request that passes must reach the backend exactly as meant (every message's text, tool calls,
sampling); one that breaks a limit or a rule must be refused with the parameter named and none of
its content in the message.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from inference.backends.base import Message, Sampling, Tool, ToolCall
from inference.errors import BadRequest
from inference.http.schemas import (
    PARAMETER_NAMES,
    ChatCompletionRequest,
    has_unpaired_surrogate,
)
from inference.policy import Limits

LIMITS = Limits(
    max_messages=4,
    max_message_chars=100,
    max_total_chars=250,
    max_tokens=50,
    max_n=2,
    max_tools=2,
    max_body_bytes=10_000,
)
CANARY = "CANARY-schema-31ab"
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def request(**fields: Any) -> ChatCompletionRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return ChatCompletionRequest.model_validate(body)


def generation(**fields: Any) -> Any:
    return request(**fields).to_generation("req-1", LIMITS)


def bad_request(**fields: Any) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        generation(**fields)
    assert CANARY not in str(caught.value)
    return caught.value


def invalid(**fields: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        request(**fields)
    return caught.value


def test_every_message_reaches_the_backend_normalised() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "part one, "}, {"type": "text", "text": "part two"}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    result = generation(messages=messages, tools=[TOOL], tool_choice="auto")
    assert result.request_id == "req-1"
    assert result.messages == (
        Message("system", "be brief"),
        Message("user", "part one, part two"),
        Message("assistant", "", tool_calls=(ToolCall("c1", "lookup", '{"q":1}'),)),
        Message("tool", "42", tool_call_id="c1"),
    )
    assert result.tools == (Tool("lookup", "", '{"type":"object"}'),)
    assert result.tool_choice == "auto"


def test_tool_schema_text_is_not_hidden_behind_json_escapes() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"description": "sarín 毒"}}}
    (converted,) = generation(tools=[tool]).tools
    assert converted.parameters_json == '{"description":"sarín 毒"}'


def test_sampling_parameters_reach_the_backend() -> None:
    result = generation(max_tokens=9, temperature=0.3, top_p=0.5, stop="END", n=2, seed=7)
    assert result.sampling == Sampling(max_tokens=9, temperature=0.3, top_p=0.5, stop=("END",), n=2, seed=7)
    assert generation(stop=["a", "b"]).sampling.stop == ("a", "b")


def test_max_completion_tokens_takes_precedence_over_max_tokens() -> None:
    assert generation(max_tokens=40, max_completion_tokens=5).sampling.max_tokens == 5
    assert generation(max_completion_tokens=6).sampling.max_tokens == 6


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": [{"role": "user", "content": CANARY}] * 5}, "messages"),
        ({"messages": [{"role": "user", "content": CANARY + "x" * 100}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": CANARY + "y" * 80}] * 3}, "messages"),
        ({"n": 3}, "n"),
        ({"max_tokens": 51}, "max_tokens"),
        ({"max_completion_tokens": 51, "max_tokens": 1}, "max_tokens"),
        ({"tools": [TOOL, TOOL, TOOL]}, "tools"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_policy_limits_are_enforced(fields: dict[str, Any], param: str) -> None:
    assert bad_request(**fields).param == param


def test_limits_count_characters_of_content_parts_too() -> None:
    parts = [{"type": "text", "text": CANARY + "z" * 60}, {"type": "text", "text": "z" * 60}]
    assert bad_request(messages=[{"role": "user", "content": parts}]).param == "messages[0].content"


def test_named_tool_choice_must_name_an_offered_tool() -> None:
    choice = {"type": "function", "function": {"name": CANARY}}
    assert bad_request(tools=[TOOL], tool_choice=choice).param == "tool_choice"
    assert (
        bad_request(tool_choice={"type": "function", "function": {"name": "lookup"}}).param == "tool_choice"
    )
    named = {"type": "function", "function": {"name": "lookup"}}
    assert generation(tools=[TOOL], tool_choice=named).tool_choice == "lookup"


def test_required_tool_choice_needs_tools() -> None:
    assert bad_request(tool_choice="required").param == "tool_choice"
    assert generation(tools=[TOOL], tool_choice="required").tool_choice == "required"
    assert generation(tool_choice="none").tool_choice == "none"


def test_tool_message_needs_its_call_id() -> None:
    assert bad_request(messages=[{"role": "tool", "content": CANARY}]).param == "messages[0]"


def test_only_assistant_messages_carry_tool_calls() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert (
        bad_request(messages=[{"role": "user", "content": "x", "tool_calls": [call]}]).param == "messages[0]"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"messages": []},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"temperature": 2.5},
        {"temperature": -0.1},
        {"top_p": 0},
        {"top_p": 1.5},
        {"n": 0},
        {"max_tokens": 0},
        {"stop": [""]},
        {"stop": ["a", "b", "c", "d", "e"]},
        {"logprobs": True},
        {"store": True},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "has space"}}]},
        {"tools": [{"type": "retrieval", "function": {"name": "x"}}]},
        {"tool_choice": "sometimes"},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
        {"model": ""},
    ],
)
def test_malformed_requests_fail_validation(fields: dict[str, Any]) -> None:
    invalid(**fields)


def test_harmless_client_extras_are_accepted() -> None:
    generation(
        user="u-1", presence_penalty=0.5, frequency_penalty=-1, parallel_tool_calls=True, metadata={"k": "v"}
    )
    generation(logprobs=False, store=False, stream=True, stream_options={"include_usage": True})


def test_unpaired_surrogates_are_refused_anywhere() -> None:
    assert has_unpaired_surrogate({"a": [1, {"b": "ok \ud800"}]})
    assert has_unpaired_surrogate({"\udfff": 1})
    assert not has_unpaired_surrogate({"a": ["ascii", "Ünïcödé 🙂", 3, None]})
    error = invalid(messages=[{"role": "user", "content": "x\udc80"}])
    assert error.errors()[0]["type"] == "unpaired_surrogate"
    invalid(tools=[{"type": "function", "function": {"name": "f", "description": "\ud834"}}])


def test_parameter_names_cover_the_schema_and_only_it() -> None:
    assert {
        "messages",
        "model",
        "tool_calls",
        "tool_call_id",
        "include_usage",
        "arguments",
    } <= PARAMETER_NAMES
    assert "response_format" in PARAMETER_NAMES
    assert CANARY not in PARAMETER_NAMES
