"""The model backends' error tree.

A backend failure always refuses the request (the gateway fails closed: 503, no content), but the
cause decides what an operator does next, so each cause has its own class::

    BackendError
    ├── BackendUnavailable   cannot reach the upstream, the engine is dead, credentials refused
    ├── BackendTimeout       no answer (or no next byte) within the configured deadline
    ├── BadBackendResponse   an answer that is not a well-formed completion stream
    ├── BackendRejected      the backend refused this request as invalid (e.g. prompt too long);
    │                        ``status`` carries the upstream's HTTP status when there was one
    └── BackendConfigError   the backend cannot be built from the settings given (unknown kind,
                             missing URL or model)

Messages name backends, HTTP statuses, sizes and indices, never prompt or answer text, and never an
upstream's error body (which may quote the prompt).
"""

from __future__ import annotations


class BackendError(Exception):
    """Root of every error raised by ``inference.backends``."""


class BackendUnavailable(BackendError):
    """The model server cannot serve now: unreachable, dead, overloaded or refusing our key."""


class BackendTimeout(BackendError):
    """The model server did not answer, or stopped sending, within the deadline."""


class BadBackendResponse(BackendError):
    """The model server answered with something that is not a well-formed completion."""


class BackendRejected(BackendError):
    """The model server refused this particular request as invalid."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message if status is None else f"{message} (HTTP {status})")
        self.status = status


class BackendConfigError(BackendError, ValueError):
    """The backend settings are incomplete or contradictory."""
