"""C2SP tlog-checkpoint bodies, signed and opened as C2SP signed notes.

https://c2sp.org/tlog-checkpoint

The body is ``origin "\\n" size "\\n" base64(root) "\\n"`` followed by optional extension lines. Sizes
are decimal without leading zeros; roots are canonical standard base64 of 32 bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from audit_log.errors import FormatError, VerificationError
from audit_log.formats.note import NoteSigner, NoteVerifier, b64decode_strict, open_note, sign_note
from audit_log.merkle import HASH_SIZE

#: Tree sizes and indices are uint64 (RFC 9162 §4.10 `tree_size`): at most 20 decimal digits.
MAX_UINT64 = 2**64 - 1


def parse_decimal(text: str, what: str) -> int:
    """A uint64 as ASCII decimal without leading zeros (``0`` itself is allowed)."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise FormatError(f"{what} must be a decimal number without leading zeros")
    # Check the length before int(): Python refuses to convert more than 4,300 digits with a bare
    # ValueError, and nothing beyond 20 digits fits a uint64 anyway.
    if len(text) > len(str(MAX_UINT64)) or int(text) > MAX_UINT64:
        raise FormatError(f"{what} does not fit in 64 bits")
    return int(text)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or not self.origin.isprintable():
            raise FormatError("checkpoint origin must be one non-empty printable line")
        if self.size < 0:
            raise FormatError("checkpoint size must not be negative")
        if len(self.root) != HASH_SIZE:
            raise FormatError(f"checkpoint root must be {HASH_SIZE} bytes")
        for line in self.extensions:
            if not line or "\n" in line:
                raise FormatError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise FormatError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise FormatError("checkpoint body needs origin, size and root lines")
        origin, size, root, *extensions = lines
        return cls(
            origin,
            parse_decimal(size, "checkpoint size"),
            b64decode_strict(root, "checkpoint root"),
            tuple(extensions),
        )


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> bytes:
    """The checkpoint as a signed note by the log's key."""
    return sign_note(checkpoint.body(), [signer])


@dataclass(frozen=True)
class CheckpointPolicy:
    """Accepts a signed checkpoint from ``origin`` signed by one of the log's keys.

    Other signatures (witness cosignatures, unknown keys) are ignored, as C2SP requires.
    """

    origin: str
    log_keys: tuple[NoteVerifier, ...]

    def __post_init__(self) -> None:
        if not self.log_keys:
            raise FormatError("a checkpoint policy needs at least one log key")

    @classmethod
    def of(cls, origin: str, log_keys: Iterable[NoteVerifier]) -> CheckpointPolicy:
        return cls(origin, tuple(log_keys))

    def verify(self, note: bytes) -> Checkpoint:
        opened = open_note(note, self.log_keys)
        checkpoint = Checkpoint.parse(opened.text)
        if checkpoint.origin != self.origin:
            raise VerificationError(
                f"checkpoint origin {checkpoint.origin!r} is not the expected {self.origin!r}"
            )
        return checkpoint
