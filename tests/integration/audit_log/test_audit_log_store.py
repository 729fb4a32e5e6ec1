"""AuditLog on a real database: durable group commit, proofs from stored tiles, restart, fail-closed."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_store_support import ORIGIN, fsck, raw_database
from sqlalchemy import text

from audit_log import (
    AuditLog,
    EntryKind,
    FileKeyStore,
    FormatError,
    KeyStoreError,
    NotFound,
    OutboxItem,
    Pushback,
    Receipt,
    StoreError,
    TamperError,
    TileCoord,
    WriterConflict,
    open_store,
)
from audit_log.checkpoint import Checkpoint, CheckpointPolicy
from audit_log.entry import GENESIS_PREV, AuditEntry
from audit_log.formats import dsse
from audit_log.merkle import leaf_hash, node_hash, root_hash, verify_consistency, verify_inclusion
from audit_log.receipt import verify_receipt
from audit_log.store import schema


class GatedClock:
    """A clock the writer thread calls once per batch; closing the gate holds the writer still."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.waiting.set()
        self.gate.wait()
        return self.now


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        row = levels[-1]
        levels.append([node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)])
    return levels


async def _append_many(log: AuditLog, count: int, start: int = 0) -> list[bytes]:
    results = await asyncio.gather(*(log.append(EntryKind.VERDICT, {"n": start + i}) for i in range(count)))
    assert [r.index for r in results] == sorted(r.index for r in results)
    return [r.leaf_hash for r in sorted(results, key=lambda r: r.index)]


async def test_proofs_from_stored_tiles_match_the_reference_tree(open_log: Callable[..., AuditLog]) -> None:
    log = open_log()
    leaves: list[bytes] = []
    for count in (1, 254, 1, 300, 70):  # Crosses full-tile boundaries inside and between batches.
        leaves += await _append_many(log, count, len(leaves))
    levels = _levels(leaves)
    size = len(leaves)
    assert log.size == size
    assert log.root() == root_hash(size, lambda level, index: levels[level][index])
    rng = random.Random(7)
    for _ in range(60):
        tree_size = rng.randint(1, size)
        index = rng.randrange(tree_size)
        root = root_hash(tree_size, lambda level, i: levels[level][i])
        assert log.root_at(tree_size) == root
        verify_inclusion(index, tree_size, leaves[index], log.inclusion_proof(index, tree_size), root)
        old = rng.randint(1, tree_size)
        old_root = log.root_at(old)
        verify_consistency(old, tree_size, old_root, root, log.consistency_proof(old, tree_size))


async def test_entries_form_a_hash_chain_with_monotonic_time(open_log: Callable[..., AuditLog]) -> None:
    clock = GatedClock()
    log = open_log(clock=clock)
    first = await log.append(EntryKind.STARTUP, {"version": "1"})
    clock.now -= 60  # The host clock jumps back a minute.
    second = await log.append(EntryKind.VERDICT, {"action": "allow"})
    one, two = AuditEntry.parse(first.entry_bytes), AuditEntry.parse(second.entry_bytes)
    assert (one.seq, one.prev) == (0, GENESIS_PREV)
    assert (two.seq, two.prev) == (1, first.leaf_hash)
    assert two.time == one.time == first.time == 1_800_000_000_000
    assert log.entry(1) == second.entry_bytes
    assert leaf_hash(second.entry_bytes) == second.leaf_hash


async def test_restart_reads_only_the_edge_and_resumes_exactly(
    open_log: Callable[..., AuditLog], store_url: str, keys: FileKeyStore
) -> None:
    log = open_log()
    await _append_many(log, 700)
    sealed = [OutboxItem("disclosure", b"sealed")]
    await log.append(EntryKind.DISCLOSURE, {"id": "d1"}, outbox=sealed, state={"seq/a": 3})
    note = log.publish_checkpoint()
    root, size, last = log.root(), log.size, log.entry(log.size - 1)
    await log.aclose()

    reopened = open_log()
    assert (reopened.size, reopened.root(), reopened.latest_checkpoint()) == (size, root, note)
    assert reopened.state_value("seq/a") == 3
    result = await reopened.append(EntryKind.SHUTDOWN, {}, outbox=[OutboxItem("verdict", b"v")])
    assert result.index == size
    assert AuditEntry.parse(result.entry_bytes).prev == leaf_hash(last)
    assert result.outbox_ids == (2,)
    await reopened.aclose()
    fsck(store_url, keys)


async def test_served_tiles_are_stored_bytes_and_old_partials_are_prefixes(
    open_log: Callable[..., AuditLog],
) -> None:
    log = open_log()
    leaves = await _append_many(log, 300)
    assert log.tile(TileCoord(0, 0)) == b"".join(leaves[:256])
    assert log.tile(TileCoord(0, 1, 44)) == b"".join(leaves[256:300])
    assert log.tile(TileCoord(0, 1, 10)) == b"".join(leaves[256:266])
    assert log.tile(TileCoord(0, 0, 5)) == b"".join(leaves[:5])
    assert log.tile(TileCoord(1, 0, 1)) == _levels(leaves)[8][0]
    for missing in (TileCoord(0, 1, 45), TileCoord(0, 2, 1), TileCoord(1, 0, 2)):
        with pytest.raises(NotFound):
            log.tile(missing)


