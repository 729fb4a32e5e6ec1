"""An OpenAI client that sends nothing to a server it has not attested, on the connection it uses.

Drop-in for the official SDK: ``reporting.client.OpenAI(...)`` and ``AsyncOpenAI(...)`` return stock
``openai`` clients whose HTTP transport does this on every new TLS connection, before the first
request byte is written:

1. take SHA-256 of the SubjectPublicKeyInfo of the certificate the server presented (RFC 5280);
2. if an attestation verified earlier bound exactly that key, go on;
3. otherwise send ``GET /v1/attestation?nonce=<fresh 32 random bytes>`` *on this same connection*
   (HTTP/1.1 spoken directly with h11), verify the document with the caller's policy at the
   current time, and require ``claims.tls_spki_sha256`` to equal the key from step 1.

Any failure closes the connection and raises :class:`AttestationRefused`, an
``openai.OpenAIError``, so the SDK neither retries nor sends the prompt. The TLS certificate itself
is self-signed inside the TEE: trust comes from the attested key pin (step 3), not from a CA.
Because the pin is checked at every handshake, a connection that terminates anywhere but in the
attested TEE is refused even after an earlier attestation succeeded.
"""

from __future__ import annotations

import datetime
import hmac
import secrets
import ssl
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import h11
import httpx2
import openai

from inference.attestation import (
    NONCE_SIZE,
    AttestationDocument,
    AttestationError,
    AttestationVerificationError,
    AttestationVerifier,
    VerifiedAttestation,
    spki_sha256,
)

ATTESTATION_PATH = "/v1/attestation"
DEFAULT_ATTESTATION_TIMEOUT = 30.0  # a TDX quote can take seconds to generate
_MAX_RESPONSE_BYTES = 2 * 1024 * 1024
_READ_SIZE = 64 * 1024
_TLS_COMPLETE = "connection.start_tls.complete"  # httpcore's trace event, with the TLS stream


class AttestationRefused(AttestationVerificationError, openai.OpenAIError):
    """The server could not be attested on this connection; nothing was sent to it.

    ``error`` keeps the typed verification error, if that is what refused the connection (the HTTP
    stack does not keep exception chains).
    """

    def __init__(self, reason: str, error: AttestationError | None = None) -> None:
        super().__init__(reason)
        self.error = error


