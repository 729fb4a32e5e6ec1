"""100 simultaneous requests through the async SDK never mix content, verdicts or request ids.

Each request carries its own canary and has the model echo it; half stream, a few are blocked.
Every answer must hold exactly its own canary, every verdict id and completion id must be unique,
and every verdict must be signed and in the outbox the moment its answer arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass

import openai
from gateway_harness import (
    BENIGN,
    HARMFUL_CHEM,
    MODEL,
    RunningGateway,
    signature_with_receipt,
    verify_signature_document,
)

REQUESTS = 100


@dataclass(frozen=True)
class Outcome:
    canary: str
    status: int
    verdict_id: str
    completion_id: str | None
    text: str
    durable: bool


async def one(client: openai.AsyncOpenAI, index: int) -> Outcome:
    canary = f"CANARY-{index:03d}-{uuid.uuid4().hex[:12]}"
    blocked = index % 10 == 7
    content = f"{HARMFUL_CHEM} {canary}" if blocked else f"echo: {canary} " + BENIGN * (index % 5)
    stream = index % 2 == 1
    messages = [{"role": "user", "content": content}]
    try:
        raw = await client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=messages,  # type: ignore[arg-type]
            stream=stream,
        )
    except openai.APIStatusError as exc:
        verdict_id = exc.response.headers["x-veritee-verdict-id"]
        return Outcome(
            canary, exc.status_code, verdict_id, None, exc.response.text, await durable(client, verdict_id)
        )
    verdict_id = raw.headers["x-veritee-verdict-id"]
    if stream:
        pieces, ids = [], set()
        async for chunk in raw.parse():  # type: ignore[union-attr]
            ids.add(chunk.id)
            pieces.extend(c.delta.content or "" for c in chunk.choices)
        (completion_id,) = ids
        text = "".join(pieces)
    else:
        completion = raw.parse()
        completion_id, text = completion.id, completion.choices[0].message.content or ""  # type: ignore[union-attr]
    return Outcome(canary, 200, verdict_id, completion_id, text, await durable(client, verdict_id))


async def durable(client: openai.AsyncOpenAI, verdict_id: str) -> bool:
    """Whether the signed verdict is already in the outbox (asked right after the answer)."""
    try:
        response = await client.get(f"/signature/{verdict_id}", cast_to=object)
    except openai.NotFoundError:
        return False
    return isinstance(response, dict) and "envelope" in response


async def test_hundred_concurrent_requests_never_mix(gateway: RunningGateway) -> None:
    client = gateway.async_client()
    try:
        outcomes = await asyncio.gather(*(one(client, i) for i in range(REQUESTS)))
    finally:
        await client.close()
    canaries = {o.canary for o in outcomes}
    for outcome in outcomes:
        others = [c for c in canaries if c != outcome.canary and c in outcome.text]
        assert others == [], "an answer carries another request's canary"
        if outcome.status == 200:
            assert outcome.canary in outcome.text
        else:
            assert outcome.status == 451
            assert outcome.canary not in outcome.text
        assert outcome.durable, "the answer arrived before its signed verdict was durable"
    assert sum(o.status == 451 for o in outcomes) == REQUESTS // 10
    verdict_ids = [o.verdict_id for o in outcomes]
    assert len(set(verdict_ids)) == REQUESTS
    completion_ids = [o.completion_id for o in outcomes if o.completion_id is not None]
    assert len(set(completion_ids)) == len(completion_ids) == REQUESTS - REQUESTS // 10
    vkey = gateway.vkey()
    with gateway.http() as http:
        for outcome in outcomes:
            document = signature_with_receipt(http, outcome.verdict_id)
            verdict = dict(document_verdict(document))
            assert verdict["verdict_id"] == outcome.verdict_id
            assert verdict["action"] == ("block" if outcome.status == 451 else "allow")
            verify_signature_document(document, vkey, verdict)


def document_verdict(document: dict[str, object]) -> dict[str, str]:
    envelope = document["envelope"]
    assert isinstance(envelope, dict)
    verdict: dict[str, str] = json.loads(base64.b64decode(envelope["payload"]))["verdict"]
    return verdict
