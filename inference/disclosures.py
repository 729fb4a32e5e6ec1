"""Mandatory disclosures from the gateway: which a blocking verdict requires, sealed and recorded.

The verdict that triggers a disclosure is durable first (its index becomes the statement's
``log_index``); each disclosure then becomes a ``disclosure`` audit entry, written in one transaction
with its outbox row and its authority's new sequence number. Sequence numbers are allocated under a
per-authority lock so they are gapless and in log order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime

from audit_log import AuditLog, EntryKind, Mode, OutboxItem
from disclosure import (
    ENTRY_KIND,
    OUTBOX_TOPIC,
    DisclosureContext,
    DisclosurePolicy,
    DisclosureTrigger,
    SessionHasher,
    disclosures_for,
    seal_disclosure,
    sequence_state_key,
)
from inference.gates import GateDecision

SESSION_SECRET_INFO = b"veritee-session-secret/v1"


def session_secret(storage_key: bytes) -> bytes:
    """A TEE secret for session hashing, separated from the storage key it derives from."""
    return hmac.new(storage_key, SESSION_SECRET_INFO, hashlib.sha256).digest()


class Discloser:
    def __init__(
        self,
        *,
        log: AuditLog,
        policy: DisclosurePolicy,
        sessions: SessionHasher,
        mode: Mode,
        attestation_sha256: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert EntryKind(ENTRY_KIND) is EntryKind.DISCLOSURE
        self._log = log
        self._policy = policy
        self._sessions = sessions
        self._mode = mode
        self._attestation_sha256 = attestation_sha256
        self._clock = clock
        self._locks = {a.id: asyncio.Lock() for a in policy.authorities}

    def triggers(self, decision: GateDecision) -> tuple[DisclosureTrigger, ...]:
        """Pure: the disclosures a final verdict with ``decision`` requires (none unless it blocks)."""
        if decision.action != "block" or decision.risk_category not in {
            r.category for r in self._policy.rules
        }:
            return ()
        return disclosures_for(decision.risk_category, decision.confidence, self._policy)

    async def disclose(
        self,
        triggers: tuple[DisclosureTrigger, ...],
        *,
        log_index: int,
        session_id: str,
        content_sha256: str | None,
    ) -> None:
        for trigger in triggers:
            authority = trigger.authority.id
            async with self._locks[authority]:
                state_key = sequence_state_key(authority)
                seq = (self._log.state_value(state_key) or 0) + 1
                sealed = seal_disclosure(
                    trigger,
                    seq=seq,
                    context=DisclosureContext(
                        log_index=log_index,
                        session_id=session_id,
                        content_sha256=content_sha256,
                        policy_version=self._policy.policy_version,
                        attestation_sha256=self._attestation_sha256,
                        mode=self._mode,
                        at=datetime.fromtimestamp(self._clock(), tz=UTC),
                    ),
                    sessions=self._sessions,
                    signer=self._log.sign_dsse,
                )
                await self._log.append(
                    EntryKind.DISCLOSURE,
                    sealed.audit_entry_body,
                    outbox=[OutboxItem(OUTBOX_TOPIC, sealed.envelope_bytes)],
                    state={state_key: seq},
                )
