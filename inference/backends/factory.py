"""Build the backend that ``veritee serve --backend local|openai|vllm`` asks for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from inference.backends.base import Backend
from inference.backends.errors import BackendConfigError
from inference.backends.local import LocalBackend
from inference.backends.upstream import OpenAIBackend, UpstreamSettings
from inference.backends.vllm import VllmBackend

BackendKind = Literal["local", "openai", "vllm"]
BACKEND_KINDS: tuple[str, ...] = get_args(BackendKind)


async def make_backend(
    kind: str,
    *,
    model: str | None = None,
    upstream_url: str | None = None,
    upstream_api_key: str | None = None,
    engine_options: Mapping[str, Any] | None = None,
) -> Backend:
    """Start a backend of ``kind``.

    * ``local``: takes nothing else; serves ``veritee-local-echo``.
    * ``openai``: needs ``upstream_url`` (the base URL with ``/v1``); ``model`` pins the one model
      served, otherwise the upstream's ``GET /v1/models`` decides; ``upstream_api_key`` is sent as
      a bearer token.
    * ``vllm``: needs ``model`` (a local directory or cached hub name); ``engine_options`` are
      passed to ``vllm.AsyncEngineArgs``.

    Raises :class:`BackendConfigError` for settings that cannot work, and the backend's own
    errors when it cannot be reached or started.
    """
    if kind == "local":
        if model is not None or upstream_url is not None or engine_options:
            raise BackendConfigError("the local backend takes no model, upstream or engine options")
        return LocalBackend()
    if kind == "openai":
        if upstream_url is None:
            raise BackendConfigError("the openai backend needs an upstream URL")
        try:
            settings = UpstreamSettings(base_url=upstream_url, api_key=upstream_api_key)
        except ValueError as exc:
            raise BackendConfigError(str(exc)) from exc
        return await OpenAIBackend.connect(settings, None if model is None else (model,))
    if kind == "vllm":
        if model is None:
            raise BackendConfigError("the vllm backend needs a model path or name")
        return await VllmBackend.start(model, engine_options=engine_options)
    raise BackendConfigError(f"unknown backend kind; expected one of {', '.join(BACKEND_KINDS)}")
