"""The storage seam of the audit log: plain records of bytes, and the protocol a backend implements.

The store holds bytes at coordinates and never interprets them: formats (tiles, notes, sealed entries)
belong to the pure modules above it. A :class:`Batch` is everything one group commit writes, in one
transaction, and its constructor checks that it is internally consistent.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from audit_log.errors import FormatError, StoreError
from audit_log.merkle import HASH_SIZE
from audit_log.tiles import TileCoord


class StateMoved(StoreError):
    """The stored tree state is not the one this writer last committed: the store changed under it."""


@dataclass(frozen=True)
class StoredState:
    """The single tree-state row: enough to resume appending without reading the log."""

    origin: str
    storage_key_id: bytes
    size: int
    root: bytes
    last_leaf: bytes
    last_time: int

    def __post_init__(self) -> None:
        if self.size < 0 or self.last_time < 0:
            raise FormatError("stored tree state has a negative field")
        if len(self.root) != HASH_SIZE or len(self.last_leaf) != HASH_SIZE:
            raise FormatError("stored tree state hashes must be 32 bytes")


@dataclass(frozen=True)
class StoredEntry:
    seq: int
    sealed: bytes = field(repr=False)
    leaf_hash: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    size: int
    note: bytes


@dataclass(frozen=True)
class OutboxRecord:
    """A row for the relay: an already sealed or signed object, tied to the entry that recorded it."""

    id: int
    topic: str
    created_at: int
    payload: bytes = field(repr=False)
    entry_index: int
    key: str | None = None


@dataclass(frozen=True)
class TileWrite:
    """A tile to store; ``existed`` says whether a narrower version of it is already stored."""

    coord: TileCoord
    data: bytes = field(repr=False)
    existed: bool


@dataclass(frozen=True)
class CounterWrite:
    name: str
    value: int
    existed: bool


@dataclass(frozen=True)
class Batch:
    """One group commit: entries, tiles, the new tree state, outbox rows and counters."""

    old_size: int
    entries: tuple[StoredEntry, ...]
    tiles: tuple[TileWrite, ...]
    state: StoredState
    outbox: tuple[OutboxRecord, ...] = ()
    counters: tuple[CounterWrite, ...] = ()

    def __post_init__(self) -> None:
        if not self.entries:
            raise FormatError("a batch appends at least one entry")
        if [e.seq for e in self.entries] != list(range(self.old_size, self.old_size + len(self.entries))):
            raise FormatError("batch entries must continue the log without gaps")
        if self.state.size != self.old_size + len(self.entries):
            raise FormatError("batch tree state does not match its entries")


class StoreReader(Protocol):
    """Reads within one consistent snapshot of the store."""

    def state(self) -> StoredState | None: ...

    def tile(self, level: int, index: int) -> bytes | None: ...

    def tile_counts(self) -> dict[int, int]: ...

    def entry(self, seq: int) -> StoredEntry | None: ...

    def entries(self) -> Generator[StoredEntry, None, None]:
        """Every stored entry in ``seq`` order, streamed; close the generator if you stop early."""
        ...

    def checkpoints(self) -> Generator[StoredCheckpoint, None, None]:
        """Every stored checkpoint in publication order, streamed; close it if you stop early."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    def outbox_after(self, cursor: int, limit: int) -> list[OutboxRecord]: ...

    def outbox_by_key(self, topic: str, key: str) -> OutboxRecord | None:
        """The newest row of ``topic`` stored under ``key``."""
        ...

    def last_outbox_id(self) -> int: ...

    def outbox_acked(self) -> int: ...

    def counters(self) -> dict[str, int]: ...


class LogStore(Protocol):
    """A durable home for one log. Writes are only allowed to the process holding the writer lock."""

    @property
    def description(self) -> str:
        """Where the store is, with any password hidden (for messages)."""
        ...

    def reading(self) -> AbstractContextManager[StoreReader]: ...

    def read_tile(self, level: int, index: int) -> bytes | None:
        """One tile outside a snapshot: cheaper, and enough for full tiles, which never change."""
        ...

    def initialize(self, state: StoredState) -> None: ...

    def commit(self, batch: Batch) -> None:
        """Write ``batch`` in one durable transaction; raise :class:`StateMoved` if the state row is not
        at ``batch.old_size`` and :class:`StoreError` for any other failure (then nothing was written)."""
        ...

    def add_checkpoint(self, size: int, note: bytes) -> None: ...

    def set_outbox_acked(self, cursor: int) -> None: ...

    def close(self) -> None: ...
