"""The SQL log store: SQLAlchemy 2 Core on SQLite (WAL) or PostgreSQL (psycopg 3), one code path.

Durability: SQLite runs in WAL mode with ``synchronous=FULL`` (every commit fsyncs the WAL); PostgreSQL
runs with ``synchronous_commit=on`` forced per connection. A commit that returned is on disk.

One writer: a writable store takes a writer lock for its lifetime (an ``flock`` beside the SQLite file;
a session advisory lock on PostgreSQL, keyed by database and schema) and refuses a second writer with
:class:`WriterConflict`. Every commit also checks that the tree-state row is still at the size this
writer last wrote, so a store that changed underneath is caught even if a lock was lost.

Reads run in their own transactions on pooled connections (REPEATABLE READ on PostgreSQL; a deferred
transaction on SQLite, which is a snapshot in WAL mode), so verification sees one consistent store.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Row, bindparam, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from audit_log.errors import FormatError, StoreError, WriterConflict
from audit_log.store import schema
from audit_log.store.base import (
    Batch,
    OutboxRecord,
    StateMoved,
    StoredCheckpoint,
    StoredEntry,
    StoredState,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_STREAM_CHUNK = 1000
_SQLITE_BUSY_TIMEOUT_MS = 10_000


# Every statement is built once: SQLAlchemy then reuses its compiled form instead of rebuilding and
# re-keying an expression tree per call, which costs more than a small commit itself.
_state, _entries, _tiles = schema.state, schema.entries, schema.tiles
_SELECT_TILE = select(_tiles.c.data).where(
    _tiles.c.level == bindparam("level"), _tiles.c.idx == bindparam("idx")
)
_SELECT_ENTRY = select(_entries.c.sealed, _entries.c.leaf_hash).where(_entries.c.seq == bindparam("seq"))
_ADVANCE_STATE = (
    _state.update()
    .where(_state.c.id == 1, _state.c.size == bindparam("old_size"))
    .values(
        size=bindparam("new_size"),
        root=bindparam("new_root"),
        last_leaf=bindparam("new_last_leaf"),
        last_time=bindparam("new_last_time"),
    )
)
_ACK_OUTBOX = (
    _state.update()
    .where(_state.c.id == 1, _state.c.outbox_acked < bindparam("cursor"))
    .values(outbox_acked=bindparam("cursor"))
)
_INSERT_STATE = _state.insert()
_INSERT_ENTRIES = _entries.insert()
_INSERT_TILES = _tiles.insert()
_GROW_TILE = (
    _tiles.update()
    .where(_tiles.c.level == bindparam("b_level"), _tiles.c.idx == bindparam("b_idx"))
    .values(data=bindparam("b_data"))
)
_INSERT_OUTBOX = schema.outbox.insert()
_INSERT_COUNTERS = schema.counters.insert()
_SET_COUNTER = (
    schema.counters.update()
    .where(schema.counters.c.name == bindparam("b_name"))
    .values(value=bindparam("b_value"))
)
_INSERT_CHECKPOINT = schema.checkpoints.insert()


def _describe(exc: SQLAlchemyError, *, connecting: bool = False) -> str:
    """The driver's error class; SQLAlchemy's message would quote statement parameters.

    While connecting there are no parameters, and the driver's first line (say, "connection refused")
    is what an operator needs.
    """
    cause = getattr(exc, "orig", None) or exc
    if not connecting:
        return type(cause).__name__
    first_line = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise FormatError("store URL is not a database URL") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.get_driver_name() != "psycopg":
            raise FormatError("PostgreSQL stores use the psycopg (3) driver: postgresql+psycopg://")
    elif backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or parsed.query.get("mode") == "memory":
            raise FormatError("a SQLite store needs a file path (sqlite:///path/audit.db)")
    else:
        raise FormatError(f"unsupported store backend {backend!r}; use sqlite or postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, so BEGIN is emitted explicitly below
        # and a read-only transaction is a real snapshot (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN")

    return engine


def _postgresql_engine(url: URL) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # A server configured with synchronous_commit=off would acknowledge commits before they are
        # on disk; the audit log's promise depends on it, so it is forced for every session.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO on")
        dbapi_connection.commit()

    return engine


class _FileLock:
    """An exclusive ``flock`` held for the life of a SQLite writer; released by the kernel on death."""

    def __init__(self, database: Path) -> None:
        self._fd = os.open(database.with_name(database.name + "-writer.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise WriterConflict(f"another process is writing to {database}") from None

    def release(self) -> None:
        os.close(self._fd)


def _advisory_lock_key(connection: Connection) -> int:
    database, schema_name = connection.execute(text("SELECT current_database(), current_schema()")).one()
    digest = hashlib.sha256(f"veritee/audit-log-writer\n{database}\n{schema_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _SqlReader:
    """A :class:`~audit_log.store.base.StoreReader` over one connection inside one transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def state(self) -> StoredState | None:
        row = self._conn.execute(select(schema.state).where(schema.state.c.id == 1)).one_or_none()
        if row is None:
            return None
        return StoredState(
            row.origin,
            bytes(row.storage_key_id),
            row.size,
            bytes(row.root),
            bytes(row.last_leaf),
            row.last_time,
        )

    def outbox_acked(self) -> int:
        s = schema.state
        return int(self._conn.execute(select(s.c.outbox_acked).where(s.c.id == 1)).scalar() or 0)

    def tile(self, level: int, index: int) -> bytes | None:
        data = self._conn.execute(_SELECT_TILE, {"level": level, "idx": index}).scalar()
        return None if data is None else bytes(data)

    def tile_counts(self) -> dict[int, int]:
        t = schema.tiles
        rows = self._conn.execute(select(t.c.level, func.count()).group_by(t.c.level))
        return {level: count for level, count in rows}

    def entry(self, seq: int) -> StoredEntry | None:
        row = self._conn.execute(_SELECT_ENTRY, {"seq": seq}).one_or_none()
        return None if row is None else StoredEntry(seq, bytes(row.sealed), bytes(row.leaf_hash))

    def entries(self) -> Generator[StoredEntry, None, None]:
        e = schema.entries
        query = select(e.c.seq, e.c.sealed, e.c.leaf_hash).order_by(e.c.seq)
        with self._conn.execution_options(yield_per=_STREAM_CHUNK).execute(query) as result:
            for seq, sealed, leaf in result:
                yield StoredEntry(seq, bytes(sealed), bytes(leaf))

    def checkpoints(self) -> Generator[StoredCheckpoint, None, None]:
        c = schema.checkpoints
        query = select(c.c.id, c.c.size, c.c.note).order_by(c.c.id)
        with self._conn.execution_options(yield_per=_STREAM_CHUNK).execute(query) as result:
            for checkpoint_id, size, note in result:
                yield StoredCheckpoint(checkpoint_id, size, bytes(note))

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        c = schema.checkpoints
        row = self._conn.execute(
            select(c.c.id, c.c.size, c.c.note).order_by(c.c.id.desc()).limit(1)
        ).one_or_none()
        return None if row is None else StoredCheckpoint(row.id, row.size, bytes(row.note))

    def outbox_after(self, cursor: int, limit: int) -> list[OutboxRecord]:
        o = schema.outbox
        rows = self._conn.execute(select(o).where(o.c.id > cursor).order_by(o.c.id).limit(limit))
        return [_outbox_record(row) for row in rows]

    def outbox_by_key(self, topic: str, key: str) -> OutboxRecord | None:
        o = schema.outbox
        row = self._conn.execute(
            select(o).where(o.c.topic == topic, o.c.key == key).order_by(o.c.id.desc()).limit(1)
        ).one_or_none()
        return None if row is None else _outbox_record(row)

    def last_outbox_id(self) -> int:
        return int(self._conn.execute(select(func.coalesce(func.max(schema.outbox.c.id), 0))).scalar_one())

    def counters(self) -> dict[str, int]:
        return {name: value for name, value in self._conn.execute(select(schema.counters))}