async def test_checkpoint_is_signed_once_per_tree_head(
    open_log: Callable[..., AuditLog], store_url: str
) -> None:
    log = open_log()
    empty = log.publish_checkpoint()
    assert CheckpointPolicy.of(ORIGIN, [log.verifier]).verify(empty).size == 0
    await _append_many(log, 5)
    note = log.publish_checkpoint()
    assert log.publish_checkpoint() == note
    checkpoint = CheckpointPolicy.of(ORIGIN, [log.verifier]).verify(note)
    assert (checkpoint.size, checkpoint.root) == (5, log.root())
    with raw_database(store_url) as engine, engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_checkpoints")).scalar() == 2


async def test_receipt_verifies_offline_with_the_entry_bytes(open_log: Callable[..., AuditLog]) -> None:
    log = open_log()
    await _append_many(log, 20)
    receipt = Receipt.parse(log.receipt(13).to_bytes())
    assert receipt.extra is not None
    checkpoint = verify_receipt(receipt, receipt.extra, CheckpointPolicy.of(ORIGIN, [log.verifier]))
    assert checkpoint.size == 20
    assert AuditEntry.parse(receipt.extra).body == {"n": 13}
    older = log.latest_checkpoint()
    await _append_many(log, 5, 20)
    assert log.receipt(3, older).checkpoint_note == older
    with pytest.raises(NotFound):
        log.receipt(22, older)


async def test_dsse_statements_carry_the_simulated_key_id(open_log: Callable[..., AuditLog]) -> None:
    log = open_log()
    envelope = log.sign_dsse("application/vnd.veritee.test+json", b"{}")
    assert log.signer_key_id.startswith("sim:")
    trusted = {log.signer_key_id: log.verifier.public_key}
    assert dsse.verify(envelope, "application/vnd.veritee.test+json", trusted) == b"{}"


async def test_outbox_rows_follow_commit_order_and_acks_never_move_back(
    open_log: Callable[..., AuditLog],
) -> None:
    log = open_log()
    for i in range(5):
        await log.append(EntryKind.VERDICT, {"i": i}, outbox=[OutboxItem("verdict", b"v%d" % i)])
    await log.append(EntryKind.AGENT, {}, outbox=[OutboxItem("a", b"1"), OutboxItem("b", b"2")])
    rows = log.outbox_after(0, 100)
    assert [(r.id, r.entry_index, r.payload) for r in rows[:5]] == [(i + 1, i, b"v%d" % i) for i in range(5)]
    assert [(r.id, r.topic, r.entry_index) for r in rows[5:]] == [(6, "a", 5), (7, "b", 5)]
    assert [r.id for r in log.outbox_after(5, 1)] == [6]
    log.ack(4)
    log.ack(2)
    assert log.acked_cursor == 4
    with pytest.raises(NotFound):
        log.ack(8)
    with pytest.raises(FormatError):
        log.outbox_after(0, 0)


@pytest.mark.parametrize(
    "body",
    [{"score": float("inf")}, {"n": 2**60}, {"k": {1, 2}}, ["list"]],
    ids=["infinity", "unsafe-int", "set", "not-an-object"],
)
async def test_body_that_is_not_jcs_is_refused_before_anything_is_written(
    open_log: Callable[..., AuditLog], body: object
) -> None:
    log = open_log()
    with pytest.raises(FormatError):
        await log.append(EntryKind.VERDICT, body)  # type: ignore[arg-type]
    with pytest.raises(FormatError):
        await log.append("telemetry", {})  # type: ignore[arg-type]
    with pytest.raises(FormatError):
        await log.append(EntryKind.VERDICT, {}, state={"n": 2**63})
    assert log.size == 0


async def test_full_queue_pushes_back_instead_of_growing(open_log: Callable[..., AuditLog]) -> None:
    clock = GatedClock()
    log = open_log(clock=clock, max_pending=2)
    clock.gate.clear()
    first = asyncio.ensure_future(log.append(EntryKind.VERDICT, {}))
    await asyncio.to_thread(clock.waiting.wait)  # The writer holds the first entry and waits.
    queued = [asyncio.ensure_future(log.append(EntryKind.VERDICT, {})) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Pushback):
        await log.append(EntryKind.VERDICT, {})
    clock.gate.set()
    assert [r.index for r in await asyncio.gather(first, *queued)] == [0, 1, 2]


def _install_poison_trigger(url: str) -> None:
    """A real database failure mid-transaction: inserting an outbox row with topic 'poison' aborts."""
    with raw_database(url) as engine, engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER poison BEFORE INSERT ON audit_outbox WHEN NEW.topic = 'poison' "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.topic = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER poison BEFORE INSERT ON audit_outbox "
                    "FOR EACH ROW EXECUTE FUNCTION poison()"
                )
            )


