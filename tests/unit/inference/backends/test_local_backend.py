"""The local backend: a deterministic model stand-in that tests steer through documented prefixes."""

from __future__ import annotations

import json

import pytest

from inference.backends import (
    ECHO_PREFIX,
    LOCAL_MODEL_ID,
    BackendRejected,
    Chunk,
    GenerationRequest,
    LocalBackend,
    Message,
    Sampling,
    Tool,
    ToolCall,
    Usage,
)
from inference.backends.local import reply_for, split_tokens

CANARY = "CANARY-7f3a9c"
WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters_json='{"type": "object", "properties": {"city": {"type": "string"}}}',
)
LOOKUP = Tool(name="lookup", description="", parameters_json='{"type": "object"}')


def request(
    *contents: str,
    sampling: Sampling | None = None,
    tools: tuple[Tool, ...] = (),
    tool_choice: str | None = None,
    model: str = LOCAL_MODEL_ID,
) -> GenerationRequest:
    return GenerationRequest(
        request_id="req-1",
        model=model,
        messages=tuple(Message(role="user", content=c) for c in contents),
        sampling=sampling or Sampling(),
        tools=tools,
        tool_choice=tool_choice,
    )


async def collect(backend: LocalBackend, req: GenerationRequest) -> list[Chunk | Usage]:
    return [item async for item in backend.generate(req)]


def texts(items: list[Chunk | Usage], n: int = 1) -> list[str]:
    out = [""] * n
    for item in items:
        if isinstance(item, Chunk):
            out[item.index] += item.text
    return out


def test_split_tokens_keeps_every_character() -> None:
    text = "  hello,\tworld \n again  "
    pieces = split_tokens(text)
    assert "".join(pieces) == text
    assert len(pieces) == 3


def test_echo_prefix_makes_the_model_say_a_chosen_canary_verbatim() -> None:
    reply = reply_for(request(f"{ECHO_PREFIX} say {CANARY}  twice\nplease"), 0)
    assert "".join(reply.pieces) == f"say {CANARY}  twice\nplease"
    assert reply.finish_reason == "stop"
    assert reply.completion_tokens == 4


def test_default_reply_never_repeats_prompt_content() -> None:
    reply = reply_for(request(f"tell me about {CANARY}"), 0)
    text = "".join(reply.pieces)
    assert CANARY not in text
    assert "veritee local echo backend" in text
    assert "4 words" in text


def test_echo_uses_the_last_user_message_not_an_earlier_one() -> None:
    reply = reply_for(request(f"{ECHO_PREFIX} first", f"{ECHO_PREFIX} second"), 0)
    assert "".join(reply.pieces) == "second"


def test_max_tokens_cuts_the_reply_and_reports_length() -> None:
    reply = reply_for(request(f"{ECHO_PREFIX} one two three four", sampling=Sampling(2)), 0)
    assert "".join(reply.pieces) == "one two"
    assert (reply.finish_reason, reply.completion_tokens) == ("length", 2)


def test_max_tokens_equal_to_the_reply_length_is_a_normal_stop() -> None:
    reply = reply_for(request(f"{ECHO_PREFIX} one two", sampling=Sampling(max_tokens=2)), 0)
    assert reply.finish_reason == "stop"


def test_stop_string_cuts_before_it_is_said() -> None:
    sampling = Sampling(stop=("STOP", "three"))
    reply = reply_for(request(f"{ECHO_PREFIX} one two three STOP four", sampling=sampling), 0)
    assert "".join(reply.pieces) == "one two "
    assert reply.finish_reason == "stop"


def test_temperature_zero_gives_identical_choices() -> None:
    req = request("hi", sampling=Sampling(temperature=0, n=3))
    assert len({"".join(reply_for(req, i).pieces) for i in range(3)}) == 1


def test_same_seed_same_reply_and_seeds_reach_every_opening() -> None:
    seeded = [reply_for(request("hi", sampling=Sampling(seed=s)), 0) for s in range(40)]
    again = [reply_for(request("hi", sampling=Sampling(seed=s)), 0) for s in range(40)]
    assert seeded == again
    assert len({reply.pieces[0] for reply in seeded}) == 4


def test_small_top_p_narrows_the_choice_to_the_first_opening() -> None:
    replies = {reply_for(request("hi", sampling=Sampling(seed=s, top_p=0.1)), 0).pieces for s in range(20)}
    assert len(replies) == 1


