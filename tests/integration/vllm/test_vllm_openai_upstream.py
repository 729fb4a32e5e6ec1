"""The ``openai`` backend against vLLM's own OpenAI api_server (``python -m``) on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from vllm_support import (
    MAX_MODEL_LEN,
    SERVED_MODEL,
    VllmServer,
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
    OpenAIBackend,
    Sampling,
    Tool,
    UpstreamSettings,
    VllmBackend,
    make_backend,
)
from inference.backends.openai_wire import request_body

pytestmark = [
    pytest.mark.vllm,
    requires_vllm,
    pytest.mark.asyncio(loop_scope="session"),
    *third_party_warnings,
]

GREEDY = Sampling(max_tokens=16, temperature=0)
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


@pytest_asyncio.fixture(loop_scope="session")
async def upstream(vllm_server: VllmServer) -> AsyncIterator[OpenAIBackend]:
    backend = await OpenAIBackend.connect(UpstreamSettings(base_url=vllm_server.base_url))
    yield backend
    await backend.aclose()


async def test_models_are_discovered_from_vllm(vllm_server: VllmServer) -> None:
    backend = await make_backend("openai", upstream_url=vllm_server.base_url)
    try:
        assert backend.models == (SERVED_MODEL,)
    finally:
        await backend.aclose()


async def test_sampled_choices_stream_with_usage_from_vllm(upstream: OpenAIBackend) -> None:
    sampling = Sampling(max_tokens=8, temperature=1.0, seed=5, n=2)
    items = await collect(upstream, chat_request("Hello", sampling=sampling))
    assert finishes(items) == {0: "length", 1: "length"}
    assert usage(items).completion_tokens == 16
    assert usage(items).prompt_tokens > 0
    again = await collect(upstream, chat_request("Hello", sampling=sampling))
    assert texts(again, 2) == texts(items, 2)


async def test_greedy_answer_is_the_same_in_process_and_over_http(
    upstream: OpenAIBackend, vllm_backend: VllmBackend
) -> None:
    over_http = await collect(upstream, chat_request("Tell me a story", sampling=GREEDY))
    in_process = await collect(vllm_backend, chat_request("Tell me a story", sampling=GREEDY))
    assert texts(over_http) == texts(in_process)
    assert usage(over_http) == usage(in_process)


async def test_stop_string_is_honoured_by_the_upstream(upstream: OpenAIBackend) -> None:
    sampling = Sampling(max_tokens=40, temperature=0)
    (full,) = texts(await collect(upstream, chat_request("Tell me a story", sampling=sampling)))
    stop = ascii_stop_string(full)
    stopped = Sampling(max_tokens=40, temperature=0, stop=(stop,))
    items = await collect(upstream, chat_request("Tell me a story", sampling=stopped))
    assert texts(items) == [full[: full.index(stop)]]
    assert finishes(items) == {0: "stop"}


async def test_named_tool_call_streamed_by_vllm_arrives_whole(
    upstream: OpenAIBackend, vllm_server: VllmServer
) -> None:
    sampling = Sampling(max_tokens=300, temperature=1.0, seed=0)
    request = chat_request("Weather?", sampling=sampling, tools=(CITY,), tool_choice="get_weather")
    items = await collect(upstream, request)
    (final,) = [item for item in items if isinstance(item, Chunk) and item.finish_reason]
    (call,) = final.tool_calls
    assert call.id
    # The same request, unstreamed, is what vLLM itself says the call is.
    body = {**request_body(request), "stream": False}
    del body["stream_options"]
    async with httpx.AsyncClient(timeout=60) as client:
        answer = await client.post(f"{vllm_server.base_url}/chat/completions", json=body)
    (reference,) = answer.json()["choices"][0]["message"]["tool_calls"]
    assert (call.name, call.arguments) == (
        reference["function"]["name"],
        reference["function"]["arguments"],
    )
    assert call.name == "get_weather"


async def test_closing_the_stream_early_aborts_the_generation_in_vllm(
    upstream: OpenAIBackend, vllm_server: VllmServer
) -> None:
    # Greedy decoding on the dummy weights never emits EOS, so unless it is aborted this request
    # runs to its full budget; after an abort the server has generated only a handful of tokens.
    budget = MAX_MODEL_LEN - 64
    tokens_before = vllm_server.metric("vllm:generation_tokens_total")
    stream = upstream.generate(chat_request("Hello", sampling=Sampling(budget, temperature=0)))
    assert isinstance(await anext(stream), Chunk)
    await stream.aclose()  # type: ignore[attr-defined]
    for _ in range(200):
        if vllm_server.metric("vllm:num_requests_running") == 0:
            break
        await asyncio.sleep(0.05)
    assert vllm_server.metric("vllm:num_requests_running") == 0
    generated = vllm_server.metric("vllm:generation_tokens_total") - tokens_before
    assert generated < budget / 2


async def test_prompt_longer_than_the_context_is_rejected_with_its_status(
    upstream: OpenAIBackend,
) -> None:
    long_prompt = "hello " * (MAX_MODEL_LEN * 2)
    with pytest.raises(BackendRejected) as caught:
        await collect(upstream, chat_request(long_prompt, sampling=GREEDY))
    assert caught.value.status == 400
    assert "hello" not in str(caught.value)