async def test_failed_commit_fails_every_caller_and_memory_stays_with_disk(
    open_log: Callable[..., AuditLog], store_url: str, keys: FileKeyStore
) -> None:
    clock = GatedClock()
    log = open_log(clock=clock)
    await _append_many(log, 10)
    size, root = log.size, log.root()
    _install_poison_trigger(store_url)
    clock.gate.clear()
    clock.waiting.clear()
    blocker = asyncio.ensure_future(log.append(EntryKind.VERDICT, {"blocker": True}))
    await asyncio.to_thread(clock.waiting.wait)
    batch = [
        asyncio.ensure_future(log.append(EntryKind.VERDICT, {"ok": 1}, state={"n": 1})),
        asyncio.ensure_future(log.append(EntryKind.VERDICT, {}, outbox=[OutboxItem("poison", b"x")])),
        asyncio.ensure_future(log.append(EntryKind.VERDICT, {"ok": 2})),
    ]
    await asyncio.sleep(0)
    clock.gate.set()
    assert (await blocker).index == size
    outcomes = await asyncio.gather(*batch, return_exceptions=True)
    assert all(isinstance(outcome, StoreError) for outcome in outcomes)
    assert (log.size, log.state_value("n")) == (size + 1, None)
    assert log.root() != root
    after = await log.append(EntryKind.VERDICT, {"after": True})
    assert after.index == size + 1
    await log.aclose()
    reopened = open_log()
    assert (reopened.size, reopened.root()) == (size + 2, log.root())
    await reopened.aclose()
    fsck(store_url, keys)


def test_second_writer_is_refused_while_the_first_lives(store_url: str, keys: FileKeyStore) -> None:
    first = AuditLog.open(open_store(store_url), keys, origin=ORIGIN)
    try:
        with pytest.raises(WriterConflict):
            open_store(store_url)
        first.append_blocking(EntryKind.STARTUP, {})
    finally:
        first.close()
    second = AuditLog.open(open_store(store_url), keys, origin=ORIGIN)
    assert second.size == 1
    second.close()


def test_store_of_another_log_or_key_is_refused(store_url: str, keys: FileKeyStore, tmp_path: Path) -> None:
    AuditLog.open(open_store(store_url), keys, origin=ORIGIN).close()
    with pytest.raises(StoreError, match="holds the log"):
        AuditLog.open(open_store(store_url), keys, origin="other.test/log")
    with pytest.raises(KeyStoreError, match="storage key"):
        AuditLog.open(open_store(store_url), FileKeyStore(tmp_path / "other-keys"), origin=ORIGIN)


async def test_rolled_back_tree_state_is_refused_at_open(
    open_log: Callable[..., AuditLog], store_url: str
) -> None:
    log = open_log()
    await _append_many(log, 3)
    old = (log.size, log.root(), log.entry(2))
    await _append_many(log, 3, 3)
    log.publish_checkpoint()
    await log.aclose()
    size, root, last = old
    with raw_database(store_url) as engine, engine.begin() as connection:
        connection.execute(schema.state.update().values(size=size, root=root, last_leaf=leaf_hash(last)))
        connection.execute(schema.tiles.update().values(data=schema.tiles.c.data))
        connection.execute(
            schema.tiles.update().where(schema.tiles.c.level == 0).values(data=b"".join([b"\x00" * 32] * 3))
        )
    with pytest.raises(TamperError):
        open_log()


async def test_tampered_edge_tile_is_refused_at_open(
    open_log: Callable[..., AuditLog], store_url: str
) -> None:
    log = open_log()
    await _append_many(log, 3)
    await log.aclose()
    with raw_database(store_url) as engine, engine.begin() as connection:
        connection.execute(schema.tiles.update().values(data=b"\x01" * 96))
    with pytest.raises(TamperError, match="edge tiles"):
        open_log()


async def test_plaintext_never_reaches_the_database(
    open_log: Callable[..., AuditLog], store_url: str
) -> None:
    canary = "CANARY-7f3a9c-prompt-text"
    log = open_log()
    await log.append(EntryKind.VERDICT, {"note": canary}, state={"k": 1})
    log.publish_checkpoint()
    await log.aclose()
    with raw_database(store_url) as engine, engine.connect() as connection:
        for table in schema.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                cells = [bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row]
                assert canary.encode() not in b"".join(cells)
    if store_url.startswith("sqlite"):
        database = Path(store_url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):
            assert canary.encode() not in path.read_bytes()


def test_checkpoint_origin_must_be_a_valid_note_name(store_url: str, keys: FileKeyStore) -> None:
    with pytest.raises(FormatError):
        AuditLog.open(open_store(store_url), keys, origin="has space/log")
    assert Checkpoint(ORIGIN, 0, b"\x00" * 32).origin == ORIGIN


def test_closed_log_refuses_appends_and_releases_the_store(store_url: str, keys: FileKeyStore) -> None:
    log = AuditLog.open(open_store(store_url), keys, origin=ORIGIN)
    log.append_blocking(EntryKind.STARTUP, {})
    log.close()
    with pytest.raises(StoreError, match="closed"):
        log.append_blocking(EntryKind.SHUTDOWN, {})
    with pytest.raises(StoreError, match="closed"):
        log.entry(0)
    AuditLog.open(open_store(store_url), keys, origin=ORIGIN).close()
