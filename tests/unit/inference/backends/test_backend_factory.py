"""make_backend: settings that cannot work are refused before anything starts."""

from __future__ import annotations

import pytest

from inference.backends import (
    BACKEND_KINDS,
    LOCAL_MODEL_ID,
    BackendConfigError,
    UpstreamSettings,
    make_backend,
)


async def test_local_backend_needs_nothing() -> None:
    backend = await make_backend("local")
    assert (backend.name, backend.models) == ("local", (LOCAL_MODEL_ID,))
    await backend.aclose()


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("mystery", {}),
        ("local", {"model": "x"}),
        ("openai", {}),
        ("openai", {"upstream_url": "ftp://127.0.0.1/v1"}),
        ("openai", {"upstream_url": "http://127.0.0.1:9/v1", "upstream_api_key": ""}),
        ("vllm", {}),
    ],
)
async def test_unworkable_settings_are_a_config_error(kind: str, options: dict[str, str]) -> None:
    with pytest.raises(BackendConfigError):
        await make_backend(kind, **options)


def test_kinds_match_the_cli_choices() -> None:
    assert BACKEND_KINDS == ("local", "openai", "vllm")


def test_upstream_api_key_never_appears_in_the_settings_repr() -> None:
    settings = UpstreamSettings(base_url="http://127.0.0.1:1/v1", api_key="sk-SECRET-123")
    assert "sk-SECRET-123" not in repr(settings)
