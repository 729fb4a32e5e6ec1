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
