"""A minimal OpenAI-compatible upstream for testing and measuring the ``openai`` backend.

It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (streaming SSE with
``stream_options.include_usage``, and plain JSON) over the deterministic ``local`` backend, checks
an optional bearer key, and records how many generations a client abandoned mid-stream and which
client ports it saw (``GET /test/stats``). Model names starting with ``fault-`` make it misbehave
on purpose, so the client's error handling is exercised against a real server:

==================  ==============================================================
``fault-500``       HTTP 500 with a body that quotes the prompt
``fault-400``       HTTP 400 with a body that quotes the prompt
``fault-truncate``  the stream stops after the first chunk, without ``[DONE]``
``fault-garbage``   a ``data:`` line that is not JSON
``fault-no-usage``  no usage chunk before ``[DONE]``
``fault-error``     an ``{"error": ...}`` event in the middle of the stream
``fault-slow``      the first chunk comes after ``SLOW_S`` seconds
``slow-stream``     a well-formed stream, one chunk every ``SLOW_CHUNK_S`` seconds
``frame-crlf``      a well-formed stream framed with CRLF, ``data:`` without a space and
                    ``: keep-alive`` comments (what some servers send)
==================  ==============================================================

:func:`serve_in_thread` runs it under uvicorn on a free loopback port (the tests' fixture);
``python upstream_app.py PORT`` runs it alone (the benchmark does, in its own process).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import uvicorn
from loopback import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inference.backends import (
    Chunk,
    GenerationRequest,
    LocalBackend,
    Message,
    Sampling,
    Tool,
    ToolCall,
    Usage,
)
from inference.backends.local import LOCAL_MODEL_ID

SLOW_S = 2.0
SLOW_CHUNK_S = 0.05
FAULT_MODELS = (
    "fault-500",
    "fault-400",
    "fault-truncate",
    "fault-garbage",
    "fault-no-usage",
    "fault-error",
    "fault-slow",
    "frame-crlf",
    "slow-stream",
)


@dataclass
class UpstreamStats:
    """What the server saw; read by tests through ``GET /test/stats``."""

    completed: int = 0
    abandoned: int = 0
    authorizations: list[str | None] = field(default_factory=list)
    peers: list[int] = field(default_factory=list)
    bodies: list[dict[str, object]] = field(default_factory=list)


def _generation_request(body: dict[str, object]) -> GenerationRequest:
    messages = []
    for raw in body["messages"]:  # type: ignore[attr-defined]
        calls = tuple(
            ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"])
            for c in raw.get("tool_calls") or ()
        )
        messages.append(
            Message(
                role=raw["role"],
                content=raw.get("content") or "",
                tool_calls=calls,
                tool_call_id=raw.get("tool_call_id"),
            )
        )
    tools = tuple(
        Tool(
            name=t["function"]["name"],
            description=t["function"].get("description", ""),
            parameters_json=json.dumps(t["function"].get("parameters", {})),
        )
        for t in body.get("tools") or ()  # type: ignore[attr-defined]
    )
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        choice = choice["function"]["name"]
    stop = body.get("stop") or ()
    sampling = Sampling(
        max_tokens=body.get("max_tokens"),  # type: ignore[arg-type]
        temperature=body.get("temperature"),  # type: ignore[arg-type]
        top_p=body.get("top_p"),  # type: ignore[arg-type]
        stop=(stop,) if isinstance(stop, str) else tuple(stop),  # type: ignore[arg-type]
        n=body.get("n", 1),  # type: ignore[arg-type]
        seed=body.get("seed"),  # type: ignore[arg-type]
    )
    return GenerationRequest(
        request_id=f"up-{time.monotonic_ns()}",
        model=LOCAL_MODEL_ID,
        messages=tuple(messages),
        sampling=sampling,
        tools=tools,
        tool_choice=choice,  # type: ignore[arg-type]
    )


def _delta(chunk: Chunk) -> dict[str, object]:
    delta: dict[str, object] = {}
    if chunk.text:
        delta["content"] = chunk.text
    if chunk.tool_calls:
        delta["tool_calls"] = [
            {
                "index": i,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for i, call in enumerate(chunk.tool_calls)
        ]
    return delta


def create_app(api_key: str | None = None) -> Starlette:
    backend = LocalBackend()
    slow_backend = LocalBackend(delay_s=SLOW_CHUNK_S)
    stats = UpstreamStats()

    async def models(request: Request) -> Response:
        ids = (LOCAL_MODEL_ID, *FAULT_MODELS)
        data = [{"id": i, "object": "model", "created": 0, "owned_by": "test"} for i in ids]
        return JSONResponse({"object": "list", "data": data})

    async def test_stats(request: Request) -> Response:
        return JSONResponse(
            {
                "completed": stats.completed,
                "abandoned": stats.abandoned,
                "authorizations": stats.authorizations,
                "peers": stats.peers,
                "bodies": stats.bodies,
            }
        )

    async def chat(request: Request) -> Response:
        authorization = request.headers.get("authorization")
        stats.authorizations.append(authorization)
        stats.peers.append(request.client.port if request.client else 0)
        if api_key is not None and authorization != f"Bearer {api_key}":
            return JSONResponse({"error": {"message": "bad key", "type": "auth"}}, status_code=401)
        body = await request.json()
        stats.bodies.append(body)
        model = body["model"]
        prompt_echo = {"error": {"message": f"cannot serve {body['messages']!r}"}}
        if model == "fault-500":
            return JSONResponse(prompt_echo, status_code=500)
        if model == "fault-400":
            return JSONResponse(prompt_echo, status_code=400)
        generation = _generation_request(body)
        if not body.get("stream"):
            return JSONResponse(await _complete(generation, model))
        return StreamingResponse(_sse(generation, model), media_type="text/event-stream")

    async def _complete(generation: GenerationRequest, model: str) -> dict[str, object]:
        texts: dict[int, str] = {}
        finishes: dict[int, str] = {}
        usage: Usage | None = None
        async for item in backend.generate(generation):
            if isinstance(item, Usage):
                usage = item
                continue
            texts[item.index] = texts.get(item.index, "") + item.text
            if item.finish_reason is not None:
                finishes[item.index] = item.finish_reason
        stats.completed += 1
        assert usage is not None
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": texts.get(i, "")},
                    "finish_reason": finishes[i],
                }
                for i in sorted(finishes)
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        }

    async def _sse(generation: GenerationRequest, model: str) -> AsyncIterator[bytes]:
        crlf = model == "frame-crlf"
        end = "\r\n\r\n" if crlf else "\n\n"
        prefix = "data:" if crlf else "data: "

        def event(payload: object) -> bytes:
            return f"{prefix}{json.dumps(payload)}{end}".encode()

        base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0}
        base["model"] = model
        finished = False
        sent = 0
        try:
            if model == "fault-slow":
                await asyncio.sleep(SLOW_S)
            for index in range(generation.sampling.n):
                yield event({**base, "choices": [{"index": index, "delta": {"role": "assistant"}}]})
            chosen = slow_backend if model == "slow-stream" else backend
            async for item in chosen.generate(generation):
                if crlf:
                    yield b": keep-alive\r\n\r\n"
                if isinstance(item, Usage):
                    if model != "fault-no-usage":
                        usage = {
                            "prompt_tokens": item.prompt_tokens,
                            "completion_tokens": item.completion_tokens,
                            "total_tokens": item.total_tokens,
                        }
                        yield event({**base, "choices": [], "usage": usage})
                    continue
                choice = {"index": item.index, "delta": _delta(item)}
                choice["finish_reason"] = item.finish_reason
                yield event({**base, "choices": [choice]})
                sent += 1
                if model == "fault-truncate":
                    finished = True
                    return
                if model == "fault-garbage":
                    yield b"data: {not json\n\n"
                if model == "fault-error" and sent == 2:
                    yield event({"error": {"message": "engine failed", "code": 500}})
            yield b"data: [DONE]" + end.encode()
            finished = True
            stats.completed += 1
        finally:
            if not finished:
                stats.abandoned += 1

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/test/stats", test_stats),
        ]
    )


@dataclass(frozen=True)
class RunningUpstream:
    """A started upstream: its OpenAI base URL (``/v1`` included) and a way to stop it."""

    base_url: str
    stop: Callable[[], None]

    def stats(self) -> dict[str, object]:
        root = self.base_url.removesuffix("/v1")
        stats: dict[str, object] = httpx.get(f"{root}/test/stats", timeout=5).json()
        return stats


def serve_in_thread(api_key: str | None = None) -> RunningUpstream:
    """Start the upstream under uvicorn in a daemon thread; returns once it accepts connections."""
    port = free_port()
    config = uvicorn.Config(
        create_app(api_key), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test upstream did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return RunningUpstream(f"http://127.0.0.1:{port}/v1", stop)


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
