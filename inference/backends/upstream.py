"""The ``openai`` backend: any OpenAI-compatible chat-completions server over HTTP.

Every request is sent streamed (``stream: true`` with ``stream_options.include_usage``) and the
answer is read as it arrives (``sse.py`` decodes the event stream, ``openai_wire.py`` checks and
converts it). One pooled keep-alive ``aiohttp`` session serves all requests: on this machine it
cost about a third of the CPU per streamed request of an ``httpx`` client (benchmarks/RESULTS.md,
"Backends"). This module is the only importer of ``aiohttp``; its exceptions become ours here.

Closing the iterator early closes the HTTP connection, which is how an OpenAI-compatible server
(vLLM included) learns that the client went away and aborts the generation.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import aiohttp

from inference.backends.base import Chunk, GenerationRequest, Usage
from inference.backends.errors import (
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    BadBackendResponse,
)
from inference.backends.openai_wire import StreamAssembler, parse_models, request_body
from inference.backends.sse import SseDecoder

_REJECTED_STATUSES = frozenset({400, 404, 413, 422})
_MAX_MODELS_BYTES = 1024 * 1024
_STREAM_HEADERS = {"Accept": "text/event-stream"}


@dataclass(frozen=True)
class UpstreamSettings:
    """Where the upstream is and how long to wait for it.

    ``base_url`` is the OpenAI base URL, ``/v1`` included (``http://127.0.0.1:8001/v1``).
    ``read_timeout_s`` bounds the silence between two reads of a streamed answer, so a slow
    first token needs a generous value; ``connect_timeout_s`` bounds opening a connection.
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    max_connections: int = 256

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("upstream base_url must be an http:// or https:// URL")
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("upstream timeouts must be positive")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.api_key is not None and (not self.api_key or "\n" in self.api_key):
            raise ValueError("upstream api_key must be a non-empty single line")

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


class OpenAIBackend:
    """Relays generations to an OpenAI-compatible upstream; build it with :meth:`connect`."""

    name = "openai"

    def __init__(
        self, settings: UpstreamSettings, session: aiohttp.ClientSession, models: tuple[str, ...]
    ) -> None:
        if not models:
            raise ValueError("an upstream backend serves at least one model")
        self._settings = settings
        self._session = session
        self._models = models

    @classmethod
    async def connect(
        cls, settings: UpstreamSettings, models: tuple[str, ...] | None = None
    ) -> OpenAIBackend:
        """Open the connection pool; ask the upstream for its models when none are given."""
        headers: dict[str, str] = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=settings.connect_timeout_s, sock_read=settings.read_timeout_s
            ),
            connector=aiohttp.TCPConnector(limit=settings.max_connections),
        )
        try:
            if models is None:
                models = await _fetch_models(session, settings)
            return cls(settings, session, models)
        except BaseException:
            await session.close()
            raise

    @property
    def models(self) -> tuple[str, ...]:
        return self._models

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[Chunk | Usage, None]:
        if request.sampling.n < 1:
            raise BackendRejected("n must be at least 1")
        body = request_body(request)
        assembler = StreamAssembler(request.sampling.n)
        decoder = SseDecoder()
        try:
            url = self._settings.url("/chat/completions")
            async with self._session.post(url, json=body, headers=_STREAM_HEADERS) as r:
                _check_status(r.status)
                if r.content_type != "text/event-stream":
                    raise BadBackendResponse("upstream did not answer with an event stream")
                drained = False
                try:
                    async for data in r.content.iter_any():
                        for payload in decoder.feed(data):
                            for item in assembler.feed(payload):
                                yield item
                    for payload in decoder.close():
                        for item in assembler.feed(payload):
                            yield item
                    drained = True
                finally:
                    if not drained:
                        # Early close, error or cancellation: drop the connection so that the
                        # upstream sees the client leave and aborts the generation. A body read
                        # to its end instead leaves the connection in the pool for reuse.
                        r.close()
            if not assembler.done:
                raise BadBackendResponse("event stream ended before [DONE]")
        except TimeoutError as exc:
            raise BackendTimeout("upstream did not answer in time") from exc
        except aiohttp.ClientPayloadError as exc:
            raise BadBackendResponse("upstream broke off the response body") from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(f"upstream unreachable ({type(exc).__name__})") from exc

    async def aclose(self) -> None:
        await self._session.close()


async def _fetch_models(session: aiohttp.ClientSession, settings: UpstreamSettings) -> tuple[str, ...]:
    try:
        async with session.get(settings.url("/models")) as response:
            _check_status(response.status)
            payload = await response.content.read(_MAX_MODELS_BYTES + 1)
    except TimeoutError as exc:
        raise BackendTimeout("upstream did not list its models in time") from exc
    except aiohttp.ClientError as exc:
        raise BackendUnavailable(f"upstream unreachable ({type(exc).__name__})") from exc
    if len(payload) > _MAX_MODELS_BYTES:
        raise BadBackendResponse("model list too large")
    return parse_models(payload)


def _check_status(status: int) -> None:
    """Map a non-200 answer to our errors; the body is never read (it may quote the prompt)."""
    if status == 200:
        return
    if status in _REJECTED_STATUSES:
        raise BackendRejected("upstream rejected the request", status=status)
    raise BackendUnavailable(f"upstream answered HTTP {status}")
