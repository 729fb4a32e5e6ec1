"""The one place where the gateway's errors become HTTP answers, all in OpenAI's error shape.

Every error body is ``{"error": {"message", "type", "code"[, "param"]}}`` (the Node SDK reads only
``body.error``). A safety block adds the ExternalVerdict beside it and nothing else. Messages are
fixed strings or name fields, sizes and stages; they never echo request content.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from inference.errors import BadRequest, GatewayError, Pushback, Refused, SafetyBlock
from inference.http.schemas import PARAMETER_NAMES

log = logging.getLogger("veritee.gateway")

BLOCK_MESSAGE = "The request or its answer was blocked by the content policy."


def error_body(message: str, type_: str, code: str, param: str | None = None) -> dict[str, object]:
    error: dict[str, object] = {"message": message, "type": type_, "code": code}
    if param is not None:
        error["param"] = param
    return {"error": error}


def blocked_body(exc: SafetyBlock) -> dict[str, object]:
    return {
        "error": {"message": BLOCK_MESSAGE, "type": "safety_block", "code": "content_policy_violation"},
        "verdict": exc.verdict.to_dict(),
    }


def refused_body(stage: str) -> dict[str, object]:
    return error_body(
        f"The request was refused because the safety pipeline could not complete ({stage}).",
        "service_unavailable",
        "fail_closed",
    )


def _known_location(location: tuple[object, ...]) -> str | None:
    """The location as ``a.0.b``, cut before the first part that is not a known parameter name or
    an index: a key the caller chose (or a union member's tag) is never repeated back. Query and
    path parameters are the route's own declared names, so they are kept as they are."""
    if location and location[0] in ("query", "path"):
        return ".".join(str(p) for p in location) or None
    parts: list[str] = []
    for part in location[1:] if location[:1] == ("body",) else location:
        if not (isinstance(part, int) or part in PARAMETER_NAMES):
            break
        parts.append(str(part))
    return ".".join(parts) or None


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """Describe the first validation problem by location and kind only, never by value."""
    errors = exc.errors()
    if not errors:
        return "invalid request body", None
    first = errors[0]
    location = tuple(first.get("loc", ()))
    param = _known_location(location)
    kind = first.get("type", "invalid")
    if kind == "json_invalid":
        return "request body is not valid JSON", None
    if kind == "extra_forbidden":
        if location and location[-1] in PARAMETER_NAMES:
            return f"unsupported parameter: {param}", param
        return "unsupported parameter" + (f" in {param}" if param else ""), param
    if kind == "missing":
        return f"missing required parameter: {param}", param
    if kind == "unpaired_surrogate":
        return "text must be valid Unicode (an unpaired surrogate was sent)", param
    return f"invalid value for {param or 'body'} ({kind})", param


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return JSONResponse(error_body(message, "invalid_request_error", "invalid_request", param), 400)

    @app.exception_handler(BadRequest)
    async def _bad(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "invalid_request_error", exc.code, exc.param), exc.status)

    @app.exception_handler(SafetyBlock)
    async def _blocked(request: Request, exc: SafetyBlock) -> JSONResponse:
        return JSONResponse(blocked_body(exc), 451, headers={"X-Veritee-Verdict-Id": exc.verdict.verdict_id})

    @app.exception_handler(Pushback)
    async def _pushback(request: Request, exc: Pushback) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc), "service_unavailable", "audit_backpressure"),
            503,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        log.warning("request refused (fail closed) at stage %s", exc.stage)
        return JSONResponse(refused_body(exc.stage), 503)

    @app.exception_handler(GatewayError)
    async def _gateway(request: Request, exc: GatewayError) -> JSONResponse:
        log.error("gateway error %s", type(exc).__name__)
        return JSONResponse(refused_body("gateway"), 503)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {404: "no such endpoint", 405: "method not allowed"}.get(exc.status_code, "request failed")
        kind = "invalid_request_error" if exc.status_code < 500 else "service_unavailable"
        return JSONResponse(error_body(message, kind, code), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Fail closed without echoing anything: the type name is all that is logged.
        log.error("unexpected %s while serving %s", type(exc).__name__, request.url.path)
        return JSONResponse(refused_body("internal"), 503)
