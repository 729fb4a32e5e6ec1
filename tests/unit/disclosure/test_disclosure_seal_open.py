"""Seal in the TEE, open at the authority: the round trip and every attack on the envelope."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from disclosure_world import AT, ATTESTATION_SHA256, SESSION_SECRET, World

from audit_log import Mode, signing_key_id
from audit_log.formats import dsse, jcs
from disclosure import (
    PAYLOAD_TYPE,
    AuthorityPrivateKey,
    DisclosureContext,
    DisclosureEnvelope,
    DisclosureFormatError,
    DisclosureOpener,
    Ed25519DsseSigner,
    ForgedDisclosure,
    MisaddressedEnvelope,
    OpenError,
    SealError,
    SessionHasher,
    SimulatedDisclosure,
    Statement,
    SuiteName,
    UnknownSuite,
    disclosures_for,
    seal_disclosure,
)
from disclosure.statement import pad, unpad
from disclosure.suites import get_suite


def rewrite(envelope: bytes, **changes: object) -> bytes:
    """The relay's power: change clear fields of the envelope JSON."""
    obj = json.loads(envelope)
    obj.update(changes)
    return jcs.canonicalize(obj)


def reseal(world: World, envelope: bytes, plaintext: bytes, authority: str = "ncmec") -> bytes:
    """Anyone can seal to a public key: replace the ciphertext with one of the attacker's choice."""
    parsed = DisclosureEnvelope.from_json(envelope)
    public = world.authorities[authority].public_key.raw
    ciphertext = get_suite(parsed.suite).seal(plaintext, public, parsed.binding_info())
    return dataclasses.replace(parsed, ciphertext=ciphertext).to_json()


def decrypt(world: World, envelope: bytes, authority: str = "ncmec") -> bytes:
    parsed = DisclosureEnvelope.from_json(envelope)
    padded = get_suite(parsed.suite).open(
        parsed.ciphertext, world.authorities[authority].raw, parsed.binding_info()
    )
    return unpad(padded)


def test_round_trip_returns_exactly_the_signed_statement(world: World) -> None:
    sealed = world.seal("csam", 0.9995, seq=3, log_index=41, session_id="s-1", content="text")
    opened = world.opener().open(sealed.envelope_bytes)
    statement = opened.statement
    assert statement == Statement(
        disclosure_id=sealed.envelope.disclosure_id,
        authority="ncmec",
        authority_key_id=world.authorities["ncmec"].key_id,
        suite=world.suite,
        seq=3,
        risk_category="csam",
        confidence=0.9995,
        session_id_hash=world.sessions.session_id_hash("ncmec", "s-1"),
        content_hash=hashlib.sha256(b"text").hexdigest(),
        policy_version="2026.03-test",
        timestamp="2026-03-14T15:09:26Z",
        log_index=41,
        attestation_sha256=ATTESTATION_SHA256,
        mode=Mode.PRODUCTION,
    )
    assert opened.statement_json == statement.to_json()
    assert opened.signer_key_id == signing_key_id(world.log_key.public_key(), Mode.PRODUCTION)
    assert sealed.envelope.created_at == "2026-03-14T15:09:00Z"


def test_non_csam_statement_carries_no_content_hash(world: World) -> None:
    opened = world.opener("cisa").open(world.seal("cyber", 1.0).envelope_bytes)
    assert opened.statement.content_hash is None
    assert "content_hash" not in json.loads(opened.statement_json)
    assert opened.statement.confidence == 1.0


def test_envelope_shows_no_category_or_confidence(world: World) -> None:
    obj = json.loads(world.seal("csam", 0.9995).envelope_bytes)
    assert set(obj) == {
        "v",
        "disclosure_id",
        "authority",
        "authority_key_id",
        "suite",
        "seq",
        "created_at",
        "log_index",
        "ciphertext",
    }


