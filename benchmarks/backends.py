"""Client cost of the ``openai`` backend: httpx vs aiohttp, and the backend itself.

Starts the minimal OpenAI-compatible upstream (tests/integration/backends/upstream_app.py) in its
own process, so that only the client's work is counted in this process, then streams the same
chat completion through:

* ``httpx``    a bare ``httpx.AsyncClient`` streaming request, reading SSE lines to ``[DONE]``;
* ``aiohttp``  the same with a bare ``aiohttp.ClientSession``;
* ``backend``  ``OpenAIBackend`` (aiohttp + SSE decoding + stream checks + Chunk objects).

For each, at concurrency 1 and 32: CPU ms of this process per request (``time.process_time``),
requests/s, and latency p50/p95/p99 in ms. Each configuration runs ``--rounds`` times,
interleaved, and the round with the median CPU cost is printed.

    .venv/bin/python -m benchmarks.backends [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

from inference.backends import (
    LOCAL_MODEL_ID,
    GenerationRequest,
    Message,
    OpenAIBackend,
    UpstreamSettings,
)
from inference.backends.openai_wire import request_body

UPSTREAM_APP = Path(__file__).resolve().parents[1] / "tests/integration/backends/upstream_app.py"
PROMPT = "Please summarise the following text for me. " * 8
REQUEST = GenerationRequest(
    request_id="bench",
    model=LOCAL_MODEL_ID,
    messages=(Message(role="user", content=PROMPT),),
)
BODY = request_body(REQUEST)


@dataclass(frozen=True)
class Result:
    client: str
    concurrency: int
    cpu_ms: float
    rps: float
    p50: float
    p95: float
    p99: float


async def drive(client: str, one: Callable[[], Awaitable[None]], total: int, concurrency: int) -> Result:
    for _ in range(50):
        await one()
    latencies: list[float] = []
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:
            start = time.perf_counter()
            await one()
            latencies.append((time.perf_counter() - start) * 1000)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    q = statistics.quantiles(latencies, n=100)
    return Result(client, concurrency, cpu / total * 1000, total / wall, q[49], q[94], q[98])


async def run_httpx(url: str, total: int, concurrency: int) -> Result:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one() -> None:
            async with client.stream("POST", f"{url}/chat/completions", json=BODY) as response:
                async for line in response.aiter_lines():
                    if line == "data: [DONE]":
                        break

        return await drive("httpx", one, total, concurrency)


async def run_aiohttp(url: str, total: int, concurrency: int) -> Result:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.post(f"{url}/chat/completions", json=BODY) as response:
                async for line in response.content:
                    if line.startswith(b"data: [DONE]"):
                        break

        return await drive("aiohttp", one, total, concurrency)


async def run_backend(url: str, total: int, concurrency: int) -> Result:
    settings = UpstreamSettings(base_url=url, max_connections=concurrency)
    backend = await OpenAIBackend.connect(settings, models=(LOCAL_MODEL_ID,))

    async def one() -> None:
        async for _ in backend.generate(REQUEST):
            pass

    try:
        return await drive("backend", one, total, concurrency)
    finally:
        await backend.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{url}/models", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("upstream did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(UPSTREAM_APP), str(port)])
    url = f"http://127.0.0.1:{port}/v1"
    runners = {"httpx": run_httpx, "aiohttp": run_aiohttp, "backend": run_backend}
    try:
        wait_until_up(url, upstream)
        events = len(httpx.post(f"{url}/chat/completions", json=BODY).text.split("\n\n")) - 1
        print(f"python {platform.python_version()}, httpx {httpx.__version__}, ", end="")
        print(f"aiohttp {aiohttp.__version__}; {events} SSE events per response")
        print(f"{args.requests} streamed requests per round, {args.rounds} rounds, median round")
        print(
            f"{'client':8} {'conc':>4} {'cpu ms/req':>10} {'req/s':>7} "
            f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        )
        for concurrency in (1, 32):
            rounds: dict[str, list[Result]] = {name: [] for name in runners}
            for _ in range(args.rounds):
                for name, runner in runners.items():
                    rounds[name].append(asyncio.run(runner(url, args.requests, concurrency)))
            for name, results in rounds.items():
                r = sorted(results, key=lambda result: result.cpu_ms)[len(results) // 2]
                print(
                    f"{name:8} {r.concurrency:>4} {r.cpu_ms:>10.3f} {r.rps:>7.0f} "
                    f"{r.p50:>7.2f} {r.p95:>7.2f} {r.p99:>7.2f}"
                )
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)


if __name__ == "__main__":
    main()
