"""Gateway overhead against calling the same backend directly, side by side in one run.

Each server runs in its own process, started here and stopped at the end; the load comes from
``wrk`` (Debian's ``wrk`` package, C, one thread, keep-alive connections, a Lua script that POSTs
the same chat request and prints latency percentiles). Measured, at 1 and at 32 connections:
p50/p95/p99 latency, requests/s, and the server's CPU milliseconds per request (utime + stime of
its process from ``/proc``, all its threads, during the 32-connection run).

Targets, all answering the same two-message chat request:

* ``local, in-process``   the ``local`` backend's ``generate()`` called in this process (no HTTP);
* ``bare relay``          FastAPI/uvicorn serving the ``local`` backend without the safety
                          pipeline (``benchmarks/bare_relay.py``);
* ``gateway local ...``   ``veritee serve --backend local`` with the pattern classifiers only
                          (the shipped policy with ``learned = false``) or the default layers;
                          durable audit (SQLite, WAL, synchronous=FULL) as shipped; HTTP or TLS;
* ``... /dev/shm``        diagnostic only: the same gateway with its audit store in memory, where
                          fsync is free, to show the gateway's cost apart from the disk's flush;
* ``upstream``            the minimal OpenAI-compatible server (``benchmarks/upstream.py``)
                          called directly;
* ``gateway openai ...``  ``veritee serve --backend openai`` relaying to that upstream.

Streaming: time to first token (the first content chunk) through the gateway and directly from an
upstream that sends its answer in chunks ``--chunk-delay-ms`` apart, sequentially, with aiohttp.
The gateway holds output back until a window of ``window_chars`` characters has been classified,
so its extra delay is compared with the time the upstream takes to produce one window.

Every configuration runs ``--rounds`` times, interleaved; each figure printed is the median of
its rounds. The machine is shared: the load average and the fsync latency of the disk (every
durable verdict waits for one) are printed before and after.

    .venv/bin/python -m benchmarks.gateway [--duration 5] [--rounds 3] [--pin] [--only NAME,...]
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run this benchmark as a module: python -m benchmarks.gateway")

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import aiohttp
import httpx

from benchmarks.backends import free_port
from benchmarks.upstream import ANSWER, DEFAULT_CHUNKS, Answers
from benchmarks.upstream import MODEL as UPSTREAM_MODEL
from inference.backends import LocalBackend
from inference.backends.local import LOCAL_MODEL_ID
from inference.demo_authorities import materialise_demo_policy
from inference.http.schemas import ChatCompletionRequest
from inference.policy import Limits, Policy

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Please summarise the plot of Hamlet in three sentences."},
]
CLK_TCK = os.sysconf("SC_CLK_TCK")

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"p50":%%d,"p95":%%d,"p99":%%d,"non2xx":%%d,"socket_errors":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def body(model: str, *, stream: bool = False) -> dict[str, object]:
    request: dict[str, object] = {"model": model, "messages": MESSAGES, "max_tokens": 64}
    if stream:
        request["stream"] = True
    return request


# -- measurements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One load run: latency percentiles in ms, requests/s, server CPU ms per request."""

    p50: float
    p95: float
    p99: float
    rps: float
    cpu_ms: float | None = None


@dataclass
class Figures:
    """A target's loads over all rounds, by connection count."""

    runs: dict[int, list[Load]] = field(default_factory=dict)

    def add(self, connections: int, load: Load) -> None:
        self.runs.setdefault(connections, []).append(load)

    def add_all(self, loads: dict[int, Load]) -> None:
        for connections, load in loads.items():
            self.add(connections, load)

    def median(self, connections: int) -> Load | None:
        loads = self.runs.get(connections)
        if not loads:
            return None
        cpus = [load.cpu_ms for load in loads if load.cpu_ms is not None]
        return Load(
            statistics.median(load.p50 for load in loads),
            statistics.median(load.p95 for load in loads),
            statistics.median(load.p99 for load in loads),
            statistics.median(load.rps for load in loads),
            statistics.median(cpus) if cpus else None,
        )


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def run_wrk(
    url: str, request: dict[str, object], connections: int, seconds: int, cpus: str | None, workdir: Path
) -> tuple[Load, int]:
    """``wrk`` against ``url``: latency percentiles and requests/s, and how many requests it made."""
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT % json.dumps(request))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    if result["non2xx"] or result["socket_errors"]:
        raise RuntimeError(f"{url}: {result['non2xx']} non-2xx, {result['socket_errors']} socket errors")
    rps = result["requests"] / (result["duration_us"] / 1e6)
    return Load(result["p50"] / 1000, result["p95"] / 1000, result["p99"] / 1000, rps), result["requests"]


