"""Disclosures through the real audit log, as the gateway wires them, on SQLite and PostgreSQL.

The verdict is appended first; the disclosure is sealed with the log's own DSSE signer and appended
as a ``disclosure`` entry together with its outbox row and the authority's sequence counter, in one
transaction. The authority then opens the envelope taken from the outbox, with a receipt from the
log, and nothing in the database file holds the statement or the planted prompt in clear.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from postgres_schema import temporary_schema

from audit_log import AuditLog, EntryKind, FileKeyStore, Mode, OutboxItem, open_store
from disclosure import (
    OUTBOX_TOPIC,
    Authority,
    AuthorityPrivateKey,
    DisclosureContext,
    DisclosurePolicy,
    DisclosureRule,
    ReplayedDisclosure,
    SequenceState,
    SessionHasher,
    SuiteName,
    check_disclosure,
    disclosures_for,
    seal_disclosure,
)

ORIGIN = "veritee.test/disclosures"
CANARY = "CANARY-db_5e1d do-not-leak"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    with temporary_schema("disclosure_test") as url:
        yield url


async def disclose(log: AuditLog, policy: DisclosurePolicy, sessions: SessionHasher) -> bytes:
    """What the gateway does for a CSAM verdict at 0.9996: verdict first, then each disclosure."""
    verdict = await log.append(EntryKind.VERDICT, {"risk_category": "csam", "action": "block"})
    (trigger,) = disclosures_for("csam", 0.9996, policy)
    state_key = f"disclosure_seq/{trigger.authority.id}"
    seq = (log.state_value(state_key) or 0) + 1
    sealed = seal_disclosure(
        trigger,
        seq=seq,
        context=DisclosureContext(
            log_index=verdict.index,
            session_id=f"{CANARY} session",
            content_sha256=hashlib.sha256(f"prompt with {CANARY}".encode()).hexdigest(),
            policy_version=policy.policy_version,
            attestation_sha256="ab" * 32,
            mode=Mode.SIMULATED,
            at=datetime.now(UTC),
        ),
        sessions=sessions,
        signer=log.sign_dsse,
    )
    assert sealed.sequence_state_key == state_key
    appended = await log.append(
        EntryKind.DISCLOSURE,
        sealed.audit_entry_body,
        outbox=[OutboxItem(OUTBOX_TOPIC, sealed.envelope_bytes)],
        state={state_key: seq},
    )
    return log.receipt(appended.index).to_bytes()


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
async def test_disclosure_goes_through_the_audit_log_and_opens_with_a_receipt(
    store_url: str, tmp_path: Path, suite: SuiteName
) -> None:
    authority = AuthorityPrivateKey.generate("ncmec", suite)
    policy = DisclosurePolicy(
        "it", (Authority("ncmec", authority.public_key),), (DisclosureRule("csam", "ncmec"),)
    )
    sessions = SessionHasher(os.urandom(32))
    log = AuditLog.open(open_store(store_url), FileKeyStore(tmp_path / "keys"), origin=ORIGIN)
    try:
        receipts = [await disclose(log, policy, sessions) for _ in range(2)]
        rows = [row for row in log.outbox_after(0) if row.topic == OUTBOX_TOPIC]
        vkey = log.verifier.vkey
        assert log.state_value("disclosure_seq/ncmec") == 2
    finally:
        log.close()

    assert len(rows) == 2
    states: dict[str, SequenceState] | None = {}
    for seq, (row, receipt) in enumerate(zip(rows, receipts, strict=True), start=1):
        result = check_disclosure(
            row.payload, authority, vkey, allow_simulated=True, receipt=receipt, sequence_states=states
        )
        assert result.opened.statement.seq == seq
        assert result.checkpoint is not None
        states = result.sequence_states
    with pytest.raises(ReplayedDisclosure):
        check_disclosure(rows[0].payload, authority, vkey, allow_simulated=True, sequence_states=states)

    if store_url.startswith("sqlite"):
        database = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
        for secret in (CANARY.encode(), b"risk_category", b"0.9996", b"session_id_hash"):
            assert secret not in database
