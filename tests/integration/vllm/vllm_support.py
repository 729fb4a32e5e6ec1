"""Start real vLLM on the CPU for the tests: the in-process engine and the OpenAI api_server.

Both load the tiny model from ``tiny_model.py`` with dummy weights, eager mode, float32 and a
1 GiB KV cache (``VLLM_CPU_KVCACHE_SPACE=1``). Imported by the test modules and conftest of this
folder only; nothing here imports vllm until a server or engine is started.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from loopback import free_port

from inference.backends import (
    Backend,
    Chunk,
    GenerationRequest,
    Message,
    Sampling,
    Tool,
    Usage,
)

SERVED_MODEL = "veritee-tiny-llama"
MAX_MODEL_LEN = 2048  # the tiny model's whole context: abort tests need a long budget
ENGINE_OPTIONS: dict[str, object] = {
    "load_format": "dummy",
    "enforce_eager": True,
    "dtype": "float32",
    "max_model_len": MAX_MODEL_LEN,
    "seed": 0,
    "disable_log_stats": True,
}
ENVIRONMENT = {"VLLM_CPU_KVCACHE_SPACE": "1"}
STARTUP_TIMEOUT_S = 300.0

VLLM_MISSING = importlib.util.find_spec("vllm") is None
requires_vllm = pytest.mark.skipif(
    VLLM_MISSING,
    reason=(
        "vllm is not importable in this interpreter: run `pytest -m vllm` with the vLLM venv's "
        "python (bash .ci/vllm-env.sh prints it; see tests/integration/vllm/README.md)"
    ),
)
# vLLM, torch and transformers warn about their own internals at import and start-up; the
# suite's warnings-as-errors policy stays in force for everything else. vLLM never terminates the
# ZeroMQ context of an engine it shut down and leaves it to the garbage collector, whose warning
# names whichever module happened to be running: it is matched by its message instead.
third_party_warnings = [
    *(
        pytest.mark.filterwarnings(f"ignore::{category}:{module}")
        for category in ("DeprecationWarning", "FutureWarning", "UserWarning", "ResourceWarning")
        for module in (r"torch(\..*)?", r"transformers(\..*)?", r"vllm(\..*)?")
    ),
    pytest.mark.filterwarnings(r"ignore:Unclosed (context|socket) <zmq\.:ResourceWarning"),
]


def use_cpu_settings() -> None:
    """Apply the CPU engine environment to this process (the engine core inherits it)."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)


@dataclass
class VllmServer:
    """A running ``vllm.entrypoints.openai.api_server`` on loopback."""

    base_url: str  # OpenAI base URL, /v1 included
    model: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus metric's samples from ``GET /metrics`` that carry ``labels``."""
        text = httpx.get(f"{self.root_url}/metrics", timeout=10).text
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        total = 0.0
        for line in text.splitlines():
            series, _, value = line.rpartition(" ")
            if series.partition("{")[0] == name and all(label in series for label in wanted):
                total += float(value)
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_api_server(model_dir: Path, log_path: Path) -> VllmServer:
    """Start the api_server (``python -m``: the ``vllm`` console script fails for vllm-cpu)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--model",
        str(model_dir),
        "--served-model-name",
        SERVED_MODEL,
        "--load-format",
        "dummy",
        "--enforce-eager",
        "--dtype",
        "float32",
        "--max-model-len",
        str(MAX_MODEL_LEN),
        "--seed",
        "0",
        # vLLM 0.32 refuses any non-"none" tool_choice without a parser; hermes needs no special
        # tokens, and named or "required" choices are decoded by schema regardless of the parser.
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
    ]
    env = {**os.environ, **ENVIRONMENT}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = VllmServer(f"http://127.0.0.1:{port}/v1", SERVED_MODEL, process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{server.root_url}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.stop()
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
    raise RuntimeError(f"vLLM api_server did not become healthy; log tail:\n{tail}")


def chat_request(
    *contents: str,
    sampling: Sampling | None = None,
    request_id: str = "vllm-test",
    model: str = SERVED_MODEL,
    tools: tuple[Tool, ...] = (),
    tool_choice: str | None = None,
) -> GenerationRequest:
    return GenerationRequest(
        request_id=request_id,
        model=model,
        messages=tuple(Message(role="user", content=content) for content in contents),
        sampling=sampling or Sampling(),
        tools=tools,
        tool_choice=tool_choice,
    )


async def collect(backend: Backend, request: GenerationRequest) -> list[Chunk | Usage]:
    return [item async for item in backend.generate(request)]


def texts(items: list[Chunk | Usage], n: int = 1) -> list[str]:
    out = [""] * n
    for item in items:
        if isinstance(item, Chunk):
            out[item.index] += item.text
    return out


def finishes(items: list[Chunk | Usage]) -> dict[int, str]:
    return {
        item.index: item.finish_reason
        for item in items
        if isinstance(item, Chunk) and item.finish_reason is not None
    }


def usage(items: list[Chunk | Usage]) -> Usage:
    assert sum(isinstance(item, Usage) for item in items) == 1
    assert isinstance(items[-1], Usage)
    return items[-1]


def ascii_stop_string(text: str) -> str:
    """A short run of ASCII letters from past the start of ``text``, usable as a stop string."""
    match = re.search(r"[A-Za-z]{2,}", text[4:])
    assert match is not None, "greedy output has no ASCII word to stop on"
    return match.group(0)