def quantiles(samples: Sequence[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(samples, n=100)
    return q[49], q[94], q[98]


async def drive(one: Callable[[], Awaitable[None]], connections: int, seconds: float) -> Load:
    """``connections`` coroutines calling ``one`` back to back for ``seconds``, in this process."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await one()
            latencies.append((time.perf_counter() - start) * 1000)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return Load(*quantiles(latencies), len(latencies) / wall, cpu / len(latencies) * 1000)


async def local_in_process(seconds: float) -> dict[int, Load]:
    """The ``local`` backend's generate() for the same request, in this process."""
    backend = LocalBackend()
    request = ChatCompletionRequest.model_validate(body(LOCAL_MODEL_ID)).to_generation("bench", Limits())

    async def one() -> None:
        async for _ in backend.generate(request):
            pass

    return {connections: await drive(one, connections, seconds) for connections in (1, 32)}


@dataclass
class StreamTimes:
    """ms from sending each streamed request to its first content chunk, to the chunk that brought
    its content to ``window`` characters (or [DONE] for a shorter answer), and to [DONE]."""

    first: list[float] = field(default_factory=list)
    window: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)


async def stream_times(url: str, model: str, count: int, window: int) -> StreamTimes:
    """Sequential streamed requests over one keep-alive connection."""
    times = StreamTimes()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for position in range(count + 3):
            start = time.perf_counter()
            first: float | None = None
            filled: float | None = None
            chars = 0
            async with session.post(url, json=body(model, stream=True)) as response:
                response.raise_for_status()
                async for line in response.content:
                    if line.startswith(b"data: {"):
                        event = json.loads(line[6:])
                        chars += sum(len(c["delta"].get("content") or "") for c in event.get("choices", ()))
                        if chars and first is None:
                            first = time.perf_counter()
                        if chars >= window and filled is None:
                            filled = time.perf_counter()
                    elif line.startswith(b"data: [DONE]"):
                        break
            end = time.perf_counter()
            if first is None:
                raise RuntimeError(f"{url}: a stream without content")
            if position >= 3:  # the first three warm the connection and the caches
                times.first.append((first - start) * 1000)
                times.window.append(((filled or end) - start) * 1000)
                times.total.append((end - start) * 1000)
    return times


# -- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server process on a loopback port, answering the chat request at ``url``."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    model: str

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode} before it was ready")
            try:
                answer = httpx.post(self.url, json=body(self.model), verify=False, timeout=5)
                if answer.status_code == 200:
                    return
                raise RuntimeError(f"{self.name} answered {answer.status_code}: {answer.text[:200]}")
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def veritee() -> str:
    script = Path(sys.executable).with_name("veritee")
    return str(script) if script.exists() else "veritee"


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    name: str
    kind: str  # "gateway", "bare" or "upstream"
    policy: str = "patterns"  # for gateways: "patterns" (learned = false) or "default"
    tls: bool = False
    upstream: bool = False  # a gateway on the openai backend, relaying to the upstream
    #: Diagnostic only: the audit store in memory (/dev/shm), where fsync costs nothing. It shows
    #: what the gateway costs apart from the disk's flush; it is not a durable configuration.
    audit_in_memory: bool = False


CONFIGS = (
    Config("bare relay (local)", "bare"),
    Config("gateway local, patterns", "gateway"),
    Config("gateway local, patterns, /dev/shm", "gateway", audit_in_memory=True),
    Config("gateway local, default layers", "gateway", "default"),
    Config("gateway local, patterns, TLS", "gateway", tls=True),
    Config("upstream direct", "upstream"),
    Config("gateway openai, patterns", "gateway", upstream=True),
)
IN_PROCESS = "local, in-process generate()"
OVERHEADS = (
    ("gateway local, patterns", IN_PROCESS),
    ("gateway local, patterns", "bare relay (local)"),
    ("gateway local, patterns, /dev/shm", IN_PROCESS),
    ("gateway local, default layers", IN_PROCESS),
    ("gateway local, patterns, TLS", "gateway local, patterns"),
    ("gateway openai, patterns", "upstream direct"),
)


@dataclass(frozen=True)
class Ttft:
    """Streaming through the gateway and directly from the same upstream."""

    direct: StreamTimes
    gateway: StreamTimes
    window_chars: int


