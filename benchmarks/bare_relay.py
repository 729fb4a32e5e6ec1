"""The "bare relay" baseline: the gateway's HTTP surface without its safety pipeline.

A FastAPI application served by uvicorn exactly as the gateway is (same request schema and
validation, the same ``local`` backend, the same response rendering, access log off), but with no
classification, no policy gate, no verdict and no audit append. The gateway's latency minus this
one's is what the safety pipeline and the durable audit cost per request.

    python -m benchmarks.bare_relay PORT
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response, StreamingResponse

from inference.backends import Chunk, LocalBackend, Usage
from inference.http.render import ResponseIdentity, completion_object, dumps, sse_stream
from inference.http.schemas import ChatCompletionRequest
from inference.pipeline import Choice, Completion, FinishEvent, StreamEvent, TextEvent, UsageEvent
from inference.policy import Limits
from inference.verdicts import ExternalVerdict, new_verdict_id, rounded_timestamp


def create_app() -> FastAPI:
    backend = LocalBackend()
    limits = Limits()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest) -> Response:
        generation = body.to_generation(secrets.token_hex(16), limits)
        identity = ResponseIdentity("chatcmpl-" + secrets.token_hex(12), int(time.time()), body.model, "bare")
        if body.stream:

            async def events() -> AsyncIterator[StreamEvent]:
                async for item in backend.generate(generation):
                    if isinstance(item, Usage):
                        yield UsageEvent(item)
                    elif item.finish_reason is not None:
                        yield FinishEvent(item.index, item.finish_reason)
                    elif item.text:
                        yield TextEvent(item.index, item.text)

            return StreamingResponse(sse_stream(identity, events(), False), media_type="text/event-stream")
        texts: list[str] = []
        usage, finish = Usage(0, 0), "stop"
        async for item in backend.generate(generation):
            if isinstance(item, Usage):
                usage = item
            elif isinstance(item, Chunk):
                texts.append(item.text)
                finish = item.finish_reason or finish
        verdict = ExternalVerdict(new_verdict_id(), "none", "allow", "bare", rounded_timestamp(time.time()))
        completion = Completion(verdict, (Choice(0, "".join(texts), (), finish),), usage)
        return Response(dumps(completion_object(identity, completion)), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )


if __name__ == "__main__":
    main()
