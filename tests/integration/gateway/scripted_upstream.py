"""A real OpenAI-compatible upstream whose model says what the test scripted, not what it was asked.

The ``local`` backend only repeats what the caller sent, so the input stage always sees what the
model will say. To prove the output stage on its own, a model must produce text the prompt never
contained: here the last user message ``script:NAME`` selects ``scripts[NAME]``, registered by the
test on the server side. The answer streams as OpenAI does (``data:`` events, usage, ``[DONE]``);
``die_after`` breaks the connection off after that many content chunks, as a crashing upstream
would; ``delay_s`` paces the chunks like a model generating slowly, and the upstream counts the
generations its client abandoned. Served by uvicorn on loopback in a thread (:func:`serve_scripted_upstream`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from loopback import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SCRIPTED_MODEL = "scripted-model"


class UpstreamDied(Exception):
    """Raised inside the response to break the connection off mid-stream."""


@dataclass(frozen=True)
class Script:
    text: str
    die_after: int | None = None
    chars_per_chunk: int = 24
    delay_s: float = 0.0


@dataclass
class ScriptedUpstream:
    base_url: str = ""
    scripts: dict[str, Script] = field(default_factory=dict)
    requests: int = 0
    abandoned: int = 0


def _app(upstream: ScriptedUpstream) -> Starlette:
    async def models(request: Request) -> Response:
        data = [{"id": SCRIPTED_MODEL, "object": "model", "created": 0, "owned_by": "test"}]
        return JSONResponse({"object": "list", "data": data})

    async def chat(request: Request) -> Response:
        upstream.requests += 1
        body = await request.json()
        last = body["messages"][-1]["content"]
        script = upstream.scripts[last.removeprefix("script:")]
        return StreamingResponse(_events(upstream, script, body.get("n", 1)), media_type="text/event-stream")

    return Starlette(
        routes=[Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"])]
    )


async def _events(upstream: ScriptedUpstream, script: Script, n: int) -> AsyncIterator[bytes]:
    def event(choices: list[object], **extra: object) -> bytes:
        payload = {"id": "up", "object": "chat.completion.chunk", "created": 0, "model": SCRIPTED_MODEL}
        return f"data: {json.dumps({**payload, 'choices': choices, **extra})}\n\n".encode()

    step = script.chars_per_chunk
    finished = False
    try:
        for sent, start in enumerate(range(0, len(script.text), step)):
            if script.die_after is not None and sent == script.die_after:
                raise UpstreamDied
            piece = script.text[start : start + step]
            yield event([{"index": i, "delta": {"content": piece}, "finish_reason": None} for i in range(n)])
            await asyncio.sleep(script.delay_s)
        yield event([{"index": i, "delta": {}, "finish_reason": "stop"} for i in range(n)])
        words = len(script.text.split())
        yield event([], usage={"prompt_tokens": 1, "completion_tokens": words, "total_tokens": words + 1})
        yield b"data: [DONE]\n\n"
        finished = True
    finally:
        if not finished and script.die_after is None:
            upstream.abandoned += 1


@contextmanager
def serve_scripted_upstream() -> Iterator[ScriptedUpstream]:
    """Serve a :class:`ScriptedUpstream` on a free loopback port until the block ends."""
    upstream = ScriptedUpstream()
    port = free_port()
    config = uvicorn.Config(
        _app(upstream), host="127.0.0.1", port=port, log_level="critical", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="scripted-upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the scripted upstream did not start")
        time.sleep(0.01)
    upstream.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield upstream
    finally:
        server.should_exit = True
        thread.join(10)
