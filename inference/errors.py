"""The gateway's error tree, mapped to HTTP once, in ``inference/http/errors.py``::

    GatewayError
    ├── BadRequest            400: malformed or unsupported request (message names the field, never its value)
    │   ├── NotFound          404
    │   ├── PayloadTooLarge   413
    │   └── Unauthorized      401: missing or wrong API key
    ├── SafetyBlock           451: OpenAI error object + the ExternalVerdict, nothing else
    ├── Pushback              503 + Retry-After: the audit queue is full
    ├── Refused               503, no content: fail closed (classifier, policy, append, signing, backend)
    └── ConfigError           the gateway refuses to start (invalid policy, manifest mismatch, keys)

No message ever carries prompt or answer text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inference.verdicts import ExternalVerdict


class GatewayError(Exception):
    """Root of the gateway's errors."""


class BadRequest(GatewayError):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class NotFound(BadRequest):
    status = 404
    code = "not_found"


class PayloadTooLarge(BadRequest):
    status = 413
    code = "request_too_large"


class Unauthorized(BadRequest):
    status = 401
    code = "invalid_api_key"


class SafetyBlock(GatewayError):
    """The request or its answer was blocked by policy; the verdict is durable in the audit log."""

    def __init__(self, verdict: ExternalVerdict) -> None:
        super().__init__("blocked by content policy")
        self.verdict = verdict


class Pushback(GatewayError):
    """Too much pending audit work; the caller should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("the audit log is busy; retry later")
        self.retry_after = retry_after


class Refused(GatewayError):
    """Fail closed: a stage that must succeed did not. ``stage`` names it; nothing else is said."""

    def __init__(self, stage: str) -> None:
        super().__init__(f"request refused: {stage} unavailable")
        self.stage = stage


class ConfigError(GatewayError):
    """The configuration cannot be served safely; the gateway refuses to start."""
