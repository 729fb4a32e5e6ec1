"""Audit entries: the exact bytes that become Merkle leaves, and the hash chain that links them.

An entry is the RFC 8785 (JCS) canonical JSON of ``{v, seq, time, kind, prev, body}``
(https://www.rfc-editor.org/rfc/rfc8785); its leaf hash is SHA-256(0x00 ‖ entry) as in RFC 9162 §2.1.
``seq`` is the leaf index, ``time`` integer milliseconds since the Unix epoch (never decreasing),
``prev`` the lowercase hex leaf hash of entry ``seq - 1`` (64 zeros for entry 0), ``body`` a JSON object
chosen by the caller. docs/formats.md is the byte-exact contract.

Verifiers hash the bytes they received: :meth:`AuditEntry.parse` validates the shape of those bytes but
never re-encodes them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from audit_log.errors import FormatError, TamperError
from audit_log.formats import jcs
from audit_log.merkle import HASH_SIZE

ENTRY_VERSION = 1
#: ``prev`` of entry 0: no entry precedes it, so it links to 32 zero bytes.
GENESIS_PREV = bytes(HASH_SIZE)
#: Bodies hold hashes, ids, categories and numbers; anything bigger is a caller bug.
MAX_BODY_BYTES = 64 * 1024
_ENTRY_KEYS = frozenset({"v", "seq", "time", "kind", "prev", "body"})


class EntryKind(enum.StrEnum):
    STARTUP = "startup"
    POLICY = "policy"
    KEY = "key"
    VERDICT = "verdict"
    DISCLOSURE = "disclosure"
    AGENT = "agent"
    SHUTDOWN = "shutdown"


def canonical_body(body: Mapping[str, object]) -> bytes:
    """The JCS bytes of a caller's body; :class:`FormatError` if it is not a JCS-able JSON object."""
    if not isinstance(body, Mapping):
        raise FormatError("an audit entry body must be a JSON object")
    # The canonicaliser itself rejects values that are not JSON, so the cast only satisfies the checker.
    # A float such as 1e20 canonicalises to an integer literal beyond 2^53 that strict parsers refuse;
    # such an entry could never be verified, so canonicalize_parseable refuses it before it is written.
    encoded = jcs.canonicalize_parseable(cast(jcs.JSONObject, dict(body)))
    if len(encoded) > MAX_BODY_BYTES:
        raise FormatError(f"audit entry body is {len(encoded)} bytes, over the {MAX_BODY_BYTES} limit")
    return encoded


def _check_safe_integer(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value <= jcs.MAX_SAFE_INTEGER:
        raise FormatError(f"entry {what} must be an integer in 0..2^53-1")
    return value


def encode_entry(seq: int, time_ms: int, kind: EntryKind, prev: bytes, body_jcs: bytes) -> bytes:
    """JCS of ``{body, kind, prev, seq, time, v}`` (keys already in JCS order) around canonical body bytes.

    Every member but ``body`` is an ASCII string or a safe integer, whose JCS form is its plain JSON form,
    so splicing the canonical body in yields exactly ``jcs.canonicalize`` of the whole object without
    canonicalising the body a second time.
    """
    _check_safe_integer(seq, "seq")
    _check_safe_integer(time_ms, "time")
    if len(prev) != HASH_SIZE:
        raise FormatError(f"entry prev must be {HASH_SIZE} bytes")
    return b'{"body":%s,"kind":"%s","prev":"%s","seq":%d,"time":%d,"v":%d}' % (
        body_jcs,
        EntryKind(kind).value.encode(),
        prev.hex().encode(),
        seq,
        time_ms,
        ENTRY_VERSION,
    )


@dataclass(frozen=True)
class AuditEntry:
    """A decoded entry. Build bytes with :func:`encode_entry`; read stored bytes with :meth:`parse`."""

    seq: int
    time: int
    kind: EntryKind
    prev: bytes
    body: Mapping[str, object]

    def __post_init__(self) -> None:
        _check_safe_integer(self.seq, "seq")
        _check_safe_integer(self.time, "time")
        if len(self.prev) != HASH_SIZE:
            raise FormatError(f"entry prev must be {HASH_SIZE} bytes")
        if not isinstance(self.kind, EntryKind):
            raise FormatError("entry kind must be an EntryKind")

    def to_bytes(self) -> bytes:
        return encode_entry(self.seq, self.time, self.kind, self.prev, canonical_body(self.body))

    @classmethod
    def parse(cls, data: bytes) -> AuditEntry:
        """Validate the shape of stored or received entry bytes (strict JSON, exact members, types)."""
        obj = jcs.parse_object(data)
        if set(obj) != _ENTRY_KEYS:
            raise FormatError("audit entry must have exactly the members v, seq, time, kind, prev, body")
        if type(obj["v"]) is not int or obj["v"] != ENTRY_VERSION:
            raise FormatError(f"unsupported audit entry version (expected {ENTRY_VERSION})")
        kind, prev, body = obj["kind"], obj["prev"], obj["body"]
        if not isinstance(kind, str) or kind not in EntryKind.__members__.values():
            raise FormatError("unknown audit entry kind")
        if not isinstance(prev, str) or len(prev) != 2 * HASH_SIZE or prev != prev.lower():
            raise FormatError("entry prev must be 64 lowercase hex digits")
        try:
            prev_bytes = bytes.fromhex(prev)
        except ValueError as exc:
            raise FormatError("entry prev must be 64 lowercase hex digits") from exc
        if not isinstance(body, dict):
            raise FormatError("audit entry body must be a JSON object")
        return cls(
            _check_safe_integer(obj["seq"], "seq"),
            _check_safe_integer(obj["time"], "time"),
            EntryKind(kind),
            prev_bytes,
            body,
        )


@dataclass(frozen=True)
class ChainState:
    """Where the hash chain stands after ``size`` entries: what the next entry must carry."""

    size: int = 0
    last_leaf: bytes = GENESIS_PREV
    last_time: int = 0

    def __post_init__(self) -> None:
        if self.size < 0 or self.last_time < 0 or len(self.last_leaf) != HASH_SIZE:
            raise FormatError("invalid chain state")
        if self.size == 0 and self.last_leaf != GENESIS_PREV:
            raise FormatError("an empty chain links to the genesis value")

    def follow(self, entry: AuditEntry, leaf: bytes) -> ChainState:
        """Check that ``entry`` (whose leaf hash is ``leaf``) extends this chain; return the next state.

        Raises :class:`TamperError` naming ``self.size`` when the sequence number, the link to the
        previous leaf or the time order is wrong.
        """
        if entry.seq != self.size:
            raise TamperError(f"entry carries seq {entry.seq} at position {self.size}", self.size)
        if entry.prev != self.last_leaf:
            raise TamperError("entry prev does not match the previous leaf hash", self.size)
        if entry.time < self.last_time:
            raise TamperError("entry time goes backwards", self.size)
        return ChainState(self.size + 1, leaf, entry.time)
