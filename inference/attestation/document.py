"""The attestation document: quote, optional collateral and event log, nonce and claims.

Spec: DESIGN.md "Attestation document"; byte layout in docs/formats.md. Serialised as RFC 8785
JSON::

    {"format": "veritee-attestation/v1", "mode", "platform", "quote": base64, "collateral"?: {…},
     "event_log"?: [...], "nonce": hex, "claims": {…}}

Parsing is strict (known keys only, bounded sizes) and checks that the document does not contradict
itself; whether it is *true* is ``verify.py``'s job. ``attestation_sha256`` (the value summaries and
disclosures carry) is SHA-256 of the canonical bytes. Pure: no IO.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from audit_log import FormatError, Mode
from audit_log.formats import jcs
from inference.attestation.claims import NONCE_SIZE, Claims, parse_mode
from inference.attestation.encoding import parse_base64, parse_hex, to_base64
from inference.attestation.errors import AttestationFormatError
from inference.attestation.event_log import TdxEvent, parse_event_log
from inference.attestation.tdx_quote import MAX_QUOTE_SIZE

FORMAT = "veritee-attestation/v1"
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_COLLATERAL_FIELD_CHARS = 256 * 1024

_REQUIRED_KEYS = frozenset({"format", "mode", "platform", "quote", "nonce", "claims"})
_OPTIONAL_KEYS = frozenset({"collateral", "event_log"})
_HEX = re.compile(r"[0-9a-fA-F]*")


class Platform(enum.StrEnum):
    INTEL_TDX = "intel-tdx"
    SIMULATED = "simulated"


# A production document always comes from real hardware; a simulated one never claims to.
_PLATFORM_OF_MODE = {Mode.PRODUCTION: Platform.INTEL_TDX, Mode.SIMULATED: Platform.SIMULATED}


@dataclass(frozen=True)
class Collateral:
    """Intel PCS collateral for one FMSPC, in dcap-qvl's ``QuoteCollateralV3`` JSON shape.

    Issuer chains and the two identity documents are text (the identities exactly as Intel signed
    them); CRLs and signatures are hex. Collateral is signed by Intel, so where it comes from does
    not matter: the verifier checks it against Intel's root at an explicit time.
    """

    pck_crl_issuer_chain: str
    root_ca_crl: str
    pck_crl: str
    tcb_info_issuer_chain: str
    tcb_info: str
    tcb_info_signature: str
    qe_identity_issuer_chain: str
    qe_identity: str
    qe_identity_signature: str

    def __post_init__(self) -> None:
        for name, value in self.to_json_object().items():
            if not isinstance(value, str) or not value or len(value) > MAX_COLLATERAL_FIELD_CHARS:
                raise AttestationFormatError(f"collateral {name} must be a non-empty string")
        for name in ("root_ca_crl", "pck_crl", "tcb_info_signature", "qe_identity_signature"):
            if not _HEX.fullmatch(getattr(self, name)):
                raise AttestationFormatError(f"collateral {name} must be hex")

    def to_json_object(self) -> dict[str, str]:
        return dict(self.__dict__)

    def to_json(self) -> str:
        """The JSON text dcap-qvl's ``QuoteCollateralV3.from_json`` reads."""
        return json.dumps(self.to_json_object())

    @classmethod
    def from_json_object(cls, obj: object) -> Collateral:
        expected = frozenset(cls.__dataclass_fields__)
        if not isinstance(obj, Mapping) or set(obj) != expected:
            raise AttestationFormatError(f"collateral must be an object with keys {sorted(expected)}")
        return cls(**{name: obj[name] for name in expected})

    @classmethod
    def from_json(cls, data: bytes | str) -> Collateral:
        return cls.from_json_object(_parse_json_object(data, "collateral"))


@dataclass(frozen=True)
class AttestationDocument:
    mode: Mode
    platform: Platform
    quote: bytes
    nonce: bytes
    claims: Claims
    collateral: Collateral | None = None
    event_log: tuple[TdxEvent, ...] | None = None

    def __post_init__(self) -> None:
        if _PLATFORM_OF_MODE.get(self.mode) is not self.platform:
            raise AttestationFormatError(f"platform {self.platform} contradicts mode {self.mode}")
        if self.claims.mode is not self.mode:
            raise AttestationFormatError("claims mode differs from the document mode")
        if len(self.nonce) != NONCE_SIZE:
            raise AttestationFormatError(f"nonce must be {NONCE_SIZE} bytes")
        if not 0 < len(self.quote) <= MAX_QUOTE_SIZE:
            raise AttestationFormatError(f"quote must be 1-{MAX_QUOTE_SIZE} bytes")

    def to_json_object(self) -> jcs.JSONObject:
        obj: jcs.JSONObject = {
            "format": FORMAT,
            "mode": self.mode.value,
            "platform": self.platform.value,
            "quote": to_base64(self.quote),
            "nonce": self.nonce.hex(),
            "claims": self.claims.to_json_object(),
        }
        if self.collateral is not None:
            obj["collateral"] = self.collateral.to_json_object()
        if self.event_log is not None:
            obj["event_log"] = [event.to_json_object() for event in self.event_log]
        return obj

    def to_json(self) -> bytes:
        """Canonical (RFC 8785) bytes: what the gateway serves and ``attestation_sha256`` hashes."""
        return jcs.canonicalize(self.to_json_object())

    @property
    def attestation_sha256(self) -> bytes:
        return hashlib.sha256(self.to_json()).digest()

    @classmethod
    def from_json(cls, data: bytes | str) -> AttestationDocument:
        """Parse a document strictly; raise :class:`AttestationFormatError` naming what is wrong."""
        if len(data) > MAX_DOCUMENT_BYTES:
            raise AttestationFormatError(f"attestation document is larger than {MAX_DOCUMENT_BYTES} bytes")
        obj = _parse_json_object(data, "attestation document")
        keys = set(obj)
        if "gpu" in keys:
            raise AttestationFormatError("GPU evidence is not supported by attestation format v1")
        if not _REQUIRED_KEYS <= keys <= _REQUIRED_KEYS | _OPTIONAL_KEYS:
            missing = sorted(_REQUIRED_KEYS - keys)
            extra = sorted(keys - _REQUIRED_KEYS - _OPTIONAL_KEYS)
            raise AttestationFormatError(f"document keys differ: missing {missing}, unexpected {extra}")
        if obj["format"] != FORMAT:
            raise AttestationFormatError(f"document format must be {FORMAT!r}")
        platform = obj["platform"]
        if platform not in {p.value for p in Platform}:
            raise AttestationFormatError("document platform must be 'intel-tdx' or 'simulated'")
        return cls(
            mode=parse_mode(obj["mode"]),
            platform=Platform(platform),
            quote=parse_base64(obj["quote"], "quote", MAX_QUOTE_SIZE),
            nonce=parse_hex(obj["nonce"], NONCE_SIZE, "nonce"),
            claims=Claims.from_json_object(obj["claims"]),
            collateral=(Collateral.from_json_object(obj["collateral"]) if "collateral" in obj else None),
            event_log=parse_event_log(obj["event_log"]) if "event_log" in obj else None,
        )


def _parse_json_object(data: bytes | str, what: str) -> dict[str, object]:
    try:
        return jcs.parse_object(data)
    except FormatError as exc:
        raise AttestationFormatError(f"{what}: {exc}") from exc
