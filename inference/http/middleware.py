"""ASGI middleware wrapped around every request: mode header, body size limit, fail-closed catch-all.

Written as plain ASGI (no ``BaseHTTPMiddleware``) so streaming responses pass through untouched
and the per-request cost stays a few function calls.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from inference.http.errors import error_body, refused_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("veritee.gateway")


class _TooLarge(Exception):
    pass


class GatewayMiddleware:
    """Adds ``X-Veritee-Mode`` to every response, enforces ``max_body_bytes`` (413) and turns any
    exception that escaped the handlers into a 503 without content."""

    def __init__(self, app: ASGIApp, *, mode: str, max_body_bytes: int) -> None:
        self.app = app
        self.mode_header = (b"x-veritee-mode", mode.encode())
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await self._reply(
                        send,
                        400,
                        error_body("invalid Content-Length", "invalid_request_error", "invalid_request"),
                    )
                    return
                if int(value) > self.max_body_bytes:
                    await self._too_large(send)
                    return
        started = False
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def send_with_mode(message: Message) -> None:
            nonlocal started
            if too_large:
                # The framework may turn _TooLarge into an answer of its own (FastAPI: a 400); the
                # caller gets the 413 instead, and nothing of that answer.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._too_large(send)
                return
            if message["type"] == "http.response.start":
                started = True
                # Replace, never duplicate: a router may set the header itself (the attestation one does).
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-veritee-mode"]
                message["headers"] = [*headers, self.mode_header]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_mode)
        except _TooLarge:
            if not started:
                await self._too_large(send)
        except Exception as exc:
            log.error("unexpected %s while serving %s", type(exc).__name__, scope.get("path", "?"))
            if not started:
                await self._reply(send, 503, refused_body("internal"))

    async def _too_large(self, send: Send) -> None:
        body = error_body(
            f"request body exceeds {self.max_body_bytes} bytes", "invalid_request_error", "request_too_large"
        )
        await self._reply(send, 413, body)

    async def _reply(self, send: Send, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    self.mode_header,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