def test_call_directive_with_json_object_becomes_that_tool_call() -> None:
    req = request('call:get_weather {"city": "Paris"}', tools=(LOOKUP, WEATHER), tool_choice="auto")
    reply = reply_for(req, 0)
    assert reply.pieces == ()
    (call,) = reply.tool_calls
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Paris"}')
    assert call.id.startswith("call_")
    assert reply.finish_reason == "tool_calls"


def test_call_directive_with_plain_text_wraps_it_as_json() -> None:
    req = request(f"call:lookup find {CANARY}", tools=(LOOKUP,))
    (call,) = reply_for(req, 0).tool_calls
    assert json.loads(call.arguments) == {"text": f"find {CANARY}"}


def test_tool_choice_none_never_calls_a_tool() -> None:
    req = request("call:lookup x", tools=(LOOKUP,), tool_choice="none")
    assert reply_for(req, 0).tool_calls == ()


def test_required_tool_choice_calls_the_first_tool_without_a_directive() -> None:
    reply = reply_for(request("hi", tools=(WEATHER, LOOKUP), tool_choice="required"), 0)
    assert [c.name for c in reply.tool_calls] == ["get_weather"]
    assert reply.finish_reason == "tool_calls"


def test_named_tool_choice_forces_that_tool_and_finishes_with_stop() -> None:
    reply = reply_for(request("hi", tools=(WEATHER, LOOKUP), tool_choice="lookup"), 0)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("lookup", "{}")]
    assert reply.finish_reason == "stop"


def test_named_tool_choice_for_a_tool_not_offered_is_rejected() -> None:
    with pytest.raises(BackendRejected):
        reply_for(request("hi", tools=(WEATHER,), tool_choice="delete_everything"), 0)


def test_tool_call_that_does_not_fit_max_tokens_is_dropped() -> None:
    req = request(
        'call:get_weather {"city": "Paris", "days": 3}',
        tools=(WEATHER,),
        sampling=Sampling(max_tokens=2),
    )
    reply = reply_for(req, 0)
    assert (reply.tool_calls, reply.finish_reason) == ((), "length")


def test_reply_after_a_tool_result_counts_the_result() -> None:
    req = GenerationRequest(
        request_id="r",
        model=LOCAL_MODEL_ID,
        messages=(
            Message(role="user", content="weather?"),
            Message(
                role="assistant",
                content="",
                tool_calls=(ToolCall(id="c1", name="get_weather", arguments="{}"),),
            ),
            Message(role="tool", content="sunny and warm", tool_call_id="c1"),
        ),
    )
    text = "".join(reply_for(req, 0).pieces)
    assert "last tool result has 3 words" in text
    assert "sunny" not in text


async def test_stream_interleaves_choices_and_ends_with_one_usage() -> None:
    backend = LocalBackend(tokens_per_chunk=1)
    items = await collect(backend, request(f"{ECHO_PREFIX} a b c", sampling=Sampling(n=2, max_tokens=2)))
    assert isinstance(items[-1], Usage)
    assert sum(isinstance(item, Usage) for item in items) == 1
    assert items[-1] == Usage(prompt_tokens=4, completion_tokens=4)
    chunks = [item for item in items if isinstance(item, Chunk)]
    assert [c.index for c in chunks if c.text] == [0, 1, 0, 1]
    finishes = [(c.index, c.finish_reason) for c in chunks if c.finish_reason]
    assert finishes == [(0, "length"), (1, "length")]
    assert texts(items, 2) == ["a b", "a b"]


async def test_stream_sends_small_chunks() -> None:
    items = await collect(LocalBackend(tokens_per_chunk=2), request("hello"))
    chunks = [item for item in items if isinstance(item, Chunk) and item.text]
    assert len(chunks) > 5
    assert all(len(c.text.split()) <= 2 for c in chunks)


async def test_tool_call_arrives_whole_with_the_finish_reason() -> None:
    items = await collect(LocalBackend(), request("call:lookup {}", tools=(LOOKUP,)))
    (chunk,) = [item for item in items if isinstance(item, Chunk)]
    assert chunk.finish_reason == "tool_calls"
    assert [c.name for c in chunk.tool_calls] == ["lookup"]


async def test_unknown_model_is_rejected() -> None:
    with pytest.raises(BackendRejected):
        await collect(LocalBackend(), request("hi", model="gpt-4o"))


async def test_closing_the_stream_early_stops_generation() -> None:
    stream = LocalBackend(tokens_per_chunk=1).generate(request("hello"))
    first = await anext(stream)
    assert isinstance(first, Chunk)
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


def test_backend_names_itself_and_its_model() -> None:
    backend = LocalBackend()
    assert backend.name == "local"
    assert backend.models == ("veritee-local-echo",)