def test_every_envelope_has_the_same_size_whatever_it_says(world: World) -> None:
    variants = [
        world.seal("csam", 0.999, content="a", session_id="s"),
        world.seal("csam", 0.99999999999, content="x" * 100_000, session_id="a-much-longer-session-id" * 20),
        world.seal("bio", 1.0, session_id="s"),
        world.seal("chem", 0.9995123456789, session_id="other"),
        world.seal("cyber", 0.9991, session_id="s"),
    ]
    ciphertext_sizes = {len(v.envelope.ciphertext) for v in variants}
    assert ciphertext_sizes == {get_suite(world.suite).ciphertext_size(4096)}
    # Clear fields of equal length (same authority, seq and log index) give byte-for-byte equal lengths.
    assert len({len(v.envelope_bytes) for v in variants if v.envelope.authority == "fbi-wmd"}) == 1
    assert len(variants[0].envelope_bytes) == len(variants[1].envelope_bytes)


def test_wrong_authority_key_refuses_before_decrypting(world: World) -> None:
    sealed = world.seal("csam")
    with pytest.raises(MisaddressedEnvelope, match="addressed to ncmec"):
        world.opener("fbi-wmd").open(sealed.envelope_bytes)


def test_wrong_private_key_under_the_right_key_id_is_an_opaque_open_error(world: World) -> None:
    sealed = world.seal("csam")
    impostor = AuthorityPrivateKey.generate("ncmec", world.suite)
    readdressed = rewrite(sealed.envelope_bytes, authority_key_id=impostor.key_id)
    with pytest.raises(OpenError) as caught:
        DisclosureOpener.production(impostor, world.log_key.public_key()).open(readdressed)
    assert str(caught.value) == str(OpenError())


@pytest.mark.parametrize("position", [0, 31, 32, 1119, 1120, 2000, -17, -1])
def test_tampered_ciphertext_is_an_opaque_open_error(world: World, position: int) -> None:
    sealed = world.seal("csam")
    ciphertext = bytearray(sealed.envelope.ciphertext)
    ciphertext[position] ^= 0x01
    tampered = rewrite(sealed.envelope_bytes, ciphertext=base64.b64encode(bytes(ciphertext)).decode())
    with pytest.raises(OpenError):
        world.opener().open(tampered)


def test_empty_ciphertext_is_bad_input(world: World) -> None:
    with pytest.raises(DisclosureFormatError):
        world.opener().open(rewrite(world.seal("csam").envelope_bytes, ciphertext=""))


@pytest.mark.parametrize("keep", [1, 31, 48, 1120, 4000, -1])
def test_truncated_ciphertext_is_an_opaque_open_error(world: World, keep: int) -> None:
    sealed = world.seal("csam")
    truncated = sealed.envelope.ciphertext[:keep]
    with pytest.raises(OpenError):
        world.opener().open(rewrite(sealed.envelope_bytes, ciphertext=base64.b64encode(truncated).decode()))


def test_envelope_readdressed_to_another_disclosure_id_is_caught(world: World) -> None:
    sealed = world.seal("csam")
    readdressed = rewrite(sealed.envelope_bytes, disclosure_id="0" * 32)
    # HPKE binds the id through info (opening fails); a sealed box cannot, the signed statement does.
    expected = OpenError if world.suite is SuiteName.HPKE_XWING else ForgedDisclosure
    with pytest.raises(expected):
        world.opener().open(readdressed)


def test_envelope_readdressed_to_another_authority_holding_the_same_key_is_caught(world: World) -> None:
    sealed = world.seal("csam")
    # A second authority entry that (by mistake or malice) shares ncmec's key material.
    relabelled = AuthorityPrivateKey("fbi-wmd", world.suite, world.authorities["ncmec"].raw)
    readdressed = rewrite(sealed.envelope_bytes, authority="fbi-wmd")
    expected = OpenError if world.suite is SuiteName.HPKE_XWING else ForgedDisclosure
    with pytest.raises(expected):
        DisclosureOpener.production(relabelled, world.log_key.public_key()).open(readdressed)


@pytest.mark.parametrize(
    ("field", "value"),
    [("seq", 2), ("log_index", 40), ("created_at", "2026-03-14T15:10:00Z")],
)
def test_envelope_with_rewritten_clear_field_is_forged(world: World, field: str, value: object) -> None:
    sealed = world.seal("csam", seq=1, log_index=41)
    with pytest.raises(ForgedDisclosure, match=field):
        world.opener().open(rewrite(sealed.envelope_bytes, **{field: value}))


