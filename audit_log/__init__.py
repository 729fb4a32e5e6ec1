"""veritee's verifiable audit log: RFC 9162 Merkle tree, C2SP checkpoints, sealed entries.

The bottom layer: it imports nothing else of veritee's.
"""

from audit_log.checkpoint import Checkpoint, CheckpointPolicy
from audit_log.entry import AuditEntry, EntryKind
from audit_log.errors import (
    AuditLogError,
    FormatError,
    KeyStoreError,
    NotFound,
    Pushback,
    StoreError,
    TamperError,
    VerificationError,
    WriterConflict,
)
from audit_log.formats.note import NoteVerifier, parse_vkey
from audit_log.fsck import FsckReport, verify_store
from audit_log.keystore import FileKeyStore, KeyStore, LogKey
from audit_log.layout import DataDir
from audit_log.log import AppendResult, AuditLog, OutboxItem
from audit_log.merkle import verify_consistency, verify_inclusion
from audit_log.mode import Mode, signing_key_id
from audit_log.receipt import Receipt, verify_receipt
from audit_log.store import LogStore, OutboxRecord, open_store
from audit_log.tiles import TileCoord, parse_tile_path

__all__ = [
    "AppendResult",
    "AuditEntry",
    "AuditLog",
    "AuditLogError",
    "Checkpoint",
    "CheckpointPolicy",
    "DataDir",
    "EntryKind",
    "FileKeyStore",
    "FormatError",
    "FsckReport",
    "KeyStore",
    "KeyStoreError",
    "LogKey",
    "LogStore",
    "Mode",
    "NotFound",
    "NoteVerifier",
    "OutboxItem",
    "OutboxRecord",
    "Pushback",
    "Receipt",
    "StoreError",
    "TamperError",
    "TileCoord",
    "VerificationError",
    "WriterConflict",
    "open_store",
    "parse_tile_path",
    "parse_vkey",
    "signing_key_id",
    "verify_consistency",
    "verify_inclusion",
    "verify_receipt",
    "verify_store",
]
