"""Alembic migrations of the audit log store (run by :func:`audit_log.store.sql.open_store`)."""
