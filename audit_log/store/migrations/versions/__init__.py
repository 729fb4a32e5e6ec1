"""Alembic revisions of the audit log store, oldest first."""
