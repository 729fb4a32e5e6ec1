"""veritee's verifiable audit log: RFC 9162 Merkle tree, C2SP checkpoints, sealed entries.

The bottom layer: it imports nothing else of veritee's.
"""

from audit_log.errors import (
    AuditLogError,
    FormatError,
    KeyStoreError,
    Pushback,
    StoreError,
    TamperError,
    VerificationError,
)
from audit_log.mode import Mode, signing_key_id

__all__ = [
    "AuditLogError",
    "FormatError",
    "KeyStoreError",
    "Mode",
    "Pushback",
    "StoreError",
    "TamperError",
    "VerificationError",
    "signing_key_id",
]
