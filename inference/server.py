"""Run the gateway under uvicorn: start it, serve (TLS by default), stop it cleanly.

Access logs are off on purpose: a line per request with the client address, time and path (which
can hold a verdict id) would let anyone who reads the TEE's console join verdicts to connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from inference.config import Settings
from inference.http.app import create_app
from inference.service import Gateway

log = logging.getLogger("veritee.gateway")


@dataclass(frozen=True)
class Listening:
    """Where a started gateway listens, and what a client must pin."""

    url: str
    gateway: Gateway
    certificate_pem: bytes | None


@contextlib.contextmanager
def _private_tempdir() -> Iterator[Path]:
    """A 0700 directory in memory where the OS offers one (the TLS key touches no disk)."""
    # mkdtemp makes a fresh 0700 directory with a random name, so a shared parent is safe.
    shm = "/dev/shm"  # noqa: S108
    base = shm if os.path.isdir(shm) else None
    with tempfile.TemporaryDirectory(prefix="veritee-tls-", dir=base) as name:
        os.chmod(name, 0o700)
        yield Path(name)


def server_ssl_context(certificate_pem: bytes, private_key_pem: bytes) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with _private_tempdir() as directory:
        cert, key = directory / "cert.pem", directory / "key.pem"
        for path, data in ((cert, certificate_pem), (key, private_key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        context.load_cert_chain(cert, key)
    return context


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


async def serve(
    settings: Settings,
    *,
    on_ready: Callable[[Listening], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Start the gateway, serve until SIGINT/SIGTERM (or ``stop``), then flush and stop it.

    uvicorn installs its signal handlers only on the main thread, so tests can run this in a thread.
    """
    gateway = await Gateway.start(settings)
    try:
        config = uvicorn.Config(
            create_app(gateway),
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_config=None,
            lifespan="off",
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=10,
        )
        config.load()
        if settings.tls:
            config.ssl = server_ssl_context(gateway.tls.certificate_pem, gateway.tls.private_key_pem)

        def started() -> None:
            server_socket = server.servers[0].sockets[0] if server.servers else None
            port = server_socket.getsockname()[1] if server_socket else settings.port
            scheme = "https" if settings.tls else "http"
            host = f"[{settings.host}]" if ":" in settings.host else settings.host
            if on_ready is not None:
                on_ready(
                    Listening(
                        f"{scheme}://{host}:{port}",
                        gateway,
                        gateway.tls.certificate_pem if settings.tls else None,
                    )
                )

        server = _Server(config, started)
        if stop is not None:

            async def watch() -> None:
                await stop.wait()
                server.should_exit = True

            watcher = asyncio.create_task(watch())
        await server.serve()
        if stop is not None:
            watcher.cancel()
    finally:
        await gateway.stop()


class BackgroundGateway:
    """Run :func:`serve` on its own thread and event loop (the demo, tests, embedding).

    ``with BackgroundGateway(settings) as listening:`` returns once the server listens, or raises what
    stopped it from starting; leaving the block stops it cleanly (flush, shutdown entry) and joins.
    """

    def __init__(self, settings: Settings, *, start_timeout: float = 120.0) -> None:
        self._settings = settings
        self._start_timeout = start_timeout
        self._ready = threading.Event()
        self._listening: Listening | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="veritee-gateway", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(listening: Listening) -> None:
                self._listening = listening
                self._ready.set()

            await serve(self._settings, on_ready=ready, stop=self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # Reported to the thread that waits for start-up.
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> Listening:
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise TimeoutError(f"the gateway did not start within {self._start_timeout} s")
        if self._listening is None:
            self._thread.join()
            assert self._error is not None
            raise self._error
        return self._listening

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