@dataclass
class Bench:
    workdir: Path
    duration: int
    server_cpus: str | None
    client_cpus: str | None
    memory: tempfile.TemporaryDirectory[str] = field(
        default_factory=lambda: tempfile.TemporaryDirectory(prefix="veritee-bench-", dir="/dev/shm")
    )

    @property
    def log(self) -> Path:
        return self.workdir / "servers.log"

    def policy(self, name: str) -> Path | None:
        """The policy file for ``name``: None (the shipped one) or the patterns-only variant."""
        if name == "default":
            return None
        path = self.workdir / "patterns-only.toml"
        if not path.exists():
            text = materialise_demo_policy(self.workdir).read_text()
            if text.count("\nlearned = true\n") != 1:
                raise RuntimeError("the shipped policy no longer says 'learned = true' exactly once")
            path.write_text(text.replace("\nlearned = true\n", "\nlearned = false\n"))
        return path

    def start(self, name: str, command: Sequence[str], model: str, *, tls: bool = False) -> Server:
        port = free_port()
        argv = [part.replace("{port}", str(port)) for part in command]
        cpus = self.client_cpus if name.startswith("upstream") else self.server_cpus
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]
        with self.log.open("ab") as stderr:
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
        scheme = "https" if tls else "http"
        server = Server(name, process, f"{scheme}://127.0.0.1:{port}/v1/chat/completions", model)
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def upstream(self, chunk_delay_ms: float = 0.0) -> Server:
        command = [
            sys.executable,
            "-m",
            "benchmarks.upstream",
            "{port}",
            "--chunk-delay-ms",
            str(chunk_delay_ms),
        ]
        return self.start("upstream", command, UPSTREAM_MODEL)

    def gateway(self, config: Config, upstream: Server | None) -> Server:
        root = Path(self.memory.name) if config.audit_in_memory else self.workdir
        data_dir = root / f"data-{time.monotonic_ns()}"
        command = [
            veritee(),
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            "{port}",
            "--log-level",
            "warning",
        ]
        policy = self.policy(config.policy)
        if policy is not None:
            command += ["--policy", str(policy)]
        if not config.tls:
            command.append("--no-tls")
        if upstream is not None:
            command += ["--backend", "openai", "--upstream", upstream.url.removesuffix("/chat/completions")]
        model = UPSTREAM_MODEL if upstream is not None else LOCAL_MODEL_ID
        return self.start(config.name, command, model, tls=config.tls)

    def load(self, server: Server) -> dict[int, Load]:
        """Warm up, then 1 and 32 connections; the server's CPU is read around each run."""
        request = body(server.model)
        run_wrk(server.url, request, 8, 1, self.client_cpus, self.workdir)
        loads = {}
        for connections in (1, 32):
            cpu = process_cpu_seconds(server.process.pid)
            load, requests = run_wrk(
                server.url, request, connections, self.duration, self.client_cpus, self.workdir
            )
            cpu_ms = (process_cpu_seconds(server.process.pid) - cpu) / requests * 1000
            loads[connections] = replace(load, cpu_ms=cpu_ms)
        return loads

    def measure(self, config: Config, upstream: Server) -> dict[int, Load]:
        if config.kind == "upstream":
            return self.load(upstream)
        if config.kind == "bare":
            server = self.start(
                config.name, [sys.executable, "-m", "benchmarks.bare_relay", "{port}"], LOCAL_MODEL_ID
            )
        else:
            server = self.gateway(config, upstream if config.upstream else None)
        try:
            return self.load(server)
        finally:
            server.stop()

    def streaming(self, streams: int, chunk_delay_ms: float) -> Ttft:
        """Time to first token through the gateway (openai backend) and directly, same slow upstream."""
        policy = self.policy("patterns")
        assert policy is not None
        window = Policy.load(policy).model.streaming.window_chars
        upstream = self.upstream(chunk_delay_ms)
        try:
            gateway = self.gateway(Config("gateway (streaming)", "gateway", upstream=True), upstream)
            try:
                direct = asyncio.run(stream_times(upstream.url, UPSTREAM_MODEL, streams, window))
                through = asyncio.run(stream_times(gateway.url, UPSTREAM_MODEL, streams, window))
            finally:
                gateway.stop()
        finally:
            upstream.stop()
        return Ttft(direct, through, window)


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")
    versions = []
    for package in ("fastapi", "uvicorn", "uvloop", "httptools", "pydantic", "aiohttp"):
        try:
            versions.append(f"{package} {package_version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} absent")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs ({model}); "
        f"Python {platform.python_version()}; {', '.join(versions)}; wrk {wrk_version.split(' ')[1]}"
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def fsync_latency(directory: Path, count: int = 200) -> str:
    """p50/p99 of fdatasync after a 4 KiB write in place, as SQLite's WAL does (synchronous=FULL)
    where the audit databases live: every durable verdict waits for one, so this is the floor of
    the 1-connection latency."""
    path = directory / "fsync-probe"
    samples = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(4096 * 16))
        os.fsync(fd)
        for position in range(count):
            os.pwrite(fd, os.urandom(4096), 4096 * (position % 16))
            start = time.perf_counter()
            os.fdatasync(fd)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    p50, _, p99 = quantiles(samples)
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pin", action="store_true", help="servers on CPU 0, wrk and upstream on CPU 1")
    parser.add_argument("--only", default="", help="comma-separated substrings of configuration names")
    parser.add_argument("--streams", type=int, default=50, help="streamed requests per TTFT run")
    parser.add_argument("--chunk-delay-ms", type=float, default=2.0, help="upstream pause between chunks")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    wanted = [part for part in args.only.split(",") if part]
    configs = [c for c in CONFIGS if not wanted or any(w in c.name for w in wanted)]

    print(f"machine: {machine()}")
    print(f"load average before: {load_average()} (a shared machine: other work runs beside this)")
    print(f"pinning: {'servers on CPU 0, wrk and upstream on CPU 1' if args.pin else 'none'}")
    figures = {name: Figures() for name in (IN_PROCESS, *(c.name for c in configs))}
    with tempfile.TemporaryDirectory(prefix="veritee-bench-") as name:
        print(f"fdatasync of the audit store's disk before: {fsync_latency(Path(name))}")
        bench = Bench(Path(name), args.duration, *(("0", "1") if args.pin else (None, None)))
        try:
            for round_number in range(args.rounds):
                print(f"round {round_number + 1}/{args.rounds}", file=sys.stderr)
                figures[IN_PROCESS].add_all(asyncio.run(local_in_process(args.duration)))
                upstream = bench.upstream()
                try:
                    for config in configs:
                        figures[config.name].add_all(bench.measure(config, upstream))
                finally:
                    upstream.stop()
            ttft = bench.streaming(args.streams, args.chunk_delay_ms) if args.streams else None
        except BaseException:
            print(bench.log.read_text()[-4000:] if bench.log.exists() else "", file=sys.stderr)
            raise
        finally:
            bench.memory.cleanup()
        fsync_after = fsync_latency(Path(name))
    report(figures, ttft, args)
    print(f"fdatasync of the audit store's disk after: {fsync_after}")
    print(f"load average after: {load_average()}")


