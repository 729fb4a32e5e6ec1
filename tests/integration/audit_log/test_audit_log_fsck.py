"""Offline verification catches every kind of tampering a host can do to the store.

Each test plays the attacker with plain SQL on the store's database, then runs the verifier that
``veritee log verify`` runs. The log built here has 600 entries (two full level-0 tiles and a partial
one) and checkpoints at sizes 100, 300 and 600.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from audit_store_support import ORIGIN, fsck, raw_database
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update

from audit_log import (
    AuditLog,
    EntryKind,
    FileKeyStore,
    KeyStoreError,
    TamperError,
    VerificationError,
    open_store,
)
from audit_log.checkpoint import Checkpoint, sign_checkpoint
from audit_log.formats.note import NoteSigner
from audit_log.store import schema

SIZES = (100, 300, 600)


async def _build(url: str, keys: FileKeyStore) -> list[bytes]:
    """The honest log; returns its checkpoints (which an officer would have kept)."""
    log = AuditLog.open(open_store(url), keys, origin=ORIGIN)
    notes = []
    for size in SIZES:
        await asyncio.gather(*(log.append(EntryKind.VERDICT, {"n": n}) for n in range(log.size, size)))
        notes.append(log.publish_checkpoint())
    await log.aclose()
    return notes


@pytest.fixture
def notes(store_url: str, keys: FileKeyStore) -> list[bytes]:
    return asyncio.run(_build(store_url, keys))


def _attack(url: str, *statements: Any) -> None:
    with raw_database(url) as engine, engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def _entry(url: str, seq: int) -> tuple[bytes, bytes]:
    e = schema.entries
    with raw_database(url) as engine, engine.connect() as connection:
        sealed, leaf = connection.execute(select(e.c.sealed, e.c.leaf_hash).where(e.c.seq == seq)).one()
    return bytes(sealed), bytes(leaf)


def _flip(data: bytes, position: int = -1) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def _tampering(url: str, keys: FileKeyStore, **options: Any) -> TamperError:
    with pytest.raises(TamperError) as caught:
        fsck(url, keys, **options)
    return caught.value


def test_honest_store_verifies(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    report = fsck(store_url, keys, trusted_checkpoints=notes)
    assert (report.origin, report.size, report.checkpoints, report.trusted_checkpoints) == (ORIGIN, 600, 3, 3)
    assert report.tiles == 4  # tile/0/000, tile/0/001, tile/0/002.p/88, tile/1/000.p/2


def test_empty_store_verifies(store_url: str, keys: FileKeyStore) -> None:
    AuditLog.open(open_store(store_url), keys, origin=ORIGIN).close()
    assert fsck(store_url, keys).size == 0


def test_modified_entry_ciphertext_is_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    sealed, _ = _entry(store_url, 300)
    e = schema.entries
    _attack(store_url, update(e).where(e.c.seq == 300).values(sealed=_flip(sealed)))
    assert _tampering(store_url, keys).index == 300


def test_modified_leaf_hash_is_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    _, leaf = _entry(store_url, 300)
    e = schema.entries
    _attack(store_url, update(e).where(e.c.seq == 300).values(leaf_hash=_flip(leaf)))
    assert _tampering(store_url, keys).index == 300


def test_deleted_entry_is_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    e = schema.entries
    _attack(store_url, delete(e).where(e.c.seq == 300))
    assert _tampering(store_url, keys).index == 300


def test_inserted_entry_is_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    sealed, leaf = _entry(store_url, 299)
    e = schema.entries
    _attack(
        store_url,
        # Make room at 300 (through negative keys, so no primary key collides), then slip a copy in.
        update(e).where(e.c.seq >= 300).values(seq=-e.c.seq - 2),
        update(e).where(e.c.seq < 0).values(seq=-e.c.seq - 1),
        insert(e).values(seq=300, sealed=sealed, leaf_hash=leaf),
    )
    assert _tampering(store_url, keys).index == 300


def test_entry_appended_beyond_the_tree_is_caught(
    store_url: str, keys: FileKeyStore, notes: list[bytes]
) -> None:
    sealed, leaf = _entry(store_url, 5)
    _attack(store_url, insert(schema.entries).values(seq=600, sealed=sealed, leaf_hash=leaf))
    assert _tampering(store_url, keys).index == 600


def test_reordered_entries_are_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    first, second = _entry(store_url, 300), _entry(store_url, 301)
    e = schema.entries
    _attack(
        store_url,
        update(e).where(e.c.seq == 300).values(sealed=second[0], leaf_hash=second[1]),
        update(e).where(e.c.seq == 301).values(sealed=first[0], leaf_hash=first[1]),
    )
    assert _tampering(store_url, keys).index == 300


def test_truncated_entries_are_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    _attack(store_url, delete(schema.entries).where(schema.entries.c.seq >= 500))
    assert _tampering(store_url, keys).index == 500


def test_truncated_store_with_rewound_state_is_caught_by_its_checkpoints(
    store_url: str, keys: FileKeyStore, notes: list[bytes]
) -> None:
    e, s = schema.entries, schema.state
    _attack(store_url, delete(e).where(e.c.seq >= 500), update(s).values(size=500))
    error = _tampering(store_url, keys)
    assert error.index == 500
    assert "covers 600 entries" in str(error)


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    with raw_database(url) as engine, engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in schema.metadata.sorted_tables
        }


def _restore(url: str, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    with raw_database(url) as engine, engine.begin() as connection:
        for table in schema.metadata.sorted_tables:
            connection.execute(delete(table))
            if snapshot[table.name]:
                connection.execute(insert(table), snapshot[table.name])


def test_rolled_back_store_is_caught_by_a_trusted_checkpoint(store_url: str, keys: FileKeyStore) -> None:
    async def scenario() -> bytes:
        log = AuditLog.open(open_store(store_url), keys, origin=ORIGIN)
        for n in range(300):
            await log.append(EntryKind.VERDICT, {"n": n})
        log.publish_checkpoint()
        await log.aclose()
        old_copy = _snapshot(store_url)
        log = AuditLog.open(open_store(store_url), keys, origin=ORIGIN)
        await asyncio.gather(*(log.append(EntryKind.VERDICT, {"n": n}) for n in range(300, 600)))
        kept_by_officer = log.publish_checkpoint()
        await log.aclose()
        _restore(store_url, old_copy)
        return kept_by_officer

    kept_by_officer = asyncio.run(scenario())
    assert fsck(store_url, keys).size == 300, "the old copy is consistent in itself"
    error = _tampering(store_url, keys, trusted_checkpoints=[kept_by_officer])
    assert "rolled back" in str(error)


def _forged_checkpoint(keys: FileKeyStore, size: int) -> bytes:
    """A checkpoint validly signed with the real log key, over a root of some other tree."""
    signer = NoteSigner(ORIGIN, keys.log_key().private_key)
    return sign_checkpoint(Checkpoint(ORIGIN, size, b"\x42" * 32), signer)


def test_forked_stored_checkpoint_is_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    _attack(store_url, insert(schema.checkpoints).values(size=600, note=_forged_checkpoint(keys, 600)))
    assert "fork" in str(_tampering(store_url, keys))


def test_forked_trusted_checkpoint_is_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    assert "fork" in str(_tampering(store_url, keys, trusted_checkpoints=[_forged_checkpoint(keys, 300)]))


def test_checkpoint_signed_by_a_wrong_key_is_caught(
    store_url: str, keys: FileKeyStore, notes: list[bytes]
) -> None:
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    c = schema.checkpoints
    with raw_database(store_url) as engine, engine.connect() as connection:
        latest = connection.execute(select(c.c.note).order_by(c.c.id.desc()).limit(1)).scalar_one()
    body = bytes(latest).split(b"\n\n")[0].decode() + "\n"
    forged = sign_checkpoint(Checkpoint.parse(body), impostor)
    _attack(store_url, insert(c).values(size=600, note=forged))
    assert "does not verify" in str(_tampering(store_url, keys))
    _attack(store_url, delete(c).where(c.c.note == forged))
    with pytest.raises(VerificationError):
        fsck(store_url, keys, trusted_checkpoints=[forged])


def test_checkpoint_by_an_earlier_log_key_verifies_with_its_vkey(
    store_url: str, keys: FileKeyStore, notes: list[bytes]
) -> None:
    earlier = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    c = schema.checkpoints
    body = notes[0].split(b"\n\n")[0].decode() + "\n"
    resigned = sign_checkpoint(Checkpoint.parse(body), earlier)
    _attack(store_url, update(c).where(c.c.size == 100).values(note=resigned))
    _tampering(store_url, keys)
    assert fsck(store_url, keys, vkeys=[earlier.verifier]).checkpoints == 3


def test_checkpoints_out_of_order_are_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    _attack(store_url, insert(schema.checkpoints).values(size=100, note=notes[0]))
    assert "goes back" in str(_tampering(store_url, keys))


@pytest.mark.parametrize(("level", "index", "first_leaf"), [(0, 0, 0), (0, 1, 256), (0, 2, 512), (1, 0, 0)])
def test_tampered_tile_is_caught(
    store_url: str, keys: FileKeyStore, notes: list[bytes], level: int, index: int, first_leaf: int
) -> None:
    t = schema.tiles
    where = (t.c.level == level, t.c.idx == index)
    with raw_database(store_url) as engine, engine.connect() as connection:
        data = bytes(connection.execute(select(t.c.data).where(*where)).scalar_one())
    _attack(store_url, update(t).where(*where).values(data=_flip(data, 40)))
    error = _tampering(store_url, keys)
    assert error.index == first_leaf


def test_extra_and_missing_tiles_are_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    t = schema.tiles
    _attack(store_url, insert(t).values(level=2, idx=0, data=b"\x00" * 32))
    assert "tiles at level 2" in str(_tampering(store_url, keys))
    _attack(store_url, delete(t).where(t.c.level == 2), delete(t).where(t.c.level == 0, t.c.idx == 1))
    assert _tampering(store_url, keys).index == 256


def test_tampered_tree_state_is_caught(store_url: str, keys: FileKeyStore, notes: list[bytes]) -> None:
    s = schema.state
    _attack(store_url, update(s).values(root=b"\x13" * 32))
    assert "tree state" in str(_tampering(store_url, keys))
    _attack(store_url, update(s).values(size=601))
    assert _tampering(store_url, keys).index == 600


def test_wrong_storage_key_is_refused(
    store_url: str, keys: FileKeyStore, notes: list[bytes], tmp_path: Any
) -> None:
    with pytest.raises(KeyStoreError):
        fsck(store_url, FileKeyStore(tmp_path / "other-keys"))
