"""A real uvicorn server with TLS on loopback that mounts the attestation router (test helper).

Besides the attestation route it serves a minimal OpenAI-compatible ``/v1/chat/completions`` (plain
and streamed), standing in for the gateway, and records every request it receives (method, path,
client port, body), so that a test can prove what reached it and over which connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from inference.attestation import TlsIdentity

ANSWER = "attested hello"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    client_port: int
    body: bytes


def _completion(model: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }


async def _chunks(model: str) -> AsyncIterator[bytes]:
    for index, piece in enumerate(ANSWER.split(" ")):
        delta = {"role": "assistant", "content": piece} if index == 0 else {"content": " " + piece}
        chunk = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    final = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    yield f"data: {json.dumps(final)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def make_app(attestation: APIRouter, seen: list[Seen]) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next):  # type: ignore[no-untyped-def]
        body = await request.body()
        seen.append(Seen(request.method, request.url.path, request.scope["client"][1], body))
        return await call_next(request)

    app.include_router(attestation)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        if body.get("stream"):
            return StreamingResponse(_chunks(body["model"]), media_type="text/event-stream")
        return JSONResponse(_completion(body["model"]))

    return app


@contextmanager
def serve_tls(app: FastAPI, identity: TlsIdentity, directory: Path) -> Iterator[str]:
    """Serve ``app`` over TLS with ``identity`` on a free loopback port; yield its https base URL."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(identity.certificate_pem)
    key.write_bytes(identity.private_key_pem)
    key.chmod(0o600)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, ssl_certfile=str(cert), ssl_keyfile=str(key),
        log_level="warning", lifespan="off", access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
