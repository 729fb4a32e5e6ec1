"""A real OpenAI-compatible upstream (``upstream_app.py``) served by uvicorn on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from upstream_app import create_app


@dataclass(frozen=True)
class RunningUpstream:
    base_url: str  # the OpenAI base URL, /v1 included
    api_key: str | None

    def stats(self) -> dict[str, object]:
        root = self.base_url.removesuffix("/v1")
        stats: dict[str, object] = httpx.get(f"{root}/test/stats", timeout=5).json()
        return stats


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def serve_upstream() -> Iterator[Callable[..., RunningUpstream]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(api_key: str | None = None) -> RunningUpstream:
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
        servers.append((server, thread))
        return RunningUpstream(f"http://127.0.0.1:{port}/v1", api_key)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def upstream(serve_upstream: Callable[..., RunningUpstream]) -> RunningUpstream:
    return serve_upstream()