def test_envelope_readdressed_to_another_suite_is_refused(world: World) -> None:
    sealed = world.seal("csam")
    other = next(s for s in SuiteName if s is not world.suite)
    with pytest.raises(MisaddressedEnvelope):
        world.opener().open(rewrite(sealed.envelope_bytes, suite=str(other)))


def test_unknown_suite_is_bad_input(world: World) -> None:
    sealed = world.seal("csam")
    with pytest.raises(UnknownSuite, match="unknown suite"):
        world.opener().open(rewrite(sealed.envelope_bytes, suite="rsa-oaep"))


def test_statement_signed_by_a_key_other_than_the_tee_log_key_is_forged(world: World) -> None:
    outsider = dataclasses.replace(world, log_key=Ed25519PrivateKey.generate())
    sealed = outsider.seal("csam")
    with pytest.raises(ForgedDisclosure, match="signature"):
        world.opener().open(sealed.envelope_bytes)


def test_statement_altered_and_resealed_is_forged(world: World) -> None:
    sealed = world.seal("csam", 0.9995)
    signed = dsse.Envelope.from_json(decrypt(world, sealed.envelope_bytes))
    payload = json.loads(signed.payload)
    payload["risk_category"], payload["confidence"] = "cyber", 0.5
    del payload["content_hash"]
    altered = dataclasses.replace(signed, payload=jcs.canonicalize(payload))
    with pytest.raises(ForgedDisclosure, match="signature"):
        world.opener().open(reseal(world, sealed.envelope_bytes, pad(altered.to_json())))


def test_signature_by_the_tee_key_over_another_payload_type_is_forged(world: World) -> None:
    sealed = world.seal("csam")
    signed = dsse.Envelope.from_json(decrypt(world, sealed.envelope_bytes))
    keyid = signed.signatures[0].keyid
    other = dsse.sign("application/vnd.veritee.verdict+json", signed.payload, keyid, world.log_key)
    with pytest.raises(ForgedDisclosure, match="payloadType"):
        world.opener().open(reseal(world, sealed.envelope_bytes, pad(other.to_json())))


def test_genuine_statement_moved_into_another_envelope_is_forged(world: World) -> None:
    first, second = world.seal("csam", seq=1), world.seal("csam", seq=2)
    moved = reseal(world, second.envelope_bytes, pad(decrypt(world, first.envelope_bytes)))
    with pytest.raises(ForgedDisclosure, match="re-addressed"):
        world.opener().open(moved)


def test_decrypted_plaintext_that_is_not_dsse_is_forged(world: World) -> None:
    sealed = world.seal("csam")
    with pytest.raises(ForgedDisclosure, match="not a DSSE"):
        world.opener().open(reseal(world, sealed.envelope_bytes, pad(b'{"not": "dsse"}')))


@pytest.mark.parametrize(
    "plaintext",
    [b"", b"\x00" * 4096, b"x" * 4096, b"x" * 4095 + b"\x01", pad(b"x")[:-1] + b"\x01", pad(b"x") + b"\x00"],
    ids=["empty", "all-zero", "no-marker", "marker-missing", "non-zero-tail", "too-long"],
)
def test_bad_padding_is_an_opaque_open_error(world: World, plaintext: bytes) -> None:
    sealed = world.seal("csam")
    with pytest.raises(OpenError):
        world.opener().open(reseal(world, sealed.envelope_bytes, plaintext))


def test_simulated_statement_is_refused_by_the_production_opener(
    world_factory: Callable[..., World], caplog: pytest.LogCaptureFixture
) -> None:
    for suite in SuiteName:
        simulated = world_factory(suite, Mode.SIMULATED)
        sealed = simulated.seal("csam")
        with pytest.raises(SimulatedDisclosure, match="SIMULATED"):
            simulated.opener().open(sealed.envelope_bytes)
        with caplog.at_level(logging.WARNING, logger="disclosure.open"):
            opened = simulated.opener(accept_simulated=True).open(sealed.envelope_bytes)
        assert opened.statement.mode is Mode.SIMULATED
        assert opened.signer_key_id.startswith("sim:")
        assert "SIMULATED" in caplog.text


