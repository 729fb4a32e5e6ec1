"""The ``openai`` backend against a real OpenAI-compatible server on loopback (upstream_app.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from loopback import free_port
from upstream_app import RunningUpstream

from inference.backends import (
    ECHO_PREFIX,
    LOCAL_MODEL_ID,
    BackendError,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    BadBackendResponse,
    Chunk,
    GenerationRequest,
    LocalBackend,
    Message,
    OpenAIBackend,
    Sampling,
    Tool,
    ToolCall,
    UpstreamSettings,
    Usage,
    make_backend,
)

CANARY = "CANARY-5be1d0"
LOOKUP = Tool(name="lookup", description="look up", parameters_json='{"type": "object"}')


def chat(
    *contents: str,
    model: str = LOCAL_MODEL_ID,
    sampling: Sampling | None = None,
    tools: tuple[Tool, ...] = (),
    tool_choice: str | None = None,
    request_id: str = "req-1",
) -> GenerationRequest:
    return GenerationRequest(
        request_id=request_id,
        model=model,
        messages=tuple(Message(role="user", content=c) for c in contents),
        sampling=sampling or Sampling(),
        tools=tools,
        tool_choice=tool_choice,
    )


async def collect(backend: object, request: GenerationRequest) -> list[Chunk | Usage]:
    return [item async for item in backend.generate(request)]  # type: ignore[attr-defined]


def texts(items: list[Chunk | Usage], n: int = 1) -> list[str]:
    out = [""] * n
    for item in items:
        if isinstance(item, Chunk):
            out[item.index] += item.text
    return out


@pytest.fixture
async def backend(upstream: RunningUpstream) -> AsyncIterator[OpenAIBackend]:
    connected = await OpenAIBackend.connect(UpstreamSettings(base_url=upstream.base_url))
    yield connected
    await connected.aclose()


async def test_models_are_discovered_from_the_upstream(backend: OpenAIBackend) -> None:
    assert backend.name == "openai"
    assert backend.models[0] == LOCAL_MODEL_ID


async def test_streamed_answer_matches_what_the_upstream_model_said(
    backend: OpenAIBackend,
) -> None:
    request = chat(f"{ECHO_PREFIX} the canary is {CANARY}")
    items = await collect(backend, request)
    direct = await collect(LocalBackend(), request)
    assert texts(items) == [f"the canary is {CANARY}"] == texts(direct)
    assert items[-1] == direct[-1] == Usage(prompt_tokens=5, completion_tokens=4)
    assert [i.finish_reason for i in items if isinstance(i, Chunk) and i.finish_reason] == ["stop"]
    assert len([i for i in items if isinstance(i, Chunk)]) > 2


async def test_every_sampling_field_reaches_the_upstream_and_is_honoured(
    backend: OpenAIBackend, upstream: RunningUpstream
) -> None:
    sampling = Sampling(max_tokens=3, temperature=0.7, top_p=0.5, stop=("five",), n=2, seed=9)
    request = chat(f"{ECHO_PREFIX} one two three four five", sampling=sampling)
    items = await collect(backend, request)
    assert texts(items, 2) == texts(await collect(LocalBackend(), request), 2)
    assert texts(items, 2) == ["one two three"] * 2
    finishes = [(i.index, i.finish_reason) for i in items if isinstance(i, Chunk) and i.finish_reason]
    assert sorted(finishes) == [(0, "length"), (1, "length")]
    sent = upstream.stats()["bodies"][-1]  # type: ignore[index]
    expected = {"max_tokens": 3, "temperature": 0.7, "top_p": 0.5, "n": 2, "seed": 9}
    assert {k: sent[k] for k in expected} == expected
    assert sent["stop"] == ["five"]
    assert sent["stream_options"] == {"include_usage": True}


async def test_tool_call_comes_back_whole_and_tool_results_go_up(
    backend: OpenAIBackend, upstream: RunningUpstream
) -> None:
    items = await collect(backend, chat('call:lookup {"q": 1}', tools=(LOOKUP,)))
    (final,) = [i for i in items if isinstance(i, Chunk) and i.finish_reason]
    (call,) = final.tool_calls
    assert (call.name, call.arguments, final.finish_reason) == ("lookup", '{"q": 1}', "tool_calls")

    follow_up = GenerationRequest(
        request_id="req-2",
        model=LOCAL_MODEL_ID,
        messages=(
            Message(role="user", content="look it up"),
            Message(role="assistant", content="", tool_calls=(call,)),
            Message(role="tool", content="found three things", tool_call_id=call.id),
        ),
        tools=(LOOKUP,),
        tool_choice="none",
    )
    answer = texts(await collect(backend, follow_up))[0]
    assert "last tool result has 3 words" in answer
    sent = upstream.stats()["bodies"][-1]  # type: ignore[index]
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2] == {
        "role": "tool",
        "content": "found three things",
        "tool_call_id": call.id,
    }
    assert sent["tool_choice"] == "none"


async def test_named_tool_choice_is_forced_upstream(backend: OpenAIBackend) -> None:
    items = await collect(backend, chat("hi", tools=(LOOKUP,), tool_choice="lookup"))
    (final,) = [i for i in items if isinstance(i, Chunk) and i.finish_reason]
    assert final.tool_calls == (ToolCall(id=final.tool_calls[0].id, name="lookup", arguments="{}"),)
    assert final.finish_reason == "stop"


async def test_closing_the_stream_early_aborts_the_upstream_generation(
    upstream: RunningUpstream,
) -> None:
    backend = await OpenAIBackend.connect(
        UpstreamSettings(base_url=upstream.base_url), models=("slow-stream",)
    )
    try:
        before = upstream.stats()["abandoned"]
        stream = backend.generate(chat("a long answer please", model="slow-stream"))
        assert isinstance(await anext(stream), Chunk)
        await stream.aclose()  # type: ignore[attr-defined]
        for _ in range(200):
            if upstream.stats()["abandoned"] == before + 1:  # type: ignore[operator]
                break
            await asyncio.sleep(0.01)
        assert upstream.stats()["abandoned"] == before + 1  # type: ignore[operator]
    finally:
        await backend.aclose()


async def test_sequential_requests_reuse_one_pooled_connection(upstream: RunningUpstream) -> None:
    backend = await OpenAIBackend.connect(
        UpstreamSettings(base_url=upstream.base_url), models=(LOCAL_MODEL_ID,)
    )
    seen = len(upstream.stats()["peers"])  # type: ignore[arg-type]
    for i in range(10):
        await collect(backend, chat(f"{ECHO_PREFIX} {i}"))
    peers = upstream.stats()["peers"][seen:]  # type: ignore[index]
    assert len(peers) == 10
    assert len(set(peers)) == 1
    await backend.aclose()


async def test_concurrent_requests_never_mix_their_answers(backend: OpenAIBackend) -> None:
    requests = [
        chat(f"{ECHO_PREFIX} {CANARY}-{i} " + " ".join(["w"] * (i % 7)), request_id=f"r{i}")
        for i in range(64)
    ]
    results = await asyncio.gather(*(collect(backend, r) for r in requests))
    for i, items in enumerate(results):
        assert texts(items)[0] == f"{CANARY}-{i} " + " ".join(["w"] * (i % 7))


async def test_bearer_key_is_sent_and_a_refused_key_is_unavailable(
    serve_upstream: Callable[..., RunningUpstream],
) -> None:
    guarded = serve_upstream(api_key="sk-test-right")
    models = (LOCAL_MODEL_ID,)
    good = await OpenAIBackend.connect(
        UpstreamSettings(base_url=guarded.base_url, api_key="sk-test-right"), models
    )
    assert texts(await collect(good, chat(f"{ECHO_PREFIX} ok")))[0] == "ok"
    assert guarded.stats()["authorizations"] == ["Bearer sk-test-right"]
    await good.aclose()

    wrong = await OpenAIBackend.connect(
        UpstreamSettings(base_url=guarded.base_url, api_key="sk-test-wrong"), models
    )
    with pytest.raises(BackendUnavailable, match="401"):
        await collect(wrong, chat("hi"))
    await wrong.aclose()


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("fault-500", BackendUnavailable),
        ("fault-400", BackendRejected),
        ("fault-truncate", BadBackendResponse),
        ("fault-garbage", BadBackendResponse),
        ("fault-no-usage", BadBackendResponse),
        ("fault-error", BadBackendResponse),
    ],
)
async def test_misbehaving_upstream_raises_a_typed_error_without_content(
    backend: OpenAIBackend, model: str, error: type[BackendError]
) -> None:
    with pytest.raises(error) as caught:
        await collect(backend, chat(f"{ECHO_PREFIX} {CANARY}", model=model))
    assert CANARY not in str(caught.value)


async def test_rejected_request_carries_the_upstream_status(backend: OpenAIBackend) -> None:
    with pytest.raises(BackendRejected) as caught:
        await collect(backend, chat("hi", model="fault-400"))
    assert caught.value.status == 400


async def test_crlf_framing_with_comments_is_read_correctly(backend: OpenAIBackend) -> None:
    request = chat(f"{ECHO_PREFIX} one two three")
    items = await collect(backend, GenerationRequest(**{**request.__dict__, "model": "frame-crlf"}))
    assert texts(items) == ["one two three"]
    assert isinstance(items[-1], Usage)


async def test_silent_upstream_times_out(upstream: RunningUpstream) -> None:
    impatient = await OpenAIBackend.connect(
        UpstreamSettings(base_url=upstream.base_url, read_timeout_s=0.3), models=("fault-slow",)
    )
    with pytest.raises(BackendTimeout):
        await collect(impatient, chat("hi", model="fault-slow"))
    await impatient.aclose()


async def test_unreachable_upstream_is_unavailable_at_start_and_per_request() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendUnavailable):
        await make_backend("openai", upstream_url=dead)
    pinned = await make_backend("openai", upstream_url=dead, model="m")
    assert pinned.models == ("m",)
    with pytest.raises(BackendUnavailable):
        await collect(pinned, chat("hi", model="m"))
    await pinned.aclose()
