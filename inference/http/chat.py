"""``/v1/chat/completions`` and ``/v1/models``: the OpenAI-compatible surface."""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from inference.errors import NotFound
from inference.http.auth import keyed_route
from inference.http.render import ResponseIdentity, completion_object, dumps, sse_stream
from inference.http.schemas import ChatCompletionRequest
from inference.service import Gateway

VERDICT_HEADER = "X-Veritee-Verdict-Id"


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(route_class=keyed_route(gateway.api_keys))

    def identity(model: str) -> ResponseIdentity:
        return ResponseIdentity(
            completion_id="chatcmpl-" + secrets.token_hex(12),
            created=int(time.time()),
            model=model,
            fingerprint=f"veritee-{gateway.mode.value}",
        )

    @api.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        if body.model not in gateway.models:
            raise NotFound("the model is not served here; GET /v1/models lists those that are", "model")
        generation = body.to_generation(secrets.token_hex(16), gateway.policy.model.limits)
        if not body.stream:
            completion = await gateway.pipeline.complete(generation)
            return Response(
                dumps(completion_object(identity(body.model), completion)),
                media_type="application/json",
                headers={VERDICT_HEADER: completion.verdict.verdict_id},
            )
        session = await gateway.pipeline.start_stream(generation)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            sse_stream(identity(body.model), session.events(), include_usage),
            media_type="text/event-stream",
            headers={VERDICT_HEADER: session.verdict_id, "Cache-Control": "no-store"},
        )

    @api.get("/v1/models")
    async def models() -> dict[str, object]:
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "veritee"} for m in gateway.models
            ],
        }

    return api
