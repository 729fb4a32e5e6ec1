"""C2SP signed notes with Ed25519 signatures (signature type 0x01).

https://c2sp.org/signed-note

A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
``"— " name " " base64(key_id[4] ‖ signature) "\\n"``. The text may itself contain empty lines; the
last empty line of the note separates it from the signatures. The key id is the first four bytes of
SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). Verifier keys are written ``name+hex(key_id)+base64(0x01 ‖
public key)``; Go's private keys ``PRIVATE+KEY+name+hex(key_id)+base64(0x01 ‖ seed)``.

:func:`open_note` follows the spec strictly: signatures from unknown keys are ignored, every signature
from a known key must verify, and at least one must come from a known key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log.errors import FormatError, VerificationError

ED25519_TYPE = 0x01
SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, then a space.
MAX_SIGNATURES = 100


def b64decode_strict(text: str, what: str) -> bytes:
    """Decode canonical standard base64, rejecting whitespace, URL alphabet and non-zero pad bits."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise FormatError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise FormatError(f"{what} is not canonical base64")
    return raw


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise FormatError("key name must be non-empty and contain no whitespace or '+'")
    if not name.isprintable():
        raise FormatError("key name contains control characters")


def key_id(name: str, public_key: bytes) -> bytes:
    """The C2SP key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + public_key).digest()[:4]


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 verifier key with its name, as written in a vkey string."""

    name: str
    public_key: Ed25519PublicKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, _raw_public(self.public_key))

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + _raw_public(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 signing key with its name. Ed25519 is deterministic, so notes are reproducible."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.private_key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def _split_key(text: str, parts: int, what: str) -> list[str]:
    # The base64 field may itself contain '+', so split off only the leading fields.
    fields = text.split("+", parts - 1)
    if len(fields) != parts:
        raise FormatError(f"{what} must have {parts} '+'-separated fields")
    return fields


def _decode_key_material(name: str, hex_id: str, encoded: str, what: str) -> bytes:
    _check_name(name)
    if len(hex_id) != 8 or hex_id != hex_id.lower():
        raise FormatError(f"{what} key id must be 8 lowercase hex digits")
    try:
        claimed_id = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise FormatError(f"{what} key id is not hex") from exc
    material = b64decode_strict(encoded, f"{what} key")
    if len(material) != 33 or material[0] != ED25519_TYPE:
        raise FormatError(f"{what} is not an Ed25519 (type 0x01) key")
    return claimed_id + material[1:]


def parse_vkey(vkey: str) -> NoteVerifier:
    """Parse ``name+hexid+base64(0x01 ‖ pubkey)`` and check that the id matches the key."""
    name, hex_id, encoded = _split_key(vkey.strip(), 3, "verifier key")
    packed = _decode_key_material(name, hex_id, encoded, "verifier key")
    claimed_id, public = packed[:4], packed[4:]
    if key_id(name, public) != claimed_id:
        raise FormatError("verifier key id does not match its name and key")
    return NoteVerifier(name, Ed25519PublicKey.from_public_bytes(public))


def parse_skey(skey: str) -> NoteSigner:
    """Parse Go's ``PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)`` signer key format."""
    fields = _split_key(skey.strip(), 5, "signer key")
    if fields[:2] != ["PRIVATE", "KEY"]:
        raise FormatError("signer key must start with PRIVATE+KEY+")
    name, hex_id, encoded = fields[2:]
    packed = _decode_key_material(name, hex_id, encoded, "signer key")
    signer = NoteSigner(name, Ed25519PrivateKey.from_private_bytes(packed[4:]))
    if signer.verifier.key_id != packed[:4]:
        raise FormatError("signer key id does not match its name and key")
    return signer


def format_skey(signer: NoteSigner) -> str:
    """Write ``signer`` in Go's private key format (for test keys and interop only)."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    seed = signer.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    encoded = base64.b64encode(bytes([ED25519_TYPE]) + seed).decode()
    return f"PRIVATE+KEY+{signer.name}+{signer.verifier.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text and the signatures that verified."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def _check_text(text: str) -> None:
    # C2SP: no ASCII control character below U+0020 other than newline. Empty lines are allowed:
    # the last empty line of a note is the one that separates the text from its signatures.
    if not text.endswith("\n"):
        raise FormatError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise FormatError("note text contains control characters")


def sign_note(text: str, signers: Sequence[NoteSigner]) -> bytes:
    """Sign ``text`` with each signer; returns the note bytes."""
    _check_text(text)
    if not signers:
        raise FormatError("a note needs at least one signer")
    ids = [(s.name, s.verifier.key_id) for s in signers]
    if len(set(ids)) != len(ids):
        raise FormatError("duplicate signer")
    message = text.encode()
    lines = [NoteSignature(s.name, s.verifier.key_id, s.sign(message)).line() for s in signers]
    return (text + "\n" + "".join(lines)).encode()


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise FormatError("malformed note: expected a signature line")
    name, sep, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep:
        raise FormatError("malformed note: signature line has no signature")
    _check_name(name)
    packed = b64decode_strict(encoded, "note signature")
    if len(packed) < 5:
        raise FormatError("malformed note: signature too short")
    return NoteSignature(name, packed[:4], packed[4:])


def open_note(note: bytes, verifiers: Iterable[NoteVerifier]) -> Note:
    """Parse a signed note and verify it against ``verifiers``.

    Raises :class:`FormatError` if malformed and :class:`VerificationError` if a known key's signature
    fails or no known key signed it.
    """
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("note is not UTF-8") from exc
    split = decoded.rfind("\n\n")
    if split < 0:
        raise FormatError("malformed note: no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise FormatError("malformed note: signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise FormatError("malformed note: too many signatures")
    signatures = [_parse_signature_line(line) for line in lines]

    known = {(v.name, v.key_id): v for v in verifiers}
    message = text.encode()
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in signatures:
        ident = (sig.name, sig.key_id)
        verifier = known.get(ident)
        if verifier is None:
            unverified.append(sig)
            continue
        if ident in seen:
            raise VerificationError(f"note carries two signatures by key {sig.name}+{sig.key_id.hex()}")
        seen.add(ident)
        if not verifier.verify(message, sig.signature):
            raise VerificationError(f"invalid note signature by key {sig.name}+{sig.key_id.hex()}")
        verified.append(sig)
    if not verified:
        raise VerificationError("note is not signed by any trusted key")
    return Note(text, tuple(verified), tuple(unverified))