def _outbox_record(row: Row[Any]) -> OutboxRecord:
    return OutboxRecord(row.id, row.topic, row.created_at, bytes(row.payload), row.entry_index, row.key)


class SqlLogStore:
    """A :class:`~audit_log.store.base.LogStore` on SQLAlchemy. Build it with :func:`open_store`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Full-tile reads need no snapshot: they share one autocommit connection, kept open because
        # checking a connection out of the pool costs more than the read itself.
        self._tile_lock = threading.Lock()
        self._tile_connection: Connection | None = None
        self._write_lock = threading.Lock()
        self._writer: Connection | None = None
        self._file_lock: _FileLock | None = None
        self._closed = False

    @property
    def description(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def _acquire_writer(self) -> None:
        url = self._engine.url
        if url.get_backend_name() == "sqlite":
            assert url.database is not None
            self._file_lock = _FileLock(Path(url.database))
        self._writer = self._engine.connect()
        if url.get_backend_name() == "postgresql":
            key = _advisory_lock_key(self._writer)
            locked = self._writer.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            self._writer.commit()
            if not locked:
                raise WriterConflict(f"another process is writing to {self.description}")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.description} is closed")

    @contextmanager
    def reading(self) -> Iterator[_SqlReader]:
        self._check_open()
        try:
            with self._engine.connect() as connection:
                if self.dialect == "postgresql":
                    connection = connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    yield _SqlReader(connection)
        except SQLAlchemyError as exc:
            raise StoreError(f"reading {self.description} failed: {_describe(exc)}") from exc

    def read_tile(self, level: int, index: int) -> bytes | None:
        """One stored tile, read outside any transaction (a full tile never changes once written)."""
        with self._tile_lock:
            self._check_open()
            try:
                if self._tile_connection is None:
                    self._tile_connection = self._engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT"
                    )
                return _SqlReader(self._tile_connection).tile(level, index)
            except SQLAlchemyError as exc:
                self._drop_tile_connection()  # The next read starts on a fresh connection.
                raise StoreError(f"reading {self.description} failed: {_describe(exc)}") from exc

    def _drop_tile_connection(self) -> None:
        if self._tile_connection is not None:
            self._tile_connection.close()
            self._tile_connection = None

    @contextmanager
    def _writing(self, what: str) -> Iterator[Connection]:
        if self._writer is None:
            raise StoreError(f"{self.description} is open read-only or closed")
        with self._write_lock:
            try:
                with self._writer.begin():
                    yield self._writer
            except SQLAlchemyError as exc:
                raise StoreError(f"{what} in {self.description} failed: {_describe(exc)}") from exc

    def initialize(self, state: StoredState) -> None:
        with self._writing("creating the tree state") as conn:
            conn.execute(
                _INSERT_STATE,
                {
                    "id": 1,
                    "origin": state.origin,
                    "storage_key_id": state.storage_key_id,
                    "size": state.size,
                    "root": state.root,
                    "last_leaf": state.last_leaf,
                    "last_time": state.last_time,
                    "outbox_acked": 0,
                },
            )

    def commit(self, batch: Batch) -> None:
        first, last = batch.old_size, batch.state.size - 1
        with self._writing(f"committing entries {first}..{last}") as conn:
            new = batch.state
            moved = conn.execute(
                _ADVANCE_STATE,
                {
                    "old_size": batch.old_size,
                    "new_size": new.size,
                    "new_root": new.root,
                    "new_last_leaf": new.last_leaf,
                    "new_last_time": new.last_time,
                },
            )
            if moved.rowcount != 1:
                raise StateMoved(
                    f"the tree state in {self.description} is no longer at size {batch.old_size}"
                )
            conn.execute(
                _INSERT_ENTRIES,
                [{"seq": e.seq, "sealed": e.sealed, "leaf_hash": e.leaf_hash} for e in batch.entries],
            )
            self._write_tiles(conn, batch)
            if batch.outbox:
                conn.execute(
                    _INSERT_OUTBOX,
                    [
                        {
                            "id": o.id,
                            "topic": o.topic,
                            "created_at": o.created_at,
                            "payload": o.payload,
                            "entry_index": o.entry_index,
                            "key": o.key,
                        }
                        for o in batch.outbox
                    ],
                )
            self._write_counters(conn, batch)

    @staticmethod
    def _write_tiles(conn: Connection, batch: Batch) -> None:
        new = [
            {"level": w.coord.level, "idx": w.coord.index, "data": w.data}
            for w in batch.tiles
            if not w.existed
        ]
        grown = [
            {"b_level": w.coord.level, "b_idx": w.coord.index, "b_data": w.data}
            for w in batch.tiles
            if w.existed
        ]
        if new:
            conn.execute(_INSERT_TILES, new)
        if grown:
            conn.execute(_GROW_TILE, grown)

    @staticmethod
    def _write_counters(conn: Connection, batch: Batch) -> None:
        new = [{"name": w.name, "value": w.value} for w in batch.counters if not w.existed]
        changed = [{"b_name": w.name, "b_value": w.value} for w in batch.counters if w.existed]
        if new:
            conn.execute(_INSERT_COUNTERS, new)
        if changed:
            conn.execute(_SET_COUNTER, changed)

    def add_checkpoint(self, size: int, note: bytes) -> None:
        with self._writing(f"storing the checkpoint at size {size}") as conn:
            conn.execute(_INSERT_CHECKPOINT, {"size": size, "note": note})

    def set_outbox_acked(self, cursor: int) -> None:
        with self._writing("acknowledging the outbox") as conn:
            conn.execute(_ACK_OUTBOX, {"cursor": cursor})

    def close(self) -> None:
        with self._tile_lock:
            self._closed = True
            self._drop_tile_connection()
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            # Disposing closes every pooled session, which also ends a PostgreSQL advisory lock.
            self._engine.dispose()
            if self._file_lock is not None:
                self._file_lock.release()
                self._file_lock = None


def _schema_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table(schema.VERSION_TABLE):
            return None
        table = text(f"SELECT version_num FROM {schema.VERSION_TABLE}")  # noqa: S608 (a constant name)
        return connection.execute(table).scalar()


def _migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


def open_store(url: str, *, readonly: bool = False) -> SqlLogStore:
    """Open the store at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    A writable store takes the writer lock (:class:`WriterConflict` if another process holds it) and
    runs the Alembic migrations up to :data:`~audit_log.store.schema.SCHEMA_REVISION`. A read-only store
    (for offline verification) takes no lock, changes nothing, and requires an existing, current schema.
    """
    parsed = _parse_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        assert parsed.database is not None
        path = Path(parsed.database)
        if readonly and not path.is_file():
            raise StoreError(f"no audit log store at {path}")
        if not path.parent.is_dir():
            raise StoreError(f"directory {path.parent} does not exist")
    engine = _sqlite_engine(parsed) if backend == "sqlite" else _postgresql_engine(parsed)
    store = SqlLogStore(engine)
    try:
        if not readonly:
            store._acquire_writer()
        revision = _schema_revision(engine)
        if revision != schema.SCHEMA_REVISION:
            if readonly:
                raise StoreError(
                    f"{store.description} has schema revision {revision}, expected {schema.SCHEMA_REVISION}"
                )
            _migrate(engine)
    except SQLAlchemyError as exc:
        store.close()
        raise StoreError(f"opening {store.description} failed: {_describe(exc, connecting=True)}") from exc
    except BaseException:
        store.close()
        raise
    return store
