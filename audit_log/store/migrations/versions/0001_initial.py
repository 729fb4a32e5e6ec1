"""Initial audit log schema: tree state, sealed entries, tiles, checkpoints, outbox, counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Int64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_state",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("storage_key_id", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("last_leaf", sa.LargeBinary, nullable=False),
        sa.Column("last_time", sa.BigInteger, nullable=False),
        sa.Column("outbox_acked", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="audit_state_single_row"),
    )
    op.create_table(
        "audit_entries",
        sa.Column("seq", _Int64, primary_key=True, autoincrement=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_tiles",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", _Int64, primary_key=True, autoincrement=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("note", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_outbox",
        sa.Column("id", _Int64, primary_key=True, autoincrement=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("entry_index", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(128), nullable=True),
    )
    op.create_index("audit_outbox_by_key", "audit_outbox", ["topic", "key"])
    op.create_table(
        "audit_counters",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "audit_counters",
        "audit_outbox",
        "audit_checkpoints",
        "audit_tiles",
        "audit_entries",
        "audit_state",
    ):
        op.drop_table(table)
