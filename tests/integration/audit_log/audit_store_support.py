"""Helpers shared by the audit log storage tests (a module, so test files can import it by name)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine

from audit_log import FileKeyStore, FsckReport, open_store, verify_store

ORIGIN = "veritee.test/log"


@contextmanager
def raw_database(url: str) -> Iterator[Engine]:
    """A plain engine on the store's database, for tests that play the attacker on the host."""
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def fsck(url: str, keys: FileKeyStore, **options: Any) -> FsckReport:
    """Verify the whole store at ``url`` offline, as ``veritee log verify`` does."""
    store = open_store(url, readonly=True)
    try:
        return verify_store(store, keys, **options)
    finally:
        store.close()