def test_production_statement_signed_under_a_simulated_key_id_is_forged(world: World) -> None:
    sealed = world.seal("csam")
    signed = dsse.Envelope.from_json(decrypt(world, sealed.envelope_bytes))
    sim_keyid = signing_key_id(world.log_key.public_key(), Mode.SIMULATED)
    relabelled = dsse.sign(PAYLOAD_TYPE, signed.payload, sim_keyid, world.log_key)
    with pytest.raises(ForgedDisclosure, match="mode production"):
        world.opener(accept_simulated=True).open(
            reseal(world, sealed.envelope_bytes, pad(relabelled.to_json()))
        )


def test_tee_refuses_to_sign_a_production_statement_with_a_simulated_key(world: World) -> None:
    (trigger,) = disclosures_for("csam", 0.9995, world.policy)
    context = DisclosureContext(41, "s", "ab" * 32, "v", ATTESTATION_SHA256, Mode.PRODUCTION, AT)
    with pytest.raises(SealError, match="mode"):
        seal_disclosure(
            trigger,
            seq=1,
            context=context,
            sessions=SessionHasher(SESSION_SECRET),
            signer=Ed25519DsseSigner(world.log_key, Mode.SIMULATED),
        )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda obj: b"not json",
        lambda obj: jcs.canonicalize([obj]),
        lambda obj: jcs.canonicalize({**obj, "risk_category": "csam"}),
        lambda obj: jcs.canonicalize({k: v for k, v in obj.items() if k != "seq"}),
        lambda obj: jcs.canonicalize({**obj, "v": 2}),
        lambda obj: jcs.canonicalize({**obj, "seq": 0}),
        lambda obj: jcs.canonicalize({**obj, "seq": True}),
        lambda obj: jcs.canonicalize({**obj, "log_index": -1}),
        lambda obj: jcs.canonicalize({**obj, "ciphertext": "***"}),
        lambda obj: jcs.canonicalize({**obj, "authority": "NCMEC!"}),
        lambda obj: jcs.canonicalize({**obj, "created_at": "yesterday"}),
        lambda obj: json.dumps(obj).encode()[:-1],
        lambda obj: b'{"v":1,"v":1}',
    ],
    ids=[
        "not-json",
        "array",
        "extra-field",
        "missing-field",
        "version",
        "seq-zero",
        "seq-bool",
        "negative-index",
        "bad-base64",
        "bad-authority",
        "bad-time",
        "truncated-json",
        "duplicate-key",
    ],
)
def test_malformed_envelope_json_is_bad_input(
    world: World, mutate: Callable[[dict[str, object]], bytes]
) -> None:
    obj = json.loads(world.seal("csam").envelope_bytes)
    with pytest.raises(DisclosureFormatError):
        world.opener().open(mutate(obj))


def test_unpadded_statement_never_exceeds_the_padded_size() -> None:
    # The largest statement the field limits allow, signed under a simulated key id (the longer one).
    statement = Statement(
        disclosure_id="f" * 32,
        authority="a" * 32,
        authority_key_id="x25519-sealedbox:" + "f" * 32,
        suite=SuiteName.X25519_SEALEDBOX,
        seq=2**53 - 1,
        risk_category="z" * 64,
        confidence=0.12345678901234568,
        session_id_hash="f" * 64,
        content_hash=None,
        policy_version="\U0001f600" * 128,
        timestamp="2026-12-31T23:59:59Z",
        log_index=2**53 - 1,
        attestation_sha256="f" * 64,
        mode=Mode.SIMULATED,
    )
    csam = dataclasses.replace(statement, risk_category="csam", content_hash="f" * 64)
    key = Ed25519PrivateKey.generate()
    for candidate in (statement, csam):
        signed = dsse.sign(PAYLOAD_TYPE, candidate.to_json(), "sim:" + "f" * 64, key)
        assert len(signed.to_json()) < 4096
        assert len(pad(signed.to_json())) == 4096
