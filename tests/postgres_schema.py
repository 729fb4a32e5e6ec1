"""The real PostgreSQL the tests use (127.0.0.1:5432, trust auth, database ``test``), one schema per test.

``temporary_schema(prefix)`` creates a fresh schema, yields a store URL that selects it through
``search_path``, and drops it afterwards. A PostgreSQL that is down fails the test: start it with
``pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_URL = os.environ.get("VERITEE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def temporary_schema(prefix: str) -> Iterator[str]:
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {type(exc.orig).__name__}", pytrace=False)
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
