"""A veritee gateway in front of real vLLM, for the tests of this folder.

:func:`run_gateway` starts the gateway with :class:`~inference.BackgroundGateway` (its own thread,
event loop and, for the ``vllm`` backend, its own in-process engine) on a free loopback port with
TLS on, and yields a :class:`GatewayUnderTest`: the official ``openai`` SDK and a raw HTTP client
that trust exactly the certificate the gateway generated, the served model name, and the
engine's own Prometheus counters, so a test can see what vLLM itself generated:

* in-process: the engine registers its metrics in this process's ``prometheus_client`` registry
  (hence ``disable_log_stats=False`` in :data:`GATEWAY_ENGINE_OPTIONS`);
* upstream: the api_server's ``GET /metrics``.

The signature, receipt and canary checks come from the gateway tests' harness.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
from integration.gateway.gateway_harness import client_ssl_context
from vllm_support import ENGINE_OPTIONS, VllmServer, use_cpu_settings

from audit_log import NoteVerifier, parse_vkey
from inference import BackendKind, BackgroundGateway, Listening, Settings

#: The tiny model's engine options as a deployment states them (``--engine-option KEY=VALUE``),
#: with the KV cache sized by an engine argument rather than ``VLLM_CPU_KVCACHE_SPACE``.
GATEWAY_ENGINE_OPTIONS: dict[str, str | int | float | bool] = {
    **{k: v for k, v in ENGINE_OPTIONS.items() if isinstance(v, str | int | float | bool)},
    "kv_cache_memory_bytes": 1 << 30,
    "disable_log_stats": False,
}

Metric = Callable[..., float]


def in_process_metric(model: str) -> Metric:
    """Sum of this process's vLLM metric samples for ``model`` that carry the given labels."""

    def metric(name: str, **labels: str) -> float:
        from prometheus_client import REGISTRY

        wanted = {"model_name": model, **labels}
        return sum(
            sample.value
            for family in REGISTRY.collect()
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items())
        )

    return metric


@dataclass
class GatewayUnderTest:
    listening: Listening
    model: str
    vllm_metric: Metric
    _clients: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.listening.url

    def sdk(self) -> openai.OpenAI:
        """The official SDK, unchanged, over TLS pinned to the gateway's certificate."""
        assert self.listening.certificate_pem is not None
        context = client_ssl_context(self.listening.certificate_pem)
        client = openai.OpenAI(
            base_url=self.url + "/v1",
            api_key="unused",
            max_retries=0,
            http_client=httpx2.Client(verify=context, timeout=120),
        )
        self._clients.append(client)
        return client

    def http(self) -> httpx.Client:
        assert self.listening.certificate_pem is not None
        context = client_ssl_context(self.listening.certificate_pem)
        client = httpx.Client(base_url=self.url, verify=context, timeout=60)
        self._clients.append(client)
        return client

    def vkey(self) -> NoteVerifier:
        response = self.http().get("/v1/log/key")
        assert response.status_code == 200
        return parse_vkey(response.text)

    def verdict_entries(self, verdict_id: str) -> list[dict[str, Any]]:
        """The audit entry bodies of one verdict, read through the running gateway's log."""
        log = self.listening.gateway.log
        entries = (json.loads(log.entry(i)) for i in range(log.size))
        return [
            e["body"] for e in entries if e["kind"] == "verdict" and e["body"]["verdict_id"] == verdict_id
        ]

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


def in_process_settings(data_dir: Path, model_dir: Path, **overrides: Any) -> Settings:
    use_cpu_settings()
    return Settings(
        data_dir=data_dir,
        port=0,
        checkpoint_interval=0.2,
        backend=BackendKind.VLLM,
        model=str(model_dir),
        engine_options=GATEWAY_ENGINE_OPTIONS,
        **overrides,
    )


def upstream_settings(data_dir: Path, server: VllmServer, **overrides: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        port=0,
        checkpoint_interval=0.2,
        backend=BackendKind.OPENAI,
        upstream=server.base_url,
        **overrides,
    )


@contextlib.contextmanager
def run_gateway(settings: Settings, model: str, vllm_metric: Metric) -> Iterator[GatewayUnderTest]:
    """Serve ``settings`` until the block ends; the gateway must then stop cleanly."""
    with BackgroundGateway(settings, start_timeout=300) as listening:
        running = GatewayUnderTest(listening, model, vllm_metric)
        try:
            yield running
        finally:
            running.close_clients()


def wait_for(condition: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    return condition()
