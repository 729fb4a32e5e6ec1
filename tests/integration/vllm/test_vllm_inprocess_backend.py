"""The in-process vLLM backend on a real (tiny, CPU) engine: streaming, sampling, tools, abort."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from vllm_support import (
    MAX_MODEL_LEN,
    SERVED_MODEL,
    ascii_stop_string,
    chat_request,
    collect,
    finishes,
    requires_vllm,
    texts,
    third_party_warnings,
    usage,
)

from inference.backends import (
    BackendRejected,
    Chunk,
    GenerationRequest,
    Message,
    Sampling,
    Tool,
    ToolCall,
    VllmBackend,
)

pytestmark = [
    pytest.mark.vllm,
    requires_vllm,
    pytest.mark.asyncio(loop_scope="session"),
    *third_party_warnings,
]

CITY = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters_json=json.dumps(
        {
            "type": "object",
            "properties": {"city": {"enum": ["Paris", "Rome"]}},
            "required": ["city"],
            "additionalProperties": False,
        }
    ),
)
GREEDY = Sampling(max_tokens=16, temperature=0)


async def test_greedy_generation_streams_and_honours_max_tokens(vllm_backend: VllmBackend) -> None:
    assert (vllm_backend.name, vllm_backend.models) == ("vllm", (SERVED_MODEL,))
    items = await collect(vllm_backend, chat_request("Hello there", sampling=GREEDY))
    chunks = [item for item in items if isinstance(item, Chunk)]
    assert len(chunks) >= 8
    assert finishes(items) == {0: "length"}
    assert usage(items).completion_tokens == 16
    again = await collect(vllm_backend, chat_request("Hello there", sampling=GREEDY))
    assert texts(again) == texts(items)


async def test_prompt_tokens_count_the_rendered_chat_template(
    vllm_backend: VllmBackend, tiny_model_dir: Path
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    expected = len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    items = await collect(vllm_backend, chat_request(messages[0]["content"], sampling=GREEDY))
    assert usage(items).prompt_tokens == expected


async def test_stop_string_ends_the_answer_before_it(vllm_backend: VllmBackend) -> None:
    sampling = Sampling(max_tokens=40, temperature=0)
    (full,) = texts(await collect(vllm_backend, chat_request("Tell me a story", sampling=sampling)))
    stop = ascii_stop_string(full)
    stopped = Sampling(max_tokens=40, temperature=0, stop=(stop,))
    items = await collect(vllm_backend, chat_request("Tell me a story", sampling=stopped))
    assert texts(items) == [full[: full.index(stop)]]
    assert finishes(items) == {0: "stop"}


async def test_seed_makes_sampling_reproducible(vllm_backend: VllmBackend) -> None:
    def sampled(seed: int) -> GenerationRequest:
        return chat_request("Hello", sampling=Sampling(max_tokens=12, temperature=1.0, seed=seed))

    first = texts(await collect(vllm_backend, sampled(7)))
    assert texts(await collect(vllm_backend, sampled(7))) == first
    assert texts(await collect(vllm_backend, sampled(8))) != first


async def test_tiny_top_p_reduces_sampling_to_the_greedy_answer(vllm_backend: VllmBackend) -> None:
    greedy = texts(await collect(vllm_backend, chat_request("Hello", sampling=GREEDY)))
    nucleus = Sampling(max_tokens=16, temperature=1.0, top_p=1e-6, seed=3)
    assert texts(await collect(vllm_backend, chat_request("Hello", sampling=nucleus))) == greedy


async def test_n_sampled_choices_each_stream_and_finish(vllm_backend: VllmBackend) -> None:
    sampling = Sampling(max_tokens=10, temperature=1.0, seed=11, n=3)
    items = await collect(vllm_backend, chat_request("Hello", sampling=sampling))
    assert finishes(items) == {0: "length", 1: "length", 2: "length"}
    assert len(set(texts(items, 3))) == 3
    assert usage(items).completion_tokens == 30


async def test_greedy_n_repeats_the_one_greedy_answer(vllm_backend: VllmBackend) -> None:
    greedy = texts(await collect(vllm_backend, chat_request("Hello", sampling=GREEDY)))
    sampling = Sampling(max_tokens=16, temperature=0, n=2)
    items = await collect(vllm_backend, chat_request("Hello", sampling=sampling))
    assert texts(items, 2) == greedy * 2
    assert usage(items).completion_tokens == 32


async def test_closing_the_stream_early_aborts_the_engine_request(
    vllm_backend: VllmBackend,
) -> None:
    # Greedy decoding on the dummy weights never emits EOS: unaborted, this request would hold
    # the engine for its whole budget (seconds), so "no unfinished request right after close"
    # can only mean that closing aborted it.
    budget = Sampling(max_tokens=MAX_MODEL_LEN - 64, temperature=0)
    stream = vllm_backend.generate(chat_request("Hello", sampling=budget))
    assert isinstance(await anext(stream), Chunk)
    assert vllm_backend.unfinished_requests == 1
    await stream.aclose()  # type: ignore[attr-defined]
    assert vllm_backend.unfinished_requests == 0
    # The engine is free again at once: a new request is served normally.
    assert finishes(await collect(vllm_backend, chat_request("Hi", sampling=GREEDY))) == {0: "length"}


async def test_cancelled_consumer_aborts_the_engine_request(vllm_backend: VllmBackend) -> None:
    budget = Sampling(max_tokens=MAX_MODEL_LEN - 64, temperature=0)
    request = chat_request("Hello", sampling=budget)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in vllm_backend.generate(request):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert vllm_backend.unfinished_requests == 0


async def test_named_tool_choice_yields_a_schema_valid_tool_call(vllm_backend: VllmBackend) -> None:
    # The dummy weights are random: constrained decoding keeps the JSON valid, but the model may
    # pad it with whitespace for a long time. This seed closes it well within the budget.
    sampling = Sampling(max_tokens=300, temperature=1.0, seed=0)
    request = chat_request("Weather?", sampling=sampling, tools=(CITY,), tool_choice="get_weather")
    items = await collect(vllm_backend, request)
    assert texts(items) == [""]
    (final,) = [item for item in items if isinstance(item, Chunk) and item.finish_reason]
    assert final.finish_reason == "stop"
    (call,) = final.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments)["city"] in ("Paris", "Rome")


async def test_required_tool_choice_yields_calls_of_offered_tools(
    vllm_backend: VllmBackend,
) -> None:
    sampling = Sampling(max_tokens=300, temperature=1.0, seed=0)  # closes the list in budget
    request = chat_request("Weather?", sampling=sampling, tools=(CITY,), tool_choice="required")
    items = await collect(vllm_backend, request)
    (final,) = [item for item in items if isinstance(item, Chunk) and item.finish_reason]
    assert final.finish_reason == "tool_calls"
    assert final.tool_calls
    for call in final.tool_calls:
        assert call.name == "get_weather"
        assert json.loads(call.arguments)["city"] in ("Paris", "Rome")


async def test_conversation_with_tool_calls_and_tool_results_renders(
    vllm_backend: VllmBackend,
) -> None:
    request = GenerationRequest(
        request_id="tool-history",
        model=SERVED_MODEL,
        messages=(
            Message(role="system", content="Be brief."),
            Message(role="user", content="Weather in Paris?"),
            Message(
                role="assistant",
                content="",
                tool_calls=(ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}'),),
            ),
            Message(role="tool", content="sunny", tool_call_id="call_1"),
        ),
        sampling=GREEDY,
        tools=(CITY,),
        tool_choice="auto",
    )
    items = await collect(vllm_backend, request)
    assert finishes(items) == {0: "length"}
    assert usage(items).prompt_tokens > 20


async def test_prompt_longer_than_the_context_is_rejected(vllm_backend: VllmBackend) -> None:
    long_prompt = "hello " * (MAX_MODEL_LEN * 2)
    with pytest.raises(BackendRejected):
        await collect(vllm_backend, chat_request(long_prompt, sampling=GREEDY))


async def test_unknown_model_is_rejected(vllm_backend: VllmBackend) -> None:
    with pytest.raises(BackendRejected):
        await collect(vllm_backend, chat_request("hi", model="gpt-4o"))
