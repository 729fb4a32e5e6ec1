"""What a verifier expects of the attested claims, and the policy file that states it.

A policy file (``veritee attest verify --policy FILE``, format in docs/formats.md) is JSON::

    {"v": 1, "allowed_tcb_statuses": ["UpToDate", ...],
     "expected_claims": {"policy_sha256": hex, "log_signing_key": hex, "log_origin": str,
                         "model_sha256": hex, "service_version": str, "tls_spki_sha256": hex,
                         "classifiers": [{id, version, sha256}], "authority_key_ids": [...]}}

Every expected claim is optional; each one given must match exactly. ``allowed_tcb_statuses``
defaults to ``["UpToDate"]``. Pure: no IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from audit_log import FormatError
from audit_log.formats import jcs
from inference.attestation.claims import (
    DIGEST_SIZE,
    AuthorityKey,
    Claims,
    ClassifierArtefact,
    parse_authority_key,
    parse_classifier,
)
from inference.attestation.dcap import TCB_UP_TO_DATE, check_allowed_statuses
from inference.attestation.encoding import parse_hex
from inference.attestation.errors import AttestationFormatError, ClaimsMismatch

_HEX_CLAIMS = {
    "log_signing_key": 32,
    "tls_spki_sha256": DIGEST_SIZE,
    "policy_sha256": DIGEST_SIZE,
    "model_sha256": DIGEST_SIZE,
}
_TEXT_CLAIMS = ("service_version", "log_origin")
_LIST_CLAIMS = ("classifiers", "authority_key_ids")


@dataclass(frozen=True)
class ExpectedClaims:
    """Claims a verifier insists on; ``None`` means "not checked"."""

    service_version: str | None = None
    log_origin: str | None = None
    log_signing_key: bytes | None = None
    tls_spki_sha256: bytes | None = None
    policy_sha256: bytes | None = None
    classifiers: tuple[ClassifierArtefact, ...] | None = None
    model_sha256: bytes | None = None
    authority_keys: tuple[AuthorityKey, ...] | None = None

    def check(self, claims: Claims) -> None:
        """Raise :class:`ClaimsMismatch` naming every expected claim that differs."""
        differing = [
            name
            for name, expected, actual in (
                ("service_version", self.service_version, claims.service_version),
                ("log_origin", self.log_origin, claims.log_origin),
                ("log_signing_key", self.log_signing_key, claims.log_signing_key),
                ("tls_spki_sha256", self.tls_spki_sha256, claims.tls_spki_sha256),
                ("policy_sha256", self.policy_sha256, claims.policy_sha256),
                ("classifiers", _sorted_classifiers(self.classifiers), claims.classifiers),
                ("model_sha256", self.model_sha256, claims.model_sha256),
                ("authority_key_ids", _sorted_authorities(self.authority_keys), claims.authority_keys),
            )
            if expected is not None and expected != actual
        ]
        if differing:
            raise ClaimsMismatch(f"attested claims differ from the expected {', '.join(differing)}")

    @classmethod
    def from_json_object(cls, obj: object) -> ExpectedClaims:
        known = {*_HEX_CLAIMS, *_TEXT_CLAIMS, *_LIST_CLAIMS}
        if not isinstance(obj, Mapping) or not set(obj) <= known:
            raise AttestationFormatError(f"expected_claims must be an object with keys among {sorted(known)}")
        for name in _TEXT_CLAIMS:
            if name in obj and not isinstance(obj[name], str):
                raise AttestationFormatError(f"expected {name} must be a string")
        hex_values = {
            name: parse_hex(obj[name], size, f"expected {name}")
            for name, size in _HEX_CLAIMS.items()
            if name in obj
        }
        return cls(
            service_version=_optional_str(obj, "service_version"),
            log_origin=_optional_str(obj, "log_origin"),
            log_signing_key=hex_values.get("log_signing_key"),
            tls_spki_sha256=hex_values.get("tls_spki_sha256"),
            policy_sha256=hex_values.get("policy_sha256"),
            classifiers=(
                tuple(parse_classifier(c) for c in _array(obj["classifiers"], "classifiers"))
                if "classifiers" in obj
                else None
            ),
            model_sha256=hex_values.get("model_sha256"),
            authority_keys=(
                tuple(parse_authority_key(a) for a in _array(obj["authority_key_ids"], "authority_key_ids"))
                if "authority_key_ids" in obj
                else None
            ),
        )


def _optional_str(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) else None


def _array(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise AttestationFormatError(f"expected {what} must be a JSON array")
    return value


def _sorted_classifiers(
    value: tuple[ClassifierArtefact, ...] | None,
) -> tuple[ClassifierArtefact, ...] | None:
    return None if value is None else tuple(sorted(value, key=lambda c: c.id))


def _sorted_authorities(value: tuple[AuthorityKey, ...] | None) -> tuple[AuthorityKey, ...] | None:
    return None if value is None else tuple(sorted(value, key=lambda a: a.authority))


@dataclass(frozen=True)
class PolicyFile:
    """The contents of a verifier policy file."""

    expected_claims: ExpectedClaims = field(default_factory=ExpectedClaims)
    allowed_tcb_statuses: frozenset[str] = frozenset({TCB_UP_TO_DATE})

    def __post_init__(self) -> None:
        check_allowed_statuses(self.allowed_tcb_statuses)

    @classmethod
    def from_json(cls, data: bytes | str) -> PolicyFile:
        try:
            obj = jcs.parse_object(data)
        except FormatError as exc:
            raise AttestationFormatError(f"policy file: {exc}") from exc
        if not set(obj) <= {"v", "allowed_tcb_statuses", "expected_claims"}:
            raise AttestationFormatError(
                "policy file keys must be among v, allowed_tcb_statuses, expected_claims"
            )
        if type(obj.get("v")) is not int or obj["v"] != 1:
            raise AttestationFormatError('policy file must say "v": 1')
        statuses = obj.get("allowed_tcb_statuses", [TCB_UP_TO_DATE])
        if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
            raise AttestationFormatError("allowed_tcb_statuses must be an array of strings")
        return cls(
            expected_claims=ExpectedClaims.from_json_object(obj.get("expected_claims", {})),
            allowed_tcb_statuses=frozenset(str(s) for s in statuses),
        )
