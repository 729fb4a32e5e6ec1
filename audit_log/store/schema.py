"""The audit log's tables (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Only ciphertext, hashes and bookkeeping live here; entry plaintext never does. Migrations under
``migrations/`` create these tables; a test pins that the migrated schema matches this module and that
:data:`SCHEMA_REVISION` is the migrations' head.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
)

#: The Alembic head this code reads and writes; opening a store at another revision migrates it.
SCHEMA_REVISION = "0001"
VERSION_TABLE = "audit_log_alembic_version"

# SQLite only makes a rowid alias (a fast clustered key) of a column typed exactly INTEGER.
_Int64 = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

state = Table(
    "audit_state",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("origin", String(255), nullable=False),
    Column("storage_key_id", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("last_leaf", LargeBinary, nullable=False),
    Column("last_time", BigInteger, nullable=False),
    Column("outbox_acked", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="audit_state_single_row"),
)

entries = Table(
    "audit_entries",
    metadata,
    Column("seq", _Int64, primary_key=True, autoincrement=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
)

tiles = Table(
    "audit_tiles",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)

checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", _Int64, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False),
    Column("note", LargeBinary, nullable=False),
)

outbox = Table(
    "audit_outbox",
    metadata,
    Column("id", _Int64, primary_key=True, autoincrement=False),
    Column("topic", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("entry_index", BigInteger, nullable=False),
    Column("key", String(128), nullable=True),
    Index("audit_outbox_by_key", "topic", "key"),
)

counters = Table(
    "audit_counters",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
