"""The pipeline's :class:`~inference.pipeline.Recorder`: verdicts into the audit log.

A verdict entry, its signed ExternalVerdict (DSSE over ``{verdict, log_index, mode}``) and the outbox
row the relay will export are written in one transaction; the signature is made by the log writer
once the entry's index is known. Disclosures follow a durable blocking verdict.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from audit_log import AuditLog, EntryKind, Mode, OutboxItem
from audit_log import Pushback as AuditPushback
from audit_log.formats import jcs
from inference.disclosures import Discloser
from inference.errors import Pushback
from inference.gates import GateDecision
from inference.pipeline import Evidence
from inference.verdicts import VERDICT_PAYLOAD_TYPE, VerdictRecord, signed_verdict_payload

VERDICT_TOPIC = "verdict"


class AuditRecorder:
    def __init__(self, log: AuditLog, mode: Mode, discloser: Discloser) -> None:
        self._log = log
        self._mode = mode
        self._discloser = discloser

    async def record(self, record: VerdictRecord, decision: GateDecision, evidence: Evidence) -> int:
        verdict = record.verdict
        triggers = self._discloser.triggers(decision) if record.phase == "final" else ()

        def signed(index: int) -> Sequence[OutboxItem]:
            envelope = self._log.sign_dsse(
                VERDICT_PAYLOAD_TYPE, signed_verdict_payload(verdict, index, self._mode)
            )
            return [OutboxItem(VERDICT_TOPIC, envelope.to_json(), key=verdict.verdict_id)]

        body = record.audit_body()
        body["disclosures"] = len(triggers)
        try:
            result = await self._log.append(EntryKind.VERDICT, body, outbox=signed)
        except AuditPushback as exc:
            raise Pushback() from exc
        if triggers:
            await self._discloser.disclose(
                triggers,
                log_index=result.index,
                session_id=evidence.session_id,
                content_sha256=evidence.content_sha256,
            )
        return result.index


def signature_document(
    payload: bytes, log_index: int, leaf_hash: bytes, receipt: bytes | None
) -> dict[str, object]:
    """The ``/v1/signature/{verdict_id}`` answer: the DSSE verdict, its entry's index and leaf hash
    and, once a checkpoint covers it, a ``c2sp.org/tlog-proof@v1`` receipt for that leaf.

    The receipt carries no entry bytes: the signature binds the verdict to ``log_index``, and the
    proof shows the log holds that leaf; the entry itself (scores, sizes) stays in the TEE.
    """
    return {
        "envelope": jcs.parse_object(payload),
        "log_index": log_index,
        "leaf_hash": base64.b64encode(leaf_hash).decode(),
        "receipt": receipt.decode() if receipt is not None else None,
    }
