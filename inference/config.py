"""Gateway settings: where data lives, which policy, backend and mode. Every field has a default
that works with nothing set (SQLite under the data dir, the shipped policy, the local backend,
simulated mode announced loudly); the CLI maps flags and ``VERITEE_*`` variables onto them."""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from audit_log import Mode
from inference.errors import ConfigError

#: A ``vllm.AsyncEngineArgs`` field value as ``--engine-option KEY=VALUE`` can state it.
EngineOptionValue = str | int | float | bool
_ENGINE_OPTION_KEY = re.compile(r"[a-z][a-z0-9_]*")
#: Set by the gateway itself from ``--model``; an engine option may not override them.
_RESERVED_ENGINE_OPTIONS = frozenset({"model", "served_model_name"})


class BackendKind(enum.StrEnum):
    LOCAL = "local"
    OPENAI = "openai"
    VLLM = "vllm"


def parse_engine_option(text: str) -> tuple[str, EngineOptionValue]:
    """``KEY=VALUE`` as given to ``--engine-option``: VALUE is read as a JSON scalar when it is one
    (``true``, ``1024``, ``0.5``) and kept as a string otherwise (``dummy``, ``float32``)."""
    key, separator, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not separator or not _ENGINE_OPTION_KEY.fullmatch(key):
        raise ConfigError("an engine option must read KEY=VALUE, KEY a vLLM engine argument name")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if not isinstance(value, str | int | float | bool):
        value = raw  # JSON lists, objects and null stay the text they were given as
    return key, value


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "veritee"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    mode: Mode = Mode.SIMULATED
    policy: Path | None = None
    backend: BackendKind = BackendKind.LOCAL
    upstream: str | None = None
    model: str | None = None
    api_key_file: Path | None = None
    db: str | None = None
    tls: bool = True
    log_origin: str = "veritee.local/log"
    checkpoint_interval: float = 1.0
    #: ``vllm.AsyncEngineArgs`` fields for the ``vllm`` backend (``enforce_eager``, ``max_model_len``,
    #: ``kv_cache_memory_bytes``, ``load_format``...); vLLM itself validates them at start.
    engine_options: Mapping[str, EngineOptionValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.backend is BackendKind.OPENAI and not self.upstream:
            raise ConfigError("the openai backend needs --upstream URL")
        if self.backend is BackendKind.VLLM and not self.model:
            raise ConfigError("the vllm backend needs --model PATH_OR_NAME")
        if self.mode is Mode.PRODUCTION and not self.tls:
            raise ConfigError("production mode terminates TLS inside the TEE; --no-tls is refused")
        if self.mode is Mode.PRODUCTION and self.policy is None:
            raise ConfigError("production mode needs an explicit --policy with the real authority keys")
        if not 0 <= self.port < 65536:
            raise ConfigError("port must be 0..65535 (0 = any free port)")
        if self.checkpoint_interval <= 0:
            raise ConfigError("checkpoint interval must be positive")
        if self.engine_options and self.backend is not BackendKind.VLLM:
            raise ConfigError("engine options apply to the vllm backend only")
        for key, value in self.engine_options.items():
            if not _ENGINE_OPTION_KEY.fullmatch(key) or key in _RESERVED_ENGINE_OPTIONS:
                raise ConfigError(f"engine option {key!r} is not a settable vLLM engine argument")
            if not isinstance(value, str | int | float | bool):
                raise ConfigError(f"engine option {key} must be a string, number or boolean")
        object.__setattr__(self, "engine_options", MappingProxyType(dict(self.engine_options)))

    def api_keys(self) -> frozenset[str]:
        """Bearer keys callers must present (one per line); empty = no key required."""
        if self.api_key_file is None:
            return frozenset()
        try:
            lines = self.api_key_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read API key file {self.api_key_file}: {exc.strerror}") from exc
        keys = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
        if not keys:
            raise ConfigError(f"API key file {self.api_key_file} holds no keys")
        return keys
