"""Where the audit log's two secrets come from: the AES-256 storage key and the Ed25519 log key.

:class:`KeyStore` is the seam: a TEE-sealed store can implement it later. :class:`FileKeyStore` keeps
raw keys in files inside the confidential VM (``storage.key``: 32 random bytes; ``log.key``: the 32-byte
Ed25519 seed; ``mode``: the attestation mode the keys belong to). Files are ``0600`` in a ``0700``
directory owned by the current user; anything more widely readable, of the wrong length, a symlink or
made for the other mode is refused with :class:`KeyStoreError`. Missing keys are generated once and
reported as ``newly_created`` so the gateway can write a ``key`` audit entry.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from audit_log.errors import KeyStoreError
from audit_log.mode import Mode, signing_key_id

KEY_SIZE = 32
STORAGE_KEY_FILE = "storage.key"
LOG_KEY_FILE = "log.key"
MODE_FILE = "mode"


@dataclass(frozen=True)
class LogKey:
    """The Ed25519 key that signs checkpoints and DSSE statements, with its provenance."""

    private_key: Ed25519PrivateKey = field(repr=False)
    mode: Mode
    created_at_ms: int
    newly_created: bool

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        """The DSSE key id: hex SHA-256 of the public key, ``sim:``-prefixed in simulated mode."""
        return signing_key_id(self.public_key, self.mode)


class KeyStore(Protocol):
    """Supplies the audit log's keys; implementations decide where and how they are kept."""

    @property
    def mode(self) -> Mode: ...

    def storage_key(self) -> bytes: ...

    def log_key(self) -> LogKey: ...


def _check_private(st: os.stat_result, path: Path, max_mode: int) -> None:
    if st.st_uid != os.getuid():
        raise KeyStoreError(f"{path} is not owned by the current user")
    if stat.S_IMODE(st.st_mode) & ~max_mode:
        raise KeyStoreError(
            f"{path} has mode {stat.S_IMODE(st.st_mode):04o}; it must be at most {max_mode:04o}"
        )


def _read_private_file(path: Path) -> tuple[bytes, int]:
    """Contents and modification time (ms) of a 0600 regular file, refusing symlinks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise KeyStoreError(f"cannot open {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyStoreError(f"{path} is not a regular file")
        _check_private(st, path, 0o600)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(KEY_SIZE + 1)
    finally:
        os.close(fd)
    return data, st.st_mtime_ns // 1_000_000


def _write_private_file(directory: Path, name: str, data: bytes) -> None:
    """Create ``name`` with ``data`` atomically: a 0600 temporary file, fsync, no-clobber link, fsync dir."""
    final, temporary = directory / name, directory / f".{name}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, final)
    except FileExistsError:
        raise KeyStoreError(f"{final} appeared while it was being created") from None
    finally:
        temporary.unlink()
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _new_storage_key() -> bytes:
    return os.urandom(KEY_SIZE)


def _new_log_seed() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


class FileKeyStore:
    """Keys in a private directory (simulated mode, or a confidential VM's encrypted disk)."""

    def __init__(self, directory: Path, mode: Mode = Mode.SIMULATED, *, create: bool = True) -> None:
        self.directory = Path(directory)
        self._mode = Mode(mode)
        try:
            self._prepare_directory(create)
            self._check_mode_file(create)
            self._storage_key, _, _ = self._load_or_create(STORAGE_KEY_FILE, create, _new_storage_key)
            log_seed, created_at, is_new = self._load_or_create(LOG_KEY_FILE, create, _new_log_seed)
        except OSError as exc:
            raise KeyStoreError(f"key directory {self.directory} is unusable: {exc.strerror}") from None
        self._log_key = LogKey(Ed25519PrivateKey.from_private_bytes(log_seed), self._mode, created_at, is_new)

    @classmethod
    def load(cls, directory: Path) -> FileKeyStore:
        """Open existing keys in the mode they were made for; never creates anything (for verifiers)."""
        data, _ = _read_private_file(Path(directory) / MODE_FILE)
        try:
            mode = Mode(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise KeyStoreError(f"{directory / MODE_FILE} names no known mode") from None
        return cls(directory, mode, create=False)

    @property
    def mode(self) -> Mode:
        return self._mode

    def storage_key(self) -> bytes:
        return self._storage_key

    def log_key(self) -> LogKey:
        return self._log_key

    def _prepare_directory(self, create: bool) -> None:
        if create and not self.directory.exists():
            self.directory.mkdir(mode=0o700, parents=True)
        st = os.stat(self.directory, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            raise KeyStoreError(f"{self.directory} is not a directory")
        _check_private(st, self.directory, 0o700)

    def _check_mode_file(self, create: bool) -> None:
        path = self.directory / MODE_FILE
        if not path.exists() and create:
            if any((self.directory / name).exists() for name in (STORAGE_KEY_FILE, LOG_KEY_FILE)):
                raise KeyStoreError(f"{self.directory} holds keys but no {MODE_FILE} file")
            _write_private_file(self.directory, MODE_FILE, f"{self._mode.value}\n".encode())
        data, _ = _read_private_file(path)
        if data != f"{self._mode.value}\n".encode():
            raise KeyStoreError(
                f"keys in {self.directory} were not made for {self._mode.value} mode; "
                "keys are never shared between simulated and production"
            )

    def _load_or_create(
        self, name: str, create: bool, generate: Callable[[], bytes]
    ) -> tuple[bytes, int, bool]:
        path = self.directory / name
        is_new = False
        if create and not os.path.lexists(path):
            _write_private_file(self.directory, name, generate())
            is_new = True
        data, created_at = _read_private_file(path)
        if len(data) != KEY_SIZE:
            raise KeyStoreError(f"{path} must hold exactly {KEY_SIZE} bytes")
        return data, created_at, is_new
