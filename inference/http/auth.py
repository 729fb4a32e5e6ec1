"""Optional bearer API keys, compared in constant time, checked before the request body is read.

A FastAPI dependency would run only after the framework has read and JSON-decoded the body, so an
unauthenticated caller could make the gateway parse a megabyte and learn from a 400 how it judges
bodies. The check therefore wraps the route handler itself (a custom ``APIRoute``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from inference.errors import Unauthorized

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def check_api_key(keys: frozenset[bytes], authorization: str) -> None:
    """Raise :class:`Unauthorized` unless ``authorization`` is ``Bearer <one of keys>``."""
    scheme, _, token = authorization.partition(" ")
    presented = token.strip().encode()
    # Compare against every key, so timing does not reveal which (if any) matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
    if scheme.lower() != "bearer" or not matched:
        raise Unauthorized("missing or invalid API key")


def keyed_route(keys: frozenset[str]) -> type[APIRoute]:
    """A route class whose routes demand one of ``keys`` (none configured: open to all)."""
    encoded = frozenset(k.encode() for k in keys)

    class KeyedRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler: Handler = super().get_route_handler()
            if not encoded:
                return handler

            async def authenticated(request: Request) -> Response:
                check_api_key(encoded, request.headers.get("authorization", ""))
                return await handler(request)

            return authenticated

    return KeyedRoute
