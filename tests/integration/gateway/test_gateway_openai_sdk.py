"""The official ``openai`` Python SDK, unchanged, against a real gateway: every usual parameter.

The ``local`` backend is deterministic (its docstring gives the conventions: ``echo:`` repeats the
rest of the message, ``call:NAME ARGS`` calls a tool), so each parameter's effect is checked
against :func:`inference.backends.local.reply_for`, the backend's own decision for the same
request: a parameter the gateway dropped or altered on the way shows up as a different answer.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from gateway_harness import MODEL, RunningGateway

from inference.backends.base import GenerationRequest, Message, Sampling
from inference.backends.local import reply_for

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME_TOOL: Any = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def expected_text(content: str, **sampling: Any) -> str:
    request = GenerationRequest("x", MODEL, (Message("user", content),), Sampling(**sampling))
    return "".join(reply_for(request, sampling.get("n", 1) - 1).pieces)


def user(content: str) -> list[Any]:
    return [{"role": "user", "content": content}]


def test_non_streaming_answer_reaches_the_sdk_intact(gateway: RunningGateway) -> None:
    client = gateway.client()
    completion = client.chat.completions.create(model=MODEL, messages=user("echo: the quick brown fox"))
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    (choice,) = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "the quick brown fox"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 4)
    assert completion.usage.total_tokens == 9


def test_streamed_answer_reassembles_in_the_sdk(gateway: RunningGateway) -> None:
    client = gateway.client()
    text = "one two three four five six seven eight nine ten " * 20
    stream = client.chat.completions.create(model=MODEL, messages=user("echo: " + text), stream=True)
    pieces, finishes = [], []
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            if choice.finish_reason is not None:
                finishes.append(choice.finish_reason)
    assert "".join(pieces) == text
    assert finishes == ["stop"]


def test_models_list_names_the_served_model(gateway: RunningGateway) -> None:
    assert [m.id for m in gateway.client().models.list()] == [MODEL]


@pytest.mark.parametrize("parameter", ["max_tokens", "max_completion_tokens"])
def test_token_limit_cuts_the_answer(gateway: RunningGateway, parameter: str) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL, messages=user("echo: a b c d e f g"), **{parameter: 3}
    )
    assert completion.choices[0].message.content == "a b c"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_max_completion_tokens_wins_over_max_tokens(gateway: RunningGateway) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL, messages=user("echo: a b c d e f g"), max_tokens=5, max_completion_tokens=2
    )
    assert completion.choices[0].message.content == "a b"


def test_stop_sequence_cuts_before_it(gateway: RunningGateway) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL, messages=user("echo: alpha beta STOP gamma"), stop=["STOP", "never"]
    )
    assert completion.choices[0].message.content == "alpha beta "
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(("temperature", "top_p", "seed"), [(1.0, 1.0, 11), (1.0, 1.0, 12), (0.7, 0.2, 5)])
def test_sampling_parameters_reach_the_model(
    gateway: RunningGateway, temperature: float, top_p: float, seed: int
) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL, messages=user("hi"), n=3, temperature=temperature, top_p=top_p, seed=seed
    )
    assert [c.index for c in completion.choices] == [0, 1, 2]
    for choice in completion.choices:
        sampling = {"temperature": temperature, "top_p": top_p, "seed": seed, "n": choice.index + 1}
        assert choice.message.content == expected_text("hi", **sampling)


def test_seed_changes_the_answer_and_repeats_it(gateway: RunningGateway) -> None:
    # Guards the test above: the seeds chosen really lead to different local answers.
    client = gateway.client()
    answers = {
        seed: client.chat.completions.create(model=MODEL, messages=user("hi"), seed=seed, temperature=1)
        .choices[0]
        .message.content
        for seed in (11, 12)
    }
    assert answers[11] != answers[12]
    again = client.chat.completions.create(model=MODEL, messages=user("hi"), seed=11, temperature=1)
    assert again.choices[0].message.content == answers[11]


def test_n_choices_stream_each_with_one_finish_reason(gateway: RunningGateway) -> None:
    stream = gateway.client().chat.completions.create(
        model=MODEL, messages=user("echo: " + "word " * 120), n=3, stream=True, temperature=0
    )
    texts: dict[int, str] = {}
    finishes: dict[int, list[str]] = {}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finishes.setdefault(choice.index, []).append(choice.finish_reason)
    assert texts == {i: "word " * 120 for i in range(3)}
    assert finishes == {i: ["stop"] for i in range(3)}


def test_include_usage_gives_one_usage_chunk_last(gateway: RunningGateway) -> None:
    stream = gateway.client().chat.completions.create(
        model=MODEL, messages=user("echo: a b c"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    with_usage = [c for c in chunks if c.usage is not None]
    assert with_usage == [chunks[-1]]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_without_include_usage_no_chunk_carries_usage(gateway: RunningGateway) -> None:
    stream = gateway.client().chat.completions.create(model=MODEL, messages=user("echo: a b c"), stream=True)
    assert all(chunk.usage is None for chunk in stream)


def test_tool_call_reaches_the_sdk(gateway: RunningGateway) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL,
        messages=user('call:get_weather {"city": "Paris"}'),
        tools=[WEATHER_TOOL, TIME_TOOL],
    )
    (choice,) = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_")


def test_named_tool_choice_forces_that_tool(gateway: RunningGateway) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL,
        messages=user("what time is it"),
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    (choice,) = completion.choices
    assert choice.message.tool_calls is not None
    assert [c.function.name for c in choice.message.tool_calls] == ["get_time"]
    assert choice.finish_reason == "stop"


def test_tool_choice_none_answers_in_text(gateway: RunningGateway) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL,
        messages=user('call:get_weather {"city": "Paris"}'),
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content


def test_tool_choice_required_calls_a_tool(gateway: RunningGateway) -> None:
    completion = gateway.client().chat.completions.create(
        model=MODEL, messages=user("anything"), tools=[TIME_TOOL, WEATHER_TOOL], tool_choice="required"
    )
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert [c.function.name for c in calls] == ["get_time"]


def test_tool_result_message_round_trip(gateway: RunningGateway) -> None:
    client = gateway.client()
    first = client.chat.completions.create(
        model=MODEL, messages=user('call:get_weather {"city": "Oslo"}'), tools=[WEATHER_TOOL]
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    messages: list[Any] = [
        *user('call:get_weather {"city": "Oslo"}'),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "cloudy, four degrees"},
    ]
    second = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL], tool_choice="none"
    )
    content = second.choices[0].message.content
    assert content is not None
    assert "the last tool result has 3 words and 20 characters" in content


def test_streamed_tool_call_reaches_the_sdk(gateway: RunningGateway) -> None:
    stream = gateway.client().chat.completions.create(
        model=MODEL, messages=user('call:get_weather {"city": "Rome"}'), tools=[WEATHER_TOOL], stream=True
    )
    calls, finishes = [], []
    for chunk in stream:
        for choice in chunk.choices:
            calls.extend(choice.delta.tool_calls or [])
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Rome"})
    ]
    assert finishes == ["tool_calls"]


def test_sdk_reports_unknown_model_as_not_found(gateway: RunningGateway) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client().chat.completions.create(model="gpt-unknown", messages=user("hi"))
    assert caught.value.status_code == 404
