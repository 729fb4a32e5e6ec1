"""Per-entry receipts in the ``c2sp.org/tlog-proof@v1`` format.

https://c2sp.org/tlog-proof

A receipt is ``c2sp.org/tlog-proof@v1``, an optional ``extra <base64>`` line, ``index <n>``, the
inclusion proof hashes (one base64 line each, leaf sibling first), a blank line, then the signed
checkpoint verbatim. The extra data is unauthenticated: veritee puts the entry bytes there so the
holder can recompute the leaf hash, and :func:`verify_receipt` only returns them after the proof
and the checkpoint signature check out.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from audit_log.checkpoint import Checkpoint, CheckpointPolicy, parse_decimal
from audit_log.errors import FormatError
from audit_log.formats.note import b64decode_strict
from audit_log.merkle import HASH_SIZE, leaf_hash, verify_inclusion

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64


@dataclass(frozen=True)
class Receipt:
    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: bytes
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if self.index < 0:
            raise FormatError("receipt index must not be negative")
        if len(self.proof) > MAX_PROOF_HASHES or any(len(h) != HASH_SIZE for h in self.proof):
            raise FormatError("receipt proof must be at most 64 hashes of 32 bytes")

    def to_bytes(self) -> bytes:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.proof)
        return ("\n".join(lines) + "\n\n").encode() + self.checkpoint_note

    @classmethod
    def parse(cls, data: bytes) -> Receipt:
        head, sep, note = data.partition(b"\n\n")
        if not sep:
            raise FormatError("receipt has no blank line before its checkpoint")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError as exc:
            raise FormatError("receipt header is not ASCII") from exc
        if lines[0] != HEADER:
            raise FormatError(f"receipt must start with {HEADER}")
        position, extra = 1, None
        if len(lines) > 1 and lines[1].startswith("extra "):
            extra = b64decode_strict(lines[1][len("extra ") :], "receipt extra data")
            position = 2
        if len(lines) <= position or not lines[position].startswith("index "):
            raise FormatError("receipt needs an index line")
        index = parse_decimal(lines[position][len("index ") :], "receipt index")
        proof = tuple(b64decode_strict(line, "receipt proof hash") for line in lines[position + 1 :])
        return cls(index, proof, note, extra)


def verify_receipt(receipt: Receipt, entry: bytes, policy: CheckpointPolicy) -> Checkpoint:
    """Check that ``entry`` is the leaf at ``receipt.index`` under a checkpoint ``policy`` accepts.

    Steps: (1) the checkpoint note verifies under the log's keys and origin (c2sp.org/tlog-checkpoint);
    (2) the inclusion proof from SHA-256(0x00 ‖ entry) reaches its root (RFC 9162 §2.1.3.2).
    Returns the verified checkpoint; raises ``VerificationError`` otherwise.
    """
    checkpoint = policy.verify(receipt.checkpoint_note)
    verify_inclusion(receipt.index, checkpoint.size, leaf_hash(entry), receipt.proof, checkpoint.root)
    return checkpoint
