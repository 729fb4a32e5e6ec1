"""What the TEE attests to, and how it is bound into the quote's report_data.

Spec: DESIGN.md "Attestation document"; bytes in docs/formats.md. The claims name everything a
caller must trust before sending a prompt: the log signing key (and its DSSE key id), the TLS key
(SHA-256 of its DER SubjectPublicKeyInfo), the policy, the classifier manifest, the model, the log
origin and the authorities' key ids. They are hashed as RFC 8785 JSON under a domain string that
differs between production and simulated mode::

    report_data = SHA-256(domain ‖ JCS(claims)) ‖ nonce          (32 + 32 = 64 bytes)
    domain      = "veritee-attest/v1\\0"  or  "veritee-attest-SIMULATED/v1\\0"

so a simulated binding can never be replayed as a production one, even with the mode field edited.
Pure: no IO, no clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit_log import Mode, signing_key_id
from audit_log.formats import jcs
from inference.attestation.encoding import parse_hex
from inference.attestation.errors import AttestationFormatError

CLAIMS_VERSION = 1
PRODUCTION_DOMAIN = b"veritee-attest/v1\x00"
SIMULATED_DOMAIN = b"veritee-attest-SIMULATED/v1\x00"
NONCE_SIZE = 32
REPORT_DATA_SIZE = 64
DIGEST_SIZE = 32

# Identifiers and versions are short printable ASCII without spaces; an origin may hold inner spaces.
_TOKEN = re.compile(r"[\x21-\x7e]{1,128}")
_ORIGIN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?")

_CLAIM_KEYS = frozenset(
    {
        "v",
        "mode",
        "service_version",
        "log_origin",
        "log_signing_key",
        "log_key_id",
        "tls_spki_sha256",
        "policy_sha256",
        "classifiers",
        "model_sha256",
        "authority_key_ids",
    }
)


def _check_token(value: object, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise AttestationFormatError(f"{what} must be 1-128 printable ASCII characters, no spaces")
    return value


def _check_digest(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != DIGEST_SIZE:
        raise AttestationFormatError(f"{what} must be {DIGEST_SIZE} bytes")


@dataclass(frozen=True)
class ClassifierArtefact:
    """One entry of the classifier manifest: an artefact id, its version and its SHA-256."""

    id: str
    version: str
    sha256: bytes

    def __post_init__(self) -> None:
        _check_token(self.id, "classifier id")
        _check_token(self.version, "classifier version")
        _check_digest(self.sha256, "classifier sha256")


@dataclass(frozen=True)
class AuthorityKey:
    """An authority named in the attested policy and the id of the key disclosures are sealed to."""

    authority: str
    key_id: str

    def __post_init__(self) -> None:
        _check_token(self.authority, "authority id")
        _check_token(self.key_id, "authority key id")


@dataclass(frozen=True)
class Claims:
    """The attested claims. Lists are kept sorted by id so that equal claims have equal bytes."""

    mode: Mode
    service_version: str
    log_origin: str
    log_signing_key: bytes
    tls_spki_sha256: bytes
    policy_sha256: bytes
    classifiers: tuple[ClassifierArtefact, ...]
    model_sha256: bytes
    authority_keys: tuple[AuthorityKey, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.mode, Mode):
            raise AttestationFormatError("claims mode must be a Mode")
        _check_token(self.service_version, "service version")
        if not isinstance(self.log_origin, str) or not _ORIGIN.fullmatch(self.log_origin):
            raise AttestationFormatError("log origin must be 1-256 printable ASCII characters")
        if not isinstance(self.log_signing_key, bytes) or len(self.log_signing_key) != 32:
            raise AttestationFormatError("log signing key must be a raw 32-byte Ed25519 key")
        _check_digest(self.tls_spki_sha256, "TLS SPKI sha256")
        _check_digest(self.policy_sha256, "policy sha256")
        _check_digest(self.model_sha256, "model sha256")
        classifiers = tuple(sorted(self.classifiers, key=lambda c: c.id))
        if len({c.id for c in classifiers}) != len(classifiers):
            raise AttestationFormatError("classifier manifest lists an id twice")
        authority_keys = tuple(sorted(self.authority_keys, key=lambda a: a.authority))
        if len({a.authority for a in authority_keys}) != len(authority_keys):
            raise AttestationFormatError("authority key ids list an authority twice")
        object.__setattr__(self, "classifiers", classifiers)
        object.__setattr__(self, "authority_keys", authority_keys)

    @property
    def log_key_id(self) -> str:
        """The DSSE key id of the log signing key (``sim:``-prefixed in simulated mode)."""
        public_key = Ed25519PublicKey.from_public_bytes(self.log_signing_key)
        return signing_key_id(public_key, self.mode)

    def to_json_object(self) -> jcs.JSONObject:
        return {
            "v": CLAIMS_VERSION,
            "mode": self.mode.value,
            "service_version": self.service_version,
            "log_origin": self.log_origin,
            "log_signing_key": self.log_signing_key.hex(),
            "log_key_id": self.log_key_id,
            "tls_spki_sha256": self.tls_spki_sha256.hex(),
            "policy_sha256": self.policy_sha256.hex(),
            "classifiers": [
                {"id": c.id, "version": c.version, "sha256": c.sha256.hex()} for c in self.classifiers
            ],
            "model_sha256": self.model_sha256.hex(),
            "authority_key_ids": [
                {"authority": a.authority, "key_id": a.key_id} for a in self.authority_keys
            ],
        }

    def canonical(self) -> bytes:
        """RFC 8785 bytes of the claims: the input of the report_data hash."""
        return jcs.canonicalize(self.to_json_object())

    @classmethod
    def from_json_object(cls, obj: object) -> Claims:
        """Parse claims strictly: exactly the known keys, version 1, consistent key id."""
        if not isinstance(obj, Mapping):
            raise AttestationFormatError("claims must be a JSON object")
        keys = set(obj)
        if keys != _CLAIM_KEYS:
            missing, extra = sorted(_CLAIM_KEYS - keys), sorted(keys - _CLAIM_KEYS)
            raise AttestationFormatError(f"claims keys differ: missing {missing}, unexpected {extra}")
        version = obj["v"]
        if type(version) is not int or version != CLAIMS_VERSION:
            raise AttestationFormatError(f"claims version must be {CLAIMS_VERSION}")
        claims = cls(
            mode=parse_mode(obj["mode"]),
            service_version=_check_token(obj["service_version"], "service version"),
            log_origin=_string(obj["log_origin"], "log origin"),
            log_signing_key=parse_hex(obj["log_signing_key"], 32, "log signing key"),
            tls_spki_sha256=parse_hex(obj["tls_spki_sha256"], DIGEST_SIZE, "TLS SPKI sha256"),
            policy_sha256=parse_hex(obj["policy_sha256"], DIGEST_SIZE, "policy sha256"),
            classifiers=tuple(parse_classifier(c) for c in _list(obj["classifiers"], "classifiers")),
            model_sha256=parse_hex(obj["model_sha256"], DIGEST_SIZE, "model sha256"),
            authority_keys=tuple(
                parse_authority_key(a) for a in _list(obj["authority_key_ids"], "authority key ids")
            ),
        )
        if obj["log_key_id"] != claims.log_key_id:
            raise AttestationFormatError("claims log_key_id does not match the log signing key")
        return claims


def parse_mode(value: object) -> Mode:
    """Parse an attestation mode string (``production`` or ``simulated``)."""
    if value == Mode.PRODUCTION.value:
        return Mode.PRODUCTION
    if value == Mode.SIMULATED.value:
        return Mode.SIMULATED
    raise AttestationFormatError("mode must be 'production' or 'simulated'")


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise AttestationFormatError(f"{what} must be a string")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise AttestationFormatError(f"{what} must be a JSON array")
    if len(value) > 256:
        raise AttestationFormatError(f"{what} has more than 256 entries")
    return value


def _exact_object(value: object, keys: frozenset[str], what: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or set(value) != keys:
        raise AttestationFormatError(f"each {what} must be an object with keys {sorted(keys)}")
    return value


def parse_classifier(value: object) -> ClassifierArtefact:
    obj = _exact_object(value, frozenset({"id", "version", "sha256"}), "classifier")
    return ClassifierArtefact(
        id=_check_token(obj["id"], "classifier id"),
        version=_check_token(obj["version"], "classifier version"),
        sha256=parse_hex(obj["sha256"], DIGEST_SIZE, "classifier sha256"),
    )


def parse_authority_key(value: object) -> AuthorityKey:
    obj = _exact_object(value, frozenset({"authority", "key_id"}), "authority key id")
    return AuthorityKey(
        authority=_check_token(obj["authority"], "authority id"),
        key_id=_check_token(obj["key_id"], "authority key id"),
    )


def domain(mode: Mode) -> bytes:
    """The report_data domain string of ``mode``."""
    return PRODUCTION_DOMAIN if mode is Mode.PRODUCTION else SIMULATED_DOMAIN


def claims_digest(claims: Claims) -> bytes:
    """SHA-256(domain(claims.mode) ‖ JCS(claims)): the first half of report_data."""
    return hashlib.sha256(domain(claims.mode) + claims.canonical()).digest()


def report_data(claims: Claims, nonce: bytes) -> bytes:
    """The 64 bytes the TEE writes into its quote for these claims and the caller's nonce."""
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
        raise AttestationFormatError(f"nonce must be {NONCE_SIZE} bytes")
    return claims_digest(claims) + nonce
