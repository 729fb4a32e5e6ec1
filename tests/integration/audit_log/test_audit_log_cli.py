"""``veritee log verify``: exit 0 for an honest store, 1 for tampering, 2 for bad input, 3 for environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_store_support import ORIGIN, raw_database
from sqlalchemy import update
from typer.testing import CliRunner

from audit_log import AuditLog, EntryKind, FileKeyStore, open_store
from audit_log.store import schema
from reporting.cli import app

runner = CliRunner()


@pytest.fixture
def data_dir(store_url: str, keys: FileKeyStore, tmp_path: Path) -> Path:
    with AuditLog.open(open_store(store_url), keys, origin=ORIGIN) as log:
        for n in range(40):
            log.append_blocking(EntryKind.VERDICT, {"n": n})
        (tmp_path / "kept.checkpoint").write_bytes(log.publish_checkpoint())
    return tmp_path


def _verify(store_url: str, data_dir: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["log", "verify", "--data-dir", str(data_dir), "--db", store_url, *extra])
    return result.exit_code, " ".join(result.output.split())  # Undo rich's wrapping at 80 columns.


def test_honest_store_exits_zero(store_url: str, data_dir: Path) -> None:
    code, output = _verify(store_url, data_dir, "--trusted-checkpoint", str(data_dir / "kept.checkpoint"))
    assert code == 0, output
    assert "40 entries" in output
    assert "1 trusted checkpoints" in output


def test_tampered_entry_exits_one_and_names_the_index(store_url: str, data_dir: Path) -> None:
    e = schema.entries
    with raw_database(store_url) as engine, engine.begin() as connection:
        connection.execute(update(e).where(e.c.seq == 17).values(leaf_hash=b"\x00" * 32))
    code, output = _verify(store_url, data_dir)
    assert code == 1
    assert "first bad index 17" in output


def test_malformed_vkey_exits_two(store_url: str, data_dir: Path) -> None:
    code, output = _verify(store_url, data_dir, "--vkey", "not-a-vkey")
    assert code == 2, output


def test_missing_data_dir_exits_two(store_url: str, tmp_path: Path) -> None:
    code, _ = _verify(store_url, tmp_path / "nowhere")
    assert code == 2


def test_missing_keys_exit_three(store_url: str, data_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "empty-data-dir"
    elsewhere.mkdir()
    code, output = _verify(store_url, elsewhere)
    assert code == 3, output
    assert "key store error" in output
