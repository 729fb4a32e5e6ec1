"""Authority keys: public keys as the policy lists them, key ids, and the authority's private key file.

Formats are specified byte for byte in docs/formats.md ("Disclosures"); the choices are argued in
docs/adr/0003-disclosure-sealing.md.

* A public key is the suite's raw public key, written in standard base64 in ``policy.toml``:
  32 bytes for ``x25519-sealedbox``, 1,216 (ML-KEM-768 ‖ X25519) for ``hpke-xwing``.
* Its key id is ``<suite>:<hex of the first 16 bytes of SHA-256(raw public key)>``.
* The private key file is RFC 8785 JSON holding the raw 32-byte private key (X25519 secret or X-Wing
  seed), either in clear or encrypted under a passphrase with scrypt and AES-256-GCM, the file's
  header being the associated data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from audit_log.formats import jcs
from disclosure.errors import DisclosureFormatError, KeyFileError, PolicyError, WrongPassphrase
from disclosure.suites import PRIVATE_KEY_SIZE, SuiteName, get_suite, suite_name

AUTHORITY_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
KEY_ID_DIGEST_BYTES = 16
KEY_FILE_TYPE = "veritee-authority-private-key"
KEY_FILE_VERSION = 1

#: scrypt cost for new key files: N = 2**17, r = 8, p = 1 (128 MiB), RFC 7914 §2's interactive-plus.
DEFAULT_SCRYPT_LOG2_N = 17
#: Bounds accepted when reading a file, so that a crafted file cannot ask for gigabytes of memory.
MIN_SCRYPT_LOG2_N, MAX_SCRYPT_LOG2_N = 14, 18
SCRYPT_R, SCRYPT_P = 8, 1
SALT_SIZE, NONCE_SIZE = 16, 12


def check_authority_id(authority: str) -> str:
    """An authority id: 1 to 32 of ``a-z 0-9 -``, starting with a letter or digit."""
    if not isinstance(authority, str) or not AUTHORITY_ID_PATTERN.fullmatch(authority):
        raise DisclosureFormatError("authority id must be 1-32 characters of a-z, 0-9 and '-'")
    return authority


def authority_key_id(suite: SuiteName, public_key: bytes) -> str:
    """``<suite>:<hex(SHA-256(raw public key)[:16])>``."""
    return f"{suite}:{hashlib.sha256(public_key).digest()[:KEY_ID_DIGEST_BYTES].hex()}"


KEY_ID_PATTERN = re.compile(
    "(?:" + "|".join(re.escape(s) for s in SuiteName) + f"):[0-9a-f]{{{2 * KEY_ID_DIGEST_BYTES}}}"
)


def _b64decode(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise KeyFileError(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise KeyFileError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise KeyFileError(f"{what} is not canonical base64")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class AuthorityPublicKey:
    """A suite's raw public key, checked to be usable for sealing."""

    suite: SuiteName
    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        get_suite(self.suite).check_public_key(self.raw)

    @property
    def key_id(self) -> str:
        return authority_key_id(self.suite, self.raw)

    def to_base64(self) -> str:
        return _b64(self.raw)

    @classmethod
    def from_base64(cls, suite: str, text: str) -> AuthorityPublicKey:
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise PolicyError(f"{suite} public key is not valid base64") from exc
        return cls(suite_name(suite), raw)


