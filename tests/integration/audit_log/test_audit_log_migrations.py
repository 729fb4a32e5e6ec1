"""The store schema: Alembic migrations ship in the package, reach the head the code expects, and
produce exactly the tables the code queries; bad store URLs are refused clearly."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from audit_store_support import raw_database

from audit_log import FormatError, StoreError, open_store
from audit_log.store import schema
from audit_log.store.sql import MIGRATIONS_DIR


def test_migrations_are_package_data() -> None:
    migrations = files("audit_log.store.migrations")
    for name in ("env.py", "script.py.mako"):
        assert migrations.joinpath(name).is_file()
    assert migrations.joinpath("versions").joinpath("0001_initial.py").is_file()


def test_code_expects_the_migration_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == schema.SCHEMA_REVISION


def test_migrated_schema_matches_the_tables_the_code_uses(store_url: str) -> None:
    open_store(store_url).close()
    with raw_database(store_url) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": schema.VERSION_TABLE})
        assert compare_metadata(context, schema.metadata) == []
        assert context.get_current_revision() == schema.SCHEMA_REVISION


def test_reopening_a_current_store_skips_migrations(store_url: str) -> None:
    open_store(store_url).close()
    open_store(store_url).close()
    with raw_database(store_url) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": schema.VERSION_TABLE})
        assert context.get_current_revision() == schema.SCHEMA_REVISION


def test_verifier_never_creates_or_migrates_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no audit log store"):
        open_store(f"sqlite:///{missing}", readonly=True)
    assert not missing.exists()
    raw = tmp_path / "unrelated.db"
    with raw_database(f"sqlite:///{raw}") as engine, engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with pytest.raises(StoreError, match="schema revision None"):
        open_store(f"sqlite:///{raw}", readonly=True)


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://host/db", "sqlite://", "sqlite:///:memory:", "postgresql+asyncpg://h/db"],
)
def test_unsupported_store_url_is_bad_input(url: str) -> None:
    with pytest.raises(FormatError):
        open_store(url)


def test_store_in_a_missing_directory_is_an_environment_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'no' / 'audit.db'}")
