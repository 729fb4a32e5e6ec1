"""Gateway settings: vLLM engine options, as ``--engine-option KEY=VALUE`` states them."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference import BackendKind, ConfigError, Settings, parse_engine_option


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("enforce_eager=true", ("enforce_eager", True)),
        ("enforce-eager=false", ("enforce_eager", False)),
        ("max_model_len=1024", ("max_model_len", 1024)),
        ("gpu_memory_utilization=0.85", ("gpu_memory_utilization", 0.85)),
        ("load_format=dummy", ("load_format", "dummy")),
        ('tokenizer_mode="1024"', ("tokenizer_mode", "1024")),
        ("chat_template=", ("chat_template", "")),
        ("quantization=null", ("quantization", "null")),
        ("override_generation_config={}", ("override_generation_config", "{}")),
        ("kv_cache_memory_bytes=1073741824", ("kv_cache_memory_bytes", 1073741824)),
    ],
)
def test_engine_option_values_are_typed_as_written(text: str, expected: tuple[str, object]) -> None:
    key, value = parse_engine_option(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize("text", ["enforce_eager", "=true", "Enforce_Eager=1", "a.b=1", "1x=2", "x y=1"])
def test_malformed_engine_options_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_engine_option(text)


def test_engine_options_reach_only_the_vllm_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vllm backend only"):
        Settings(data_dir=tmp_path, engine_options={"enforce_eager": True})
    with pytest.raises(ConfigError, match="vllm backend only"):
        Settings(
            data_dir=tmp_path,
            backend=BackendKind.OPENAI,
            upstream="http://127.0.0.1:1/v1",
            engine_options={"enforce_eager": True},
        )


@pytest.mark.parametrize("key", ["model", "served_model_name", "Bad-Key"])
def test_engine_options_cannot_replace_the_model_the_gateway_attests(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="not a settable"):
        Settings(data_dir=tmp_path, backend=BackendKind.VLLM, model="m", engine_options={key: "other"})


def test_engine_option_values_must_be_scalars(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="string, number or boolean"):
        Settings(
            data_dir=tmp_path,
            backend=BackendKind.VLLM,
            model="m",
            engine_options={"max_model_len": [1024]},  # type: ignore[dict-item]
        )


def test_engine_options_are_frozen_with_the_settings(tmp_path: Path) -> None:
    given = {"enforce_eager": True}
    settings = Settings(data_dir=tmp_path, backend=BackendKind.VLLM, model="m", engine_options=given)
    given["enforce_eager"] = False
    assert settings.engine_options == {"enforce_eager": True}
    with pytest.raises(TypeError):
        settings.engine_options["max_model_len"] = 1  # type: ignore[index]
    assert Settings(data_dir=tmp_path).engine_options == {}
