"""``GET /v1/attestation?nonce=<64 hex>``: a fresh attestation document for the caller's nonce.

Spec: DESIGN.md "Attestation document" and docs/formats.md. The body is the document's RFC 8785
bytes. Errors use OpenAI's shape ``{"error": {"message", "type", "code", "param"?}}``:

=====  =============================  =====================================================
 400   ``invalid_nonce``              nonce missing, repeated, or not 64 lowercase hex digits
 409   ``nonce_replayed``             the nonce was already used within its time to live
 429   ``too_many_attestations``      too many live nonces; ``Retry-After`` says when to retry
 503   ``attestation_unavailable``    the quote provider failed (fail closed, nothing served)
=====  =============================  =====================================================

Quote generation blocks (configfs-tsm can take seconds), so it runs in a worker thread. The router
is self-contained: the gateway mounts it with ``app.include_router(attestation_router(...))``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from inference.attestation import (
    AttestationFormatError,
    Attester,
    Claims,
    Collateral,
    NonceReplayed,
    NonceStore,
    NonceStoreFull,
    QuoteProvider,
    QuoteProviderError,
    parse_nonce,
)

log = logging.getLogger("veritee.attestation")

ATTESTATION_PATH = "/v1/attestation"
_NO_STORE = {"Cache-Control": "no-store"}


def _error(
    status: int, message: str, type_: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    error: dict[str, str] = {"message": message, "type": type_, "code": code}
    if code == "invalid_nonce":
        error["param"] = "nonce"
    return JSONResponse({"error": error}, status, headers={**_NO_STORE, **(headers or {})})


def attestation_router(
    provider: QuoteProvider,
    claims: Claims,
    nonces: NonceStore,
    *,
    collateral: Collateral | None = None,
) -> APIRouter:
    """The attestation route for fixed ``claims``, quoting with ``provider``, nonces single-use."""
    attester = Attester(provider, claims, collateral=collateral)
    router = APIRouter()

    @router.get(ATTESTATION_PATH)
    async def attestation(request: Request) -> Response:
        values = request.query_params.getlist("nonce")
        if len(values) != 1:
            return _error(
                400, "exactly one nonce query parameter is required", "invalid_request_error", "invalid_nonce"
            )
        try:
            nonce = parse_nonce(values[0])
        except AttestationFormatError:
            return _error(
                400,
                "nonce must be 64 lowercase hex digits (32 bytes)",
                "invalid_request_error",
                "invalid_nonce",
            )
        try:
            nonces.consume(nonce)
        except NonceReplayed:
            return _error(
                409,
                "this nonce was already used; send a fresh random nonce",
                "invalid_request_error",
                "nonce_replayed",
            )
        except NonceStoreFull as exc:
            return _error(
                429,
                "too many attestation requests; retry later",
                "rate_limit_error",
                "too_many_attestations",
                {"Retry-After": str(exc.retry_after)},
            )
        try:
            document = await run_in_threadpool(attester.attest, nonce)
        except QuoteProviderError as exc:
            log.error("attestation refused: quote provider failed (%s)", type(exc).__name__)
            return _error(
                503,
                "the TEE could not produce a quote; retry later",
                "service_unavailable",
                "attestation_unavailable",
            )
        return Response(
            document.to_json(),
            media_type="application/json",
            headers={**_NO_STORE, "X-Veritee-Mode": document.mode.value},
        )

    return router
