"""Fixtures for audit log storage tests: the same tests on SQLite and on the real PostgreSQL.

Each PostgreSQL test gets a fresh schema in database ``test`` (127.0.0.1:5432, trust auth), selected
through ``search_path`` in the store URL and dropped afterwards. A PostgreSQL that is down fails the
run: start it with ``pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from audit_store_support import ORIGIN
from postgres_schema import temporary_schema

from audit_log import AuditLog, FileKeyStore, open_store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    with temporary_schema("audit_test") as url:
        yield url


@pytest.fixture
def keys(tmp_path: Path) -> FileKeyStore:
    return FileKeyStore(tmp_path / "keys")


@pytest.fixture
def open_log(store_url: str, keys: FileKeyStore) -> Iterator[Callable[..., AuditLog]]:
    """Opens the log at ``store_url``; every log still open at the end of the test is closed."""
    opened: list[AuditLog] = []

    def _open(**options: object) -> AuditLog:
        log = AuditLog.open(open_store(store_url), keys, origin=ORIGIN, **options)  # type: ignore[arg-type]
        opened.append(log)
        return log

    yield _open
    for log in opened:
        log.close()
