"""Alembic environment: migrates the connection that :func:`audit_log.store.sql.open_store` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from audit_log.store.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
assert isinstance(connection, Connection), "the audit log runs its migrations on an open connection"
context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
