"""Gateway settings: where data lives, which policy, backend and mode. Every field has a default
that works with nothing set (SQLite under the data dir, the shipped policy, the local backend,
simulated mode announced loudly); the CLI maps flags and ``VERITEE_*`` variables onto them."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from audit_log import Mode
from inference.errors import ConfigError


class BackendKind(enum.StrEnum):
    LOCAL = "local"
    OPENAI = "openai"
    VLLM = "vllm"


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
