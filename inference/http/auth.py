"""Optional bearer API keys, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request

from inference.errors import Unauthorized


def require_api_key(keys: frozenset[str]) -> Callable[[Request], Awaitable[None]]:
    encoded = [k.encode() for k in keys]

    async def check(request: Request) -> None:
        if not encoded:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        presented = token.strip().encode()
        # Compare against every key, so timing does not reveal which (if any) matched.
        matched = False
        for key in encoded:
            matched |= hmac.compare_digest(presented, key)
        if scheme.lower() != "bearer" or not matched:
            raise Unauthorized("missing or invalid API key")

    return check
