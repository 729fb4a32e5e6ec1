"""A real OpenAI-compatible upstream (``upstream_app.py``) served by uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from upstream_app import RunningUpstream, serve_in_thread


@pytest.fixture(scope="session")
def serve_upstream() -> Iterator[Callable[..., RunningUpstream]]:
    """Start upstreams on demand (``serve_upstream(api_key=...)``); all stop after the session."""
    started: list[RunningUpstream] = []

    def start(api_key: str | None = None) -> RunningUpstream:
        started.append(serve_in_thread(api_key))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def upstream(serve_upstream: Callable[..., RunningUpstream]) -> RunningUpstream:
    return serve_upstream()