class _SyncStream(Protocol):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes: ...

    def write(self, buffer: bytes, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...

    def get_extra_info(self, info: str) -> object: ...


class _AsyncStream(Protocol):
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes: ...

    async def write(self, buffer: bytes, timeout: float | None = None) -> None: ...

    async def aclose(self) -> None: ...

    def get_extra_info(self, info: str) -> object: ...


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def pinning_tls_context() -> ssl.SSLContext:
    """TLS 1.2+ without CA validation: the attested SPKI pin, checked per connection, replaces it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA store to load: nothing would use it
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def peer_spki_sha256(stream: _SyncStream | _AsyncStream) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo of the certificate the server presented."""
    ssl_object = stream.get_extra_info("ssl_object")
    getpeercert = getattr(ssl_object, "getpeercert", None)
    if getpeercert is None:
        raise AttestationRefused("the connection is not TLS")
    der = getpeercert(True)  # positional: ssl.SSLObject and the socket's internal object differ in name
    if not isinstance(der, bytes) or not der:
        raise AttestationRefused("the server presented no certificate")
    return spki_sha256(der)


class _AttestationExchange:
    """One ``GET /v1/attestation`` spoken with h11 directly on a TLS stream, leaving it reusable."""

    def __init__(self, host: str, path: str, nonce: bytes) -> None:
        self._http = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        headers = [("Host", host), ("Accept", "application/json"), ("User-Agent", "veritee-client")]
        self.request = self._http.send(
            h11.Request(method="GET", target=f"{path}?nonce={nonce.hex()}", headers=headers)
        ) + self._http.send(h11.EndOfMessage())
        self._status: int | None = None
        self._body = bytearray()

    def receive(self, data: bytes) -> bool:
        """Feed bytes read from the stream; True once the whole response has arrived."""
        self._http.receive_data(data)
        while True:
            event = self._http.next_event()
            if event is h11.NEED_DATA:
                return False
            if isinstance(event, h11.Response):
                self._status = event.status_code
                declared = dict(event.headers).get(b"content-length")
                if declared is not None and int(declared) > _MAX_RESPONSE_BYTES:
                    raise AttestationRefused("the attestation response is too large")
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > _MAX_RESPONSE_BYTES:
                    raise AttestationRefused("the attestation response is too large")
            elif isinstance(event, h11.EndOfMessage):
                return True
            elif isinstance(event, h11.ConnectionClosed):
                raise AttestationRefused("the server closed the connection during attestation")

    def document(self) -> AttestationDocument:
        # The connection must stay usable for the request that follows, with nothing left unread.
        if self._http.their_state is not h11.DONE or self._http.our_state is not h11.DONE:
            raise AttestationRefused("the server will not keep the attested connection open")
        if self._http.trailing_data[0]:
            raise AttestationRefused("unexpected bytes after the attestation response")
        if self._status != 200:
            raise AttestationRefused(f"the attestation endpoint answered HTTP {self._status}")
        return AttestationDocument.from_json(bytes(self._body))


class AttestedConnections:
    """Which TLS keys an attestation verified, and the per-connection check that extends the set."""

    def __init__(
        self,
        policy: AttestationVerifier,
        *,
        clock: Callable[[], datetime.datetime] = _utc_now,
        timeout: float = DEFAULT_ATTESTATION_TIMEOUT,
        path: str = ATTESTATION_PATH,
        on_verified: Callable[[VerifiedAttestation], None] | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._timeout = timeout
        self._path = path
        self._on_verified = on_verified
        self._verified: dict[bytes, VerifiedAttestation] = {}
        self._lock = threading.Lock()

    @property
    def verified(self) -> tuple[VerifiedAttestation, ...]:
        """Every attestation verified so far, one per attested TLS key."""
        with self._lock:
            return tuple(self._verified.values())

    def _known(self, spki: bytes) -> bool:
        with self._lock:
            return spki in self._verified

    def _accept(self, spki: bytes, nonce: bytes, exchange: _AttestationExchange) -> None:
        verified = self._policy.verify(exchange.document(), nonce, self._clock())
        if not hmac.compare_digest(verified.claims.tls_spki_sha256, spki):
            raise AttestationRefused("the attested TLS key is not the key this connection presented")
        with self._lock:
            self._verified[spki] = verified
        if self._on_verified is not None:
            self._on_verified(verified)

    def check(self, stream: _SyncStream, host: str) -> None:
        """Let ``stream`` carry requests only if it terminates at an attested key (blocking)."""
        try:
            spki = peer_spki_sha256(stream)
            if self._known(spki):
                return
            nonce = secrets.token_bytes(NONCE_SIZE)
            exchange = _AttestationExchange(host, self._path, nonce)
            stream.write(exchange.request, self._timeout)
            while not exchange.receive(stream.read(_READ_SIZE, self._timeout)):
                pass
            self._accept(spki, nonce, exchange)
        except BaseException as exc:
            stream.close()
            if isinstance(exc, AttestationRefused) or not isinstance(exc, Exception):
                raise
            raise _refusal(exc) from exc

    async def acheck(self, stream: _AsyncStream, host: str) -> None:
        """The same check on an asynchronous stream."""
        try:
            spki = peer_spki_sha256(stream)
            if self._known(spki):
                return
            nonce = secrets.token_bytes(NONCE_SIZE)
            exchange = _AttestationExchange(host, self._path, nonce)
            await stream.write(exchange.request, self._timeout)
            while not exchange.receive(await stream.read(_READ_SIZE, self._timeout)):
                pass
            self._accept(spki, nonce, exchange)
        except BaseException as exc:
            await stream.aclose()
            if isinstance(exc, AttestationRefused) or not isinstance(exc, Exception):
                raise
            raise _refusal(exc) from exc


def _refusal(exc: Exception) -> AttestationRefused:
    """Fail closed: every failure of the exchange or the verification refuses the connection."""
    if isinstance(exc, AttestationError):
        return AttestationRefused(str(exc), exc)
    return AttestationRefused(f"attestation exchange failed: {type(exc).__name__}")


def _https_host(request: httpx2.Request) -> str:
    if request.url.scheme != "https":
        raise AttestationRefused("attested connections need an https:// URL")
    return request.url.netloc.decode("ascii")


class AttestedTransport(httpx2.BaseTransport):
    """An httpx2 transport whose every new TLS connection is attested before use."""

    def __init__(self, connections: AttestedConnections) -> None:
        self.connections = connections
        self._inner = httpx2.HTTPTransport(verify=pinning_tls_context(), trust_env=False)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        host = _https_host(request)
        outer: Callable[[str, Mapping[str, object]], None] | None = request.extensions.get("trace")

        def trace(event: str, info: Mapping[str, object]) -> None:
            if event == _TLS_COMPLETE:
                self.connections.check(info["return_value"], host)  # type: ignore[arg-type]
            if outer is not None:
                outer(event, info)

        request.extensions = {**request.extensions, "trace": trace}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncAttestedTransport(httpx2.AsyncBaseTransport):
    """The asynchronous :class:`AttestedTransport`."""

    def __init__(self, connections: AttestedConnections) -> None:
        self.connections = connections
        self._inner = httpx2.AsyncHTTPTransport(verify=pinning_tls_context(), trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        host = _https_host(request)
        outer: Callable[[str, Mapping[str, object]], Awaitable[None]] | None = request.extensions.get("trace")

        async def trace(event: str, info: Mapping[str, object]) -> None:
            if event == _TLS_COMPLETE:
                await self.connections.acheck(info["return_value"], host)  # type: ignore[arg-type]
            if outer is not None:
                await outer(event, info)

        request.extensions = {**request.extensions, "trace": trace}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def OpenAI(  # a drop-in for the SDK's class
    *,
    attestation_policy: AttestationVerifier,
    base_url: str,
    api_key: str | None = None,
    organization: str | None = None,
    project: str | None = None,
    timeout: float | openai.Timeout | None = openai.DEFAULT_TIMEOUT,
    max_retries: int = openai.DEFAULT_MAX_RETRIES,
    default_headers: Mapping[str, str] | None = None,
    on_verified: Callable[[VerifiedAttestation], None] | None = None,
    attestation_timeout: float = DEFAULT_ATTESTATION_TIMEOUT,
) -> openai.OpenAI:
    """An ``openai.OpenAI`` that sends requests only over connections attested by ``attestation_policy``."""
    connections = AttestedConnections(
        attestation_policy, timeout=attestation_timeout, on_verified=on_verified
    )
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key,
        organization=organization,
        project=project,
        timeout=timeout,
        max_retries=max_retries,
        default_headers=default_headers,
        http_client=httpx2.Client(transport=AttestedTransport(connections), timeout=timeout),
    )


def AsyncOpenAI(  # a drop-in for the SDK's class
    *,
    attestation_policy: AttestationVerifier,
    base_url: str,
    api_key: str | None = None,
    organization: str | None = None,
    project: str | None = None,
    timeout: float | openai.Timeout | None = openai.DEFAULT_TIMEOUT,
    max_retries: int = openai.DEFAULT_MAX_RETRIES,
    default_headers: Mapping[str, str] | None = None,
    on_verified: Callable[[VerifiedAttestation], None] | None = None,
    attestation_timeout: float = DEFAULT_ATTESTATION_TIMEOUT,
) -> openai.AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` that sends requests only over attested connections."""
    connections = AttestedConnections(
        attestation_policy, timeout=attestation_timeout, on_verified=on_verified
    )
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=api_key,
        organization=organization,
        project=project,
        timeout=timeout,
        max_retries=max_retries,
        default_headers=default_headers,
        http_client=httpx2.AsyncClient(transport=AsyncAttestedTransport(connections), timeout=timeout),
    )