@dataclass(frozen=True)
class AuthorityPrivateKey:
    """An authority's private key (X25519 secret or X-Wing seed) with its id and suite."""

    authority: str
    suite: SuiteName
    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_authority_id(self.authority)
        if len(self.raw) != PRIVATE_KEY_SIZE:
            raise KeyFileError(f"a private key is {PRIVATE_KEY_SIZE} bytes")

    @classmethod
    def generate(cls, authority: str, suite: SuiteName) -> AuthorityPrivateKey:
        return cls(authority, suite, get_suite(suite).generate_private_key())

    @cached_property
    def public_key(self) -> AuthorityPublicKey:
        return AuthorityPublicKey(self.suite, get_suite(self.suite).public_key(self.raw))

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    def _header(self) -> dict[str, jcs.JSONValue]:
        return {
            "type": KEY_FILE_TYPE,
            "v": KEY_FILE_VERSION,
            "authority": self.authority,
            "suite": str(self.suite),
            "key_id": self.key_id,
            "public_key": self.public_key.to_base64(),
        }

    def to_file_bytes(
        self, passphrase: bytes | None = None, scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N
    ) -> bytes:
        """The key file, in clear or (with ``passphrase``) encrypted with scrypt + AES-256-GCM."""
        header = self._header()
        if passphrase is None:
            return jcs.canonicalize({**header, "private_key": _b64(self.raw)})
        if not passphrase:
            raise KeyFileError("the passphrase must not be empty")
        if not MIN_SCRYPT_LOG2_N <= scrypt_log2_n <= MAX_SCRYPT_LOG2_N:
            raise KeyFileError(f"scrypt log2(N) must be in [{MIN_SCRYPT_LOG2_N}, {MAX_SCRYPT_LOG2_N}]")
        salt, nonce = os.urandom(SALT_SIZE), os.urandom(NONCE_SIZE)
        wrapping_key = _scrypt(passphrase, salt, scrypt_log2_n)
        ciphertext = AESGCM(wrapping_key).encrypt(nonce, self.raw, jcs.canonicalize(header))
        sealed: dict[str, jcs.JSONValue] = {
            "kdf": "scrypt",
            "log2_n": scrypt_log2_n,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": _b64(salt),
            "aead": "aes-256-gcm",
            "nonce": _b64(nonce),
            "ciphertext": _b64(ciphertext),
        }
        return jcs.canonicalize({**header, "encrypted_private_key": sealed})

    @classmethod
    def from_file_bytes(cls, data: bytes, passphrase: bytes | None = None) -> AuthorityPrivateKey:
        """Read a key file; checks that the private key, public key, key id and suite agree."""
        try:
            obj = jcs.parse_object(data)
        except ValueError as exc:
            raise KeyFileError("key file is not a JSON object") from exc
        header_keys = {"type", "v", "authority", "suite", "key_id", "public_key"}
        secret_keys = set(obj) - header_keys
        if not header_keys <= set(obj) or secret_keys not in ({"private_key"}, {"encrypted_private_key"}):
            raise KeyFileError("key file must hold the header fields and one private key field")
        if obj["type"] != KEY_FILE_TYPE or obj["v"] != KEY_FILE_VERSION:
            raise KeyFileError(f"not a version {KEY_FILE_VERSION} {KEY_FILE_TYPE} file")
        header: dict[str, jcs.JSONValue] = {"type": KEY_FILE_TYPE, "v": KEY_FILE_VERSION}
        for name in ("authority", "suite", "key_id", "public_key"):
            value = obj[name]
            if not isinstance(value, str):
                raise KeyFileError(f"key file {name} must be a string")
            header[name] = value
        authority, suite = str(header["authority"]), str(header["suite"])
        try:
            check_authority_id(authority)
        except DisclosureFormatError as exc:
            raise KeyFileError(str(exc)) from exc
        if "private_key" in obj:
            if passphrase is not None:
                raise KeyFileError("key file is not encrypted, but a passphrase was given")
            raw = _b64decode(obj["private_key"], "private key")
        else:
            if passphrase is None:
                raise KeyFileError("key file is encrypted: a passphrase is needed")
            raw = _decrypt_private(obj["encrypted_private_key"], passphrase, jcs.canonicalize(header))
        key = cls(authority, suite_name(suite), raw)
        if key._header() != header:
            raise KeyFileError("key file's public key or key id does not belong to its private key")
        return key


def _scrypt(passphrase: bytes, salt: bytes, log2_n: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=1 << log2_n, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase)


def _decrypt_private(sealed: object, passphrase: bytes, header: bytes) -> bytes:
    expected = {"kdf", "log2_n", "r", "p", "salt", "aead", "nonce", "ciphertext"}
    if not isinstance(sealed, dict) or set(sealed) != expected:
        raise KeyFileError("encrypted_private_key has the wrong fields")
    if (sealed["kdf"], sealed["aead"], sealed["r"], sealed["p"]) != (
        "scrypt",
        "aes-256-gcm",
        SCRYPT_R,
        SCRYPT_P,
    ):
        raise KeyFileError("encrypted_private_key must use scrypt (r=8, p=1) and aes-256-gcm")
    log2_n = sealed["log2_n"]
    if not isinstance(log2_n, int) or isinstance(log2_n, bool):
        raise KeyFileError("scrypt log2_n must be an integer")
    if not MIN_SCRYPT_LOG2_N <= log2_n <= MAX_SCRYPT_LOG2_N:
        raise KeyFileError(f"scrypt log2_n must be in [{MIN_SCRYPT_LOG2_N}, {MAX_SCRYPT_LOG2_N}]")
    salt = _b64decode(sealed["salt"], "salt")
    nonce = _b64decode(sealed["nonce"], "nonce")
    if len(salt) != SALT_SIZE or len(nonce) != NONCE_SIZE:
        raise KeyFileError("salt must be 16 bytes and nonce 12 bytes")
    ciphertext = _b64decode(sealed["ciphertext"], "encrypted private key")
    try:
        return AESGCM(_scrypt(passphrase, salt, log2_n)).decrypt(nonce, ciphertext, header)
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase, or the key file was altered") from None


def policy_entry_toml(key: AuthorityPublicKey, authority: str, name: str) -> str:
    """The ``[[authorities]]`` table for ``policy.toml`` that lists this public key."""
    check_authority_id(authority)
    return (
        "# veritee authority public key: paste into policy.toml, then name this authority in the\n"
        "# [categories.*] rules it receives (authority = ..., disclosure_threshold >= 0.999).\n"
        f"# key id: {key.key_id}\n"
        "[[authorities]]\n"
        f'id = "{authority}"\n'
        f"name = {json.dumps(name, ensure_ascii=True)}\n"
        f'suite = "{key.suite}"\n'
        f'public_key = "{key.to_base64()}"\n'
    )
