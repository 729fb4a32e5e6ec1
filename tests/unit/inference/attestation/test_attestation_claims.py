"""Claims: canonical bytes, the report_data binding, domain separation and strict parsing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest

from audit_log import Mode
from audit_log.formats import jcs
from inference.attestation import (
    PRODUCTION_DOMAIN,
    SIMULATED_DOMAIN,
    AttestationFormatError,
    AuthorityKey,
    Claims,
    ClassifierArtefact,
    claims_digest,
    report_data,
)

NONCE = bytes(range(32))


def test_report_data_is_domain_separated_digest_of_jcs_claims_then_nonce(
    make_claims: Callable[..., Claims],
) -> None:
    claims = make_claims(Mode.PRODUCTION)
    expected = hashlib.sha256(b"veritee-attest/v1\x00" + jcs.canonicalize(claims.to_json_object())).digest()
    assert report_data(claims, NONCE) == expected + NONCE
    assert len(report_data(claims, NONCE)) == 64


def test_simulated_claims_hash_under_a_different_domain(make_claims: Callable[..., Claims]) -> None:
    simulated = make_claims(Mode.SIMULATED)
    assert PRODUCTION_DOMAIN != SIMULATED_DOMAIN
    assert claims_digest(simulated) == hashlib.sha256(SIMULATED_DOMAIN + simulated.canonical()).digest()


def test_relabelling_simulated_claims_as_production_changes_the_binding(
    make_claims: Callable[..., Claims],
) -> None:
    simulated = make_claims(Mode.SIMULATED)
    relabelled = Claims(**{**simulated.__dict__, "mode": Mode.PRODUCTION})
    assert report_data(simulated, NONCE) != report_data(relabelled, NONCE)


def test_simulated_claims_carry_a_sim_key_id(make_claims: Callable[..., Claims]) -> None:
    assert make_claims(Mode.SIMULATED).log_key_id.startswith("sim:")
    assert not make_claims(Mode.PRODUCTION).log_key_id.startswith("sim:")


def test_claims_round_trip_through_json(make_claims: Callable[..., Claims]) -> None:
    claims = make_claims()
    parsed = Claims.from_json_object(json.loads(claims.canonical()))
    assert parsed == claims
    assert parsed.canonical() == claims.canonical()


def test_list_order_does_not_change_the_claims_bytes(make_claims: Callable[..., Claims]) -> None:
    claims = make_claims()
    shuffled = Claims(
        **{
            **claims.__dict__,
            "classifiers": tuple(reversed(claims.classifiers)),
            "authority_keys": tuple(reversed(claims.authority_keys)),
        }
    )
    assert shuffled.canonical() == claims.canonical()
    assert [c.id for c in claims.classifiers] == ["learned", "patterns"]


def test_a_classifier_listed_twice_is_rejected(make_claims: Callable[..., Claims]) -> None:
    artefact = ClassifierArtefact("patterns", "1", bytes(32))
    with pytest.raises(AttestationFormatError, match="twice"):
        make_claims(classifiers=(artefact, artefact))


def test_an_authority_listed_twice_is_rejected(make_claims: Callable[..., Claims]) -> None:
    with pytest.raises(AttestationFormatError, match="twice"):
        make_claims(authority_keys=(AuthorityKey("ncmec", "a"), AuthorityKey("ncmec", "b")))


def test_nonce_must_be_32_bytes(make_claims: Callable[..., Claims]) -> None:
    with pytest.raises(AttestationFormatError, match="32 bytes"):
        report_data(make_claims(), bytes(31))


def test_wrong_sized_digests_are_rejected(make_claims: Callable[..., Claims]) -> None:
    with pytest.raises(AttestationFormatError, match="policy sha256"):
        make_claims(policy_sha256=bytes(31))
    with pytest.raises(AttestationFormatError, match="log signing key"):
        make_claims(log_signing_key=bytes(33))


def _claims_json(claims: Claims) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(claims.canonical())
    return parsed


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda o: o.update(extra="x"), "unexpected"),
        (lambda o: o.pop("policy_sha256"), "missing"),
        (lambda o: o.update(v=2), "version"),
        (lambda o: o.update(v=True), "version"),
        (lambda o: o.update(mode="staging"), "mode"),
        (lambda o: o.update(policy_sha256=str(o["policy_sha256"]).upper()), "lowercase hex"),
        (lambda o: o.update(log_key_id="sim:" + "0" * 64), "log_key_id"),
        (lambda o: o.update(service_version="has space"), "service version"),
        (lambda o: o.update(log_origin="line\nbreak"), "log origin"),
        (lambda o: o.update(classifiers=[{"id": "x", "version": "1"}]), "classifier"),
        (lambda o: o.update(authority_key_ids="ncmec"), "array"),
    ],
)
def test_malformed_claims_are_rejected_with_the_field_named(
    make_claims: Callable[..., Claims], edit: Callable[[dict[str, object]], object], message: str
) -> None:
    obj = _claims_json(make_claims())
    edit(obj)
    with pytest.raises(AttestationFormatError, match=message):
        Claims.from_json_object(obj)


def test_a_production_key_id_on_simulated_claims_is_rejected(make_claims: Callable[..., Claims]) -> None:
    obj = _claims_json(make_claims(Mode.SIMULATED))
    obj["log_key_id"] = str(obj["log_key_id"]).removeprefix("sim:")
    with pytest.raises(AttestationFormatError, match="log_key_id"):
        Claims.from_json_object(obj)
