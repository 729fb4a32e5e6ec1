"""DSSE envelopes with Ed25519 (audit_log/formats/dsse.py).

PAE is checked against the DSSE protocol's own test vector, including its published ECDSA P-256
signature, which must verify over the bytes our :func:`pae` produces.
https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_log.errors import FormatError, VerificationError
from audit_log.formats import jcs
from audit_log.formats.dsse import Envelope, Signature, pae, sign, verify

# The DSSE protocol's "Test Vectors" section.
SPEC_TYPE = "http://example.com/HelloWorld"
SPEC_BODY = b"hello world"
SPEC_PAE = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
SPEC_P256_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_P256_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_SIG = "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="

PAYLOAD_TYPE = "application/vnd.veritee.test+json"
KEY = Ed25519PrivateKey.from_private_bytes(b"\x21" * 32)
OTHER = Ed25519PrivateKey.from_private_bytes(b"\x22" * 32)
TRUSTED = {"veritee-test": KEY.public_key()}
PAYLOAD = b'{"verdict":"allow"}'


def test_pae_matches_the_dsse_spec_vector() -> None:
    assert pae(SPEC_TYPE, SPEC_BODY) == SPEC_PAE


def test_dsse_spec_signature_verifies_over_our_pae() -> None:
    public = ec.EllipticCurvePublicNumbers(SPEC_P256_X, SPEC_P256_Y, ec.SECP256R1()).public_key()
    raw = base64.b64decode(SPEC_SIG)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, pae(SPEC_TYPE, SPEC_BODY), ec.ECDSA(hashes.SHA256()))


def test_pae_lengths_count_utf8_bytes_not_characters() -> None:
    assert pae("t\u00ffpe", b"\x00 \xff") == b"DSSEv1 5 t\xc3\xbfpe 3 \x00 \xff"
    assert pae("", b"") == b"DSSEv1 0  0 "


def _decode_pae(encoded: bytes) -> tuple[bytes, bytes]:
    """Read PAE back: the lengths make the encoding unambiguous, whatever the type and body hold."""
    magic, rest = encoded.split(b" ", 1)
    assert magic == b"DSSEv1"
    type_len, rest = rest.split(b" ", 1)
    payload_type, rest = rest[: int(type_len)], rest[int(type_len) :]
    assert rest[:1] == b" "
    body_len, body = rest[1:].split(b" ", 1)
    assert len(body) == int(body_len)
    assert str(int(type_len)).encode() == type_len
    assert str(int(body_len)).encode() == body_len
    return payload_type, body


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.binary(max_size=200))
def test_pae_decodes_back_to_exactly_its_type_and_body(payload_type: str, body: bytes) -> None:
    assert _decode_pae(pae(payload_type, body)) == (payload_type.encode(), body)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_sign_serialise_parse_verify_round_trip(payload: bytes) -> None:
    envelope = sign(PAYLOAD_TYPE, payload, "veritee-test", KEY)
    data = envelope.to_json()
    assert Envelope.from_json(data) == envelope
    assert verify(Envelope.from_json(data), PAYLOAD_TYPE, TRUSTED) == payload


def test_envelope_json_is_canonical_and_deterministic() -> None:
    data = sign(PAYLOAD_TYPE, PAYLOAD, "veritee-test", KEY).to_json()
    assert data == sign(PAYLOAD_TYPE, PAYLOAD, "veritee-test", KEY).to_json()
    assert jcs.canonicalize(json.loads(data)) == data
    assert list(json.loads(data)) == ["payload", "payloadType", "signatures"]


def _signed() -> Envelope:
    return sign(PAYLOAD_TYPE, PAYLOAD, "veritee-test", KEY)


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_envelope_under_another_payload_type_is_rejected() -> None:
    """Type confusion: a valid signature over one statement type must not pass as another."""
    with pytest.raises(VerificationError):
        verify(_signed(), "application/vnd.veritee.other+json", TRUSTED)
    relabelled = Envelope("application/vnd.veritee.other+json", PAYLOAD, _signed().signatures)
    with pytest.raises(VerificationError):
        verify(relabelled, "application/vnd.veritee.other+json", TRUSTED)


def test_envelope_without_signatures_is_rejected() -> None:
    with pytest.raises(VerificationError):
        verify(Envelope(PAYLOAD_TYPE, PAYLOAD, ()), PAYLOAD_TYPE, TRUSTED)


def test_envelope_with_two_signatures_is_rejected_even_if_both_are_valid() -> None:
    good = _signed().signatures[0]
    with pytest.raises(VerificationError):
        verify(Envelope(PAYLOAD_TYPE, PAYLOAD, (good, good)), PAYLOAD_TYPE, TRUSTED)


def test_envelope_by_an_unknown_key_id_is_rejected() -> None:
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, "stranger", OTHER)
    with pytest.raises(VerificationError):
        verify(envelope, PAYLOAD_TYPE, TRUSTED)


def test_envelope_signed_by_another_key_under_a_trusted_key_id_is_rejected() -> None:
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, "veritee-test", OTHER)
    with pytest.raises(VerificationError):
        verify(envelope, PAYLOAD_TYPE, TRUSTED)


@pytest.mark.parametrize("bit", [0, 7, 100, 255, 511], ids=lambda b: f"bit-{b}")
def test_flipped_signature_bit_is_rejected(bit: int) -> None:
    signature = _signed().signatures[0]
    tampered = Envelope(PAYLOAD_TYPE, PAYLOAD, (Signature(signature.keyid, _flip(signature.sig, bit)),))
    with pytest.raises(VerificationError):
        verify(tampered, PAYLOAD_TYPE, TRUSTED)


def test_every_flipped_payload_bit_is_rejected() -> None:
    signatures = _signed().signatures
    for bit in range(len(PAYLOAD) * 8):
        with pytest.raises(VerificationError):
            verify(Envelope(PAYLOAD_TYPE, _flip(PAYLOAD, bit), signatures), PAYLOAD_TYPE, TRUSTED)


def _envelope_json(**override: object) -> str:
    obj: dict[str, object] = json.loads(_signed().to_json())
    obj.update(override)
    return json.dumps({k: v for k, v in obj.items() if v is not None})


def test_url_safe_and_unpadded_base64_are_accepted_as_dsse_requires() -> None:
    envelope = _signed()
    sig = envelope.signatures[0]
    for encode in (base64.urlsafe_b64encode, lambda b: base64.b64encode(b).rstrip(b"=")):
        data = _envelope_json(
            payload=encode(PAYLOAD).decode(),
            signatures=[{"keyid": sig.keyid, "sig": encode(sig.sig).decode()}],
        )
        assert verify(Envelope.from_json(data), PAYLOAD_TYPE, TRUSTED) == PAYLOAD


MALFORMED = {
    "not-json": "{",
    "not-an-object": "[]",
    "duplicate-member": '{"payload":"","payload":"","payloadType":"t","signatures":[]}',
    "payload-missing": _envelope_json(payload=None),
    "payload-type-missing": _envelope_json(payloadType=None),
    "payload-type-not-string": _envelope_json(payloadType=1),
    "signatures-missing": _envelope_json(signatures=None),
    "signatures-not-list": _envelope_json(signatures={}),
    "signature-not-object": _envelope_json(signatures=["sig"]),
    "keyid-missing": _envelope_json(signatures=[{"sig": "AAAA"}]),
    "sig-not-string": _envelope_json(signatures=[{"keyid": "k", "sig": 5}]),
    "payload-not-base64": _envelope_json(payload="not base64!"),
    "payload-mixed-alphabets": _envelope_json(payload="ab+_"),
    "payload-bad-length": _envelope_json(payload="abcde"),
    "sig-non-ascii": _envelope_json(signatures=[{"keyid": "k", "sig": "\u00e9\u00e9\u00e9\u00e9"}]),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_is_a_format_error(data: str) -> None:
    with pytest.raises(FormatError):
        Envelope.from_json(data)


def test_dsse_spec_envelope_without_keyid_is_refused_at_parse() -> None:
    """The spec's example omits the optional keyid; veritee selects keys by it, so it is required."""
    example = json.dumps(
        {"payload": "aGVsbG8gd29ybGQ=", "payloadType": SPEC_TYPE, "signatures": [{"sig": SPEC_SIG}]}
    )
    with pytest.raises(FormatError):
        Envelope.from_json(example)
