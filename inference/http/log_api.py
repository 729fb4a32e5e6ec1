"""The audit log's read API under ``/v1/log/``: C2SP tlog-tiles plus JSON proofs.

https://c2sp.org/tlog-tiles — ``checkpoint`` (signed note), ``tile/<L>/<N>[.p/<W>]`` (hash tiles,
immutable once full) and ``key`` (the C2SP verifier key). Entry bundles are not served: entries are
sealed and stay with the TEE. Proofs: ``proof/inclusion?index=&size=`` and
``proof/consistency?old=&new=``, hashes in standard base64.
"""

from __future__ import annotations

import base64

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from audit_log import FormatError, parse_tile_path
from audit_log import NotFound as LogNotFound
from inference.errors import BadRequest, NotFound
from inference.service import Gateway

MAX_INDEX = 2**53 - 1


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/v1/log")
    log = gateway.log

    @api.get("/checkpoint")
    async def checkpoint() -> Response:
        note = await gateway.current_checkpoint()
        return Response(
            note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache, max-age=1"}
        )

    @api.get("/key")
    async def key() -> PlainTextResponse:
        return PlainTextResponse(log.verifier.vkey + "\n", headers={"Cache-Control": "max-age=3600"})

    @api.get("/tile/{path:path}")
    async def tile(path: str) -> Response:
        try:
            coord = parse_tile_path("tile/" + path)
        except FormatError as exc:
            raise NotFound(f"not a tile path: {exc}") from None
        try:
            data = await gateway.read_tile(coord)
        except LogNotFound:
            raise NotFound("tile does not exist at the current tree size") from None
        cache = "public, max-age=31536000, immutable" if coord.is_full else "no-cache"
        return Response(data, media_type="application/octet-stream", headers={"Cache-Control": cache})

    @api.get("/proof/inclusion")
    async def inclusion(
        index: int = Query(ge=0, le=MAX_INDEX), size: int = Query(ge=1, le=MAX_INDEX)
    ) -> dict[str, object]:
        if index >= size:
            raise BadRequest("index must be smaller than size", "index")
        if size > log.size:
            raise BadRequest(f"size exceeds the log's current size {log.size}", "size")
        proof = await gateway.inclusion_proof(index, size)
        return {"index": index, "size": size, "proof": _b64(proof)}

    @api.get("/proof/consistency")
    async def consistency(
        old: int = Query(ge=1, le=MAX_INDEX), new: int = Query(ge=1, le=MAX_INDEX)
    ) -> dict[str, object]:
        if old > new:
            raise BadRequest("old must not exceed new", "old")
        if new > log.size:
            raise BadRequest(f"new exceeds the log's current size {log.size}", "new")
        proof = await gateway.consistency_proof(old, new)
        return {"old": old, "new": new, "proof": _b64(proof)}

    return api
