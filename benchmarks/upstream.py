"""A minimal OpenAI-compatible upstream for the gateway benchmark: fixed answers, as fast as it can.

It speaks just enough HTTP/1.1 on asyncio (keep-alive, ``Content-Length`` request bodies, chunked
responses for streams) to serve ``GET /v1/models`` and ``POST /v1/chat/completions``:

* non-streaming: one ``chat.completion`` object holding :data:`ANSWER`;
* streaming (``"stream": true``): the answer split into ``--chunks`` ``chat.completion.chunk``
  events, ``--chunk-delay-ms`` apart (the first one at once), then a finish chunk, a usage chunk when
  ``stream_options.include_usage`` is set, and ``data: [DONE]``.

The request body is parsed as JSON (a body that is not JSON gets 400), so the upstream does the work
a real server must do at least, and nothing else. It is a measuring instrument, not a test double:
``benchmarks/gateway.py`` runs it in its own process and calls it both directly and through the
gateway's ``openai`` backend.

    python -m benchmarks.upstream PORT [--chunks 32] [--chunk-delay-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from typing import cast

MODEL = "bench-upstream"
DEFAULT_CHUNKS = 32
ANSWER = (
    "Hamlet, prince of Denmark, learns from his father's ghost that his uncle Claudius murdered "
    "the king to take the crown and marry the queen. Hamlet feigns madness, stages a play to "
    "confirm the guilt, and in his hesitation kills Polonius by mistake. The tragedy ends in a "
    "duel in which Hamlet, Laertes, Claudius and Gertrude all die, and Fortinbras takes the throne."
)
_MAX_HEADER = 16 * 1024
_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Answers:
    """The fixed bytes this upstream sends, prepared once."""

    chunks: int
    chunk_delay_s: float

    def pieces(self) -> list[str]:
        size = -(-len(ANSWER) // self.chunks)
        return [ANSWER[i : i + size] for i in range(0, len(ANSWER), size)]

    @property
    def usage(self) -> dict[str, int]:
        completion = len(ANSWER.split())
        return {"prompt_tokens": 16, "completion_tokens": completion, "total_tokens": 16 + completion}


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_response(status: str, body: bytes) -> bytes:
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    return _head(status, headers) + body


def _http_chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def completion(answers: Answers, model: str) -> bytes:
    return _dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": answers.usage,
        }
    )


def stream_events(answers: Answers, model: str, include_usage: bool) -> list[bytes]:
    """The SSE events of one streamed answer, each ``data: <json>\\n\\n``."""
    created = int(time.time())

    def event(choices: list[dict[str, object]], **extra: object) -> bytes:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
        }
        return b"data: " + _dumps(body) + b"\n\n"

    events = []
    for position, piece in enumerate(answers.pieces()):
        delta = {"role": "assistant", "content": piece} if position == 0 else {"content": piece}
        events.append(event([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]))
    events.append(event([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    if include_usage:
        events.append(event([], usage=answers.usage))
    events.append(b"data: [DONE]\n\n")
    return events


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection: requests are answered in order."""

    def __init__(self, answers: Answers) -> None:
        self._answers = answers
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._queue: asyncio.Queue[tuple[str, str, bytes] | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self._worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (request := self._take_request()) is not None:
            self._queue.put_nowait(request)

    def _take_request(self) -> tuple[str, str, bytes] | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEADER:
                self._close()
            return None
        head = self._buffer[:end].decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ", 2)
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length > _MAX_BODY:
            self._close()
            return None
        if len(self._buffer) < end + 4 + length:
            return None
        body = self._buffer[end + 4 : end + 4 + length]
        self._buffer = self._buffer[end + 4 + length :]
        return method, path, body

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _serve(self) -> None:
        while (request := await self._queue.get()) is not None:
            await self._answer(*request)

    async def _answer(self, method: str, path: str, body: bytes) -> None:
        transport = self._transport
        assert transport is not None
        if method == "GET" and path == "/v1/models":
            models = {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]}
            transport.write(_json_response("200 OK", _dumps(models)))
            return
        if method != "POST" or path != "/v1/chat/completions":
            transport.write(_json_response("404 Not Found", b'{"error":{"message":"not found"}}'))
            return
        try:
            request = json.loads(body)
            model = str(request.get("model", MODEL))
        except (ValueError, AttributeError):
            transport.write(_json_response("400 Bad Request", b'{"error":{"message":"bad json"}}'))
            return
        if not request.get("stream"):
            transport.write(_json_response("200 OK", completion(self._answers, model)))
            return
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        headers = [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")]
        transport.write(_head("200 OK", headers))
        delay, pieces = self._answers.chunk_delay_s, len(self._answers.pieces())
        for position, event in enumerate(stream_events(self._answers, model, include_usage)):
            if delay and 0 < position < pieces:
                await asyncio.sleep(delay)
            transport.write(_http_chunk(event))
        transport.write(b"0\r\n\r\n")


async def serve(port: int, answers: Answers) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(answers), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument(
        "--chunks", type=int, default=DEFAULT_CHUNKS, help="content chunks per streamed answer"
    )
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause between chunks")
    args = parser.parse_args()
    answers = Answers(max(1, args.chunks), args.chunk_delay_ms / 1000)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, answers))
    else:
        uvloop.run(serve(args.port, answers))


if __name__ == "__main__":
    main()