def report(figures: dict[str, Figures], ttft: Ttft | None, args: argparse.Namespace) -> None:
    print()
    print(
        f"wrk, 1 thread, keep-alive; {args.duration} s per run; median of {args.rounds} rounds; times in ms"
    )
    print(
        f"{'target':32} {'c1 p50':>7} {'p95':>6} {'p99':>6} {'req/s':>6} | "
        f"{'c32 p50':>7} {'p95':>6} {'p99':>6} {'req/s':>6} {'cpu ms/req':>10}"
    )
    medians = {name: (f.median(1), f.median(32)) for name, f in figures.items()}
    for name, (one, many) in medians.items():
        if one is None or many is None:
            continue
        cpu = f"{many.cpu_ms:10.3f}" if many.cpu_ms is not None else ""
        print(
            f"{name:32} {one.p50:7.3f} {one.p95:6.2f} {one.p99:6.2f} {one.rps:6.0f} | "
            f"{many.p50:7.2f} {many.p95:6.1f} {many.p99:6.1f} {many.rps:6.0f} {cpu}"
        )
    print()
    print("overhead at 1 connection, p50 / p99 (gateway minus baseline, ms)")
    for gateway, baseline in OVERHEADS:
        g, b = medians.get(gateway, (None, None))[0], medians.get(baseline, (None, None))[0]
        if g is not None and b is not None:
            print(f"  {gateway} vs {baseline}: {g.p50 - b.p50:.3f} / {g.p99 - b.p99:.3f}")
    if ttft is None:
        return
    print()
    print(
        f"streaming: {args.streams} sequential requests, upstream chunks {args.chunk_delay_ms:g} ms apart "
        f"({len(ANSWER)} characters in {len(Answers(DEFAULT_CHUNKS, 0).pieces())} chunks); "
        f"holdback window {ttft.window_chars} characters"
    )
    for label, times in (("direct ", ttft.direct), ("gateway", ttft.gateway)):
        p50, p95, p99 = quantiles(times.first)
        print(
            f"  TTFT {label}  p50 {p50:7.2f}  p95 {p95:7.2f}  p99 {p99:7.2f}; "
            f"whole answer p50 {statistics.median(times.total):.1f}"
        )
    first = statistics.median(ttft.direct.first)
    window = statistics.median(ttft.direct.window) - first
    extra = statistics.median(ttft.gateway.first) - first
    print(
        f"  extra delay p50 {extra:.2f} ms; the upstream writes one window in {window:.2f} ms after its "
        f"first token, so the gateway adds {extra - window:+.2f} ms beyond one window"
    )


if __name__ == "__main__":
    main()
