"""The audit log's error tree.

Bad data is kept apart from a broken environment, so that adapters can map each to the right
answer (HTTP 4xx vs 503, CLI exit 1/2 vs 3)::

    AuditLogError
    ├── FormatError          bytes that do not parse: note, checkpoint, vkey, entry, proof, tile path, JSON
    │   └── NotFound         a well-formed request for an index, size or tile the log does not have
    ├── VerificationError    well-formed but false: signature, proof, hash chain, consistency
    │   └── TamperError      a store contradicts itself; ``index`` names the first bad entry
    ├── StoreError           the database or filesystem failed (environment)
    │   ├── Pushback         the append queue is full; retry later
    │   └── WriterConflict   another process already holds the store's writer lock
    └── KeyStoreError        a key is missing, unreadable or too widely readable

Messages name indices, sizes, hashes and key ids, never entry contents.
"""

from __future__ import annotations


class AuditLogError(Exception):
    """Root of every error raised by ``audit_log``."""


class FormatError(AuditLogError, ValueError):
    """Input bytes are malformed for the format that was asked for."""


class NotFound(FormatError):
    """A well-formed request for something the log does not hold (yet): an index, a size, a tile."""


class VerificationError(AuditLogError):
    """Well-formed input that does not verify."""


class TamperError(VerificationError):
    """A store's contents contradict its own hashes, chain, tree or checkpoints."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message if index is None else f"{message} (first bad index {index})")
        self.index = index


class StoreError(AuditLogError):
    """The storage backend failed; the operation may be retried once it is healthy."""


class Pushback(StoreError):
    """Too many appends are waiting; the caller should retry later (HTTP 503 + Retry-After)."""


class WriterConflict(StoreError):
    """Another writer holds the store: only one process may append to a log."""


class KeyStoreError(AuditLogError):
    """A key could not be loaded or created safely."""
