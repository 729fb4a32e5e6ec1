"""Real vLLM fixtures, shared by the backend tests here and by any test that needs a live model.

* ``tiny_model_dir``: the tiny Llama directory (built once per session).
* ``vllm_server``: a running OpenAI api_server; ``.base_url`` (``/v1`` included) and ``.model``.
* ``vllm_backend_factory``: ``await factory(**engine_option_overrides)`` starts an in-process
  :class:`~inference.backends.VllmBackend` on the tiny model; all are shut down after the session.
* ``vllm_backend``: one shared in-process backend.

The in-process engine is bound to the event loop that starts it, so tests using the last two
must run on the session loop: ``pytest.mark.asyncio(loop_scope="session")``. Every fixture skips
(never fails) when vllm is not importable; mark users with ``vllm_support.requires_vllm``,
``pytest.mark.vllm`` and ``vllm_support.third_party_warnings``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from vllm_support import (
    ENGINE_OPTIONS,
    SERVED_MODEL,
    VLLM_MISSING,
    VllmServer,
    start_api_server,
    use_cpu_settings,
)

from inference.backends import VllmBackend

VllmBackendFactory = Callable[..., Awaitable[VllmBackend]]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if VLLM_MISSING:
        pytest.skip("vllm is not importable in this interpreter")
    from tiny_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def vllm_server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    log_path = tmp_path_factory.mktemp("vllm-api-server") / "api_server.log"
    server = start_api_server(tiny_model_dir, log_path)
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def vllm_backend_factory(tiny_model_dir: Path) -> AsyncIterator[VllmBackendFactory]:
    started: list[VllmBackend] = []

    async def start(**overrides: Any) -> VllmBackend:
        use_cpu_settings()
        backend = await VllmBackend.start(
            str(tiny_model_dir),
            served_model_name=SERVED_MODEL,
            engine_options={**ENGINE_OPTIONS, **overrides},
        )
        started.append(backend)
        return backend

    yield start
    for backend in started:
        await backend.aclose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def vllm_backend(vllm_backend_factory: VllmBackendFactory) -> VllmBackend:
    return await vllm_backend_factory()
