"""Durable storage for the audit log: the :class:`LogStore` protocol and its SQL implementation."""

from audit_log.store.base import (
    Batch,
    CounterWrite,
    LogStore,
    OutboxRecord,
    StateMoved,
    StoredCheckpoint,
    StoredEntry,
    StoredState,
    StoreReader,
    TileWrite,
)
from audit_log.store.sql import SqlLogStore, open_store

__all__ = [
    "Batch",
    "CounterWrite",
    "LogStore",
    "OutboxRecord",
    "SqlLogStore",
    "StateMoved",
    "StoreReader",
    "StoredCheckpoint",
    "StoredEntry",
    "StoredState",
    "TileWrite",
    "open_store",
]
