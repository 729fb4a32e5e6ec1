"""The FastAPI application: routes wired to a started :class:`~inference.service.Gateway`."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response

from inference.errors import NotFound
from inference.http import chat, errors, log_api
from inference.http.attest import attestation_router
from inference.http.auth import keyed_route
from inference.http.middleware import GatewayMiddleware
from inference.service import Gateway


def create_app(gateway: Gateway) -> FastAPI:
    """Build the HTTP application for an already started gateway; starts nothing itself."""
    app = FastAPI(
        title="veritee gateway",
        version=gateway.version,
        docs_url=None,
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    errors.install(app)
    app.include_router(chat.router(gateway))
    app.include_router(log_api.router(gateway))
    app.include_router(attestation_router(gateway.attester.provider, gateway.attester.claims, gateway.nonces))

    @app.get("/v1/health")
    async def health() -> JSONResponse:
        status = gateway.health()
        return JSONResponse(status, 200 if status["status"] == "ok" else 503)

    @app.get("/v1/attestation/startup")
    async def startup_attestation() -> Response:
        """The attestation made at start (fixed zero nonce): the one disclosures and summaries name
        as ``attestation_sha256``, for authorities and officers to verify and archive."""
        return Response(gateway.startup_attestation.to_json(), media_type="application/json")

    keyed = APIRouter(route_class=keyed_route(gateway.api_keys))

    @keyed.get("/v1/signature/{verdict_id}")
    async def signature(verdict_id: str) -> JSONResponse:
        found = await gateway.signature(verdict_id)
        if found is None:
            raise NotFound("no verdict with that id")
        return JSONResponse(found, headers={"X-Veritee-Verdict-Id": verdict_id})

    app.include_router(keyed)

    app.add_middleware(
        GatewayMiddleware, mode=gateway.mode.value, max_body_bytes=gateway.policy.model.limits.max_body_bytes
    )
    return app
