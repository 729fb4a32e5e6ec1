"""Where a gateway keeps its audit log inside its data directory, so every tool finds the same files.

``DATA_DIR/audit.db`` is the default SQLite store and ``DATA_DIR/keys/`` the :class:`FileKeyStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataDir:
    path: Path

    @property
    def store_url(self) -> str:
        """The default store: SQLite in the data directory."""
        return f"sqlite:///{self.path.resolve() / 'audit.db'}"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"
