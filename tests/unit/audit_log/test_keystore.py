"""FileKeyStore: private files only, exact lengths, and never a simulated key reused in production."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log.errors import KeyStoreError
from audit_log.keystore import LOG_KEY_FILE, MODE_FILE, STORAGE_KEY_FILE, FileKeyStore
from audit_log.mode import Mode


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_first_open_creates_private_keys_and_reports_a_new_log_key(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    keys = FileKeyStore(directory)
    assert _mode(directory) == 0o700
    for name in (STORAGE_KEY_FILE, LOG_KEY_FILE, MODE_FILE):
        assert _mode(directory / name) == 0o600
    assert len(keys.storage_key()) == 32
    assert keys.log_key().newly_created
    assert keys.log_key().key_id.startswith("sim:")
    assert not list(directory.glob(".*.tmp"))


def test_reopening_returns_the_same_keys_not_new_ones(tmp_path: Path) -> None:
    first = FileKeyStore(tmp_path / "keys")
    second = FileKeyStore(tmp_path / "keys")
    assert second.storage_key() == first.storage_key()
    raw = second.log_key().public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert raw == first.log_key().public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert not second.log_key().newly_created
    assert second.log_key().created_at_ms == first.log_key().created_at_ms


def test_load_uses_the_recorded_mode_and_creates_nothing(tmp_path: Path) -> None:
    FileKeyStore(tmp_path / "keys", Mode.PRODUCTION)
    loaded = FileKeyStore.load(tmp_path / "keys")
    assert loaded.mode is Mode.PRODUCTION
    assert not loaded.log_key().key_id.startswith("sim:")
    with pytest.raises(KeyStoreError):
        FileKeyStore.load(tmp_path / "absent")
    assert not (tmp_path / "absent").exists()


def test_simulated_keys_are_refused_in_production(tmp_path: Path) -> None:
    FileKeyStore(tmp_path / "keys", Mode.SIMULATED)
    with pytest.raises(KeyStoreError, match="simulated and production"):
        FileKeyStore(tmp_path / "keys", Mode.PRODUCTION)


@pytest.mark.parametrize("name", [STORAGE_KEY_FILE, LOG_KEY_FILE])
def test_group_readable_key_is_refused(tmp_path: Path, name: str) -> None:
    FileKeyStore(tmp_path / "keys")
    os.chmod(tmp_path / "keys" / name, 0o640)
    with pytest.raises(KeyStoreError, match="mode 0640"):
        FileKeyStore(tmp_path / "keys")


def test_world_readable_directory_is_refused(tmp_path: Path) -> None:
    FileKeyStore(tmp_path / "keys")
    os.chmod(tmp_path / "keys", 0o755)
    with pytest.raises(KeyStoreError, match="mode 0755"):
        FileKeyStore(tmp_path / "keys")


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_key_of_wrong_length_is_refused(tmp_path: Path, length: int) -> None:
    FileKeyStore(tmp_path / "keys")
    (tmp_path / "keys" / STORAGE_KEY_FILE).write_bytes(b"k" * length)
    with pytest.raises(KeyStoreError, match="exactly 32 bytes"):
        FileKeyStore(tmp_path / "keys")


def test_symlinked_key_is_refused(tmp_path: Path) -> None:
    FileKeyStore(tmp_path / "keys")
    target = tmp_path / "elsewhere.key"
    target.write_bytes(os.urandom(32))
    target.chmod(0o600)
    (tmp_path / "keys" / LOG_KEY_FILE).unlink()
    (tmp_path / "keys" / LOG_KEY_FILE).symlink_to(target)
    with pytest.raises(KeyStoreError):
        FileKeyStore(tmp_path / "keys")


def test_keys_without_a_mode_file_are_refused(tmp_path: Path) -> None:
    FileKeyStore(tmp_path / "keys")
    (tmp_path / "keys" / MODE_FILE).unlink()
    with pytest.raises(KeyStoreError, match="no mode file"):
        FileKeyStore(tmp_path / "keys")


def test_missing_log_key_is_created_and_reported_as_new(tmp_path: Path) -> None:
    first = FileKeyStore(tmp_path / "keys")
    (tmp_path / "keys" / LOG_KEY_FILE).unlink()
    rotated = FileKeyStore(tmp_path / "keys")
    assert rotated.log_key().newly_created
    assert rotated.log_key().key_id != first.log_key().key_id
    assert rotated.storage_key() == first.storage_key()
