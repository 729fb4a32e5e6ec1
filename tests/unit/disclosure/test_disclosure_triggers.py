"""Trigger rules and the disclosure policy: only mapped categories, only at >= 0.999, hash for CSAM only."""

from __future__ import annotations

import math

import pytest
from disclosure_world import World

from disclosure import (
    Authority,
    AuthorityPrivateKey,
    DisclosureFormatError,
    DisclosurePolicy,
    DisclosureRule,
    PolicyError,
    SuiteName,
    disclosures_for,
)


def test_mapped_category_at_threshold_triggers_one_disclosure(world: World) -> None:
    (trigger,) = disclosures_for("csam", 0.999, world.policy)
    assert trigger.authority.id == "ncmec"
    assert trigger.include_content_hash


@pytest.mark.parametrize("category", ["bio", "chem", "cyber"])
def test_content_hash_is_only_for_csam(world: World, category: str) -> None:
    (trigger,) = disclosures_for(category, 1.0, world.policy)
    assert not trigger.include_content_hash


@pytest.mark.parametrize("confidence", [0.0, 0.5, 0.99, 0.998999, 0.9989999999999999])
def test_below_threshold_never_discloses(world: World, confidence: float) -> None:
    assert disclosures_for("csam", confidence, world.policy) == ()


def test_raised_threshold_is_honoured(world: World) -> None:
    assert disclosures_for("chem", 0.9994, world.policy) == ()
    assert len(disclosures_for("chem", 0.9995, world.policy)) == 1


@pytest.mark.parametrize("category", ["harassment", "self-harm", "none", "csam2"])
def test_unmapped_category_never_discloses_even_at_full_confidence(world: World, category: str) -> None:
    assert disclosures_for(category, 1.0, world.policy) == ()


@pytest.mark.parametrize("confidence", [math.nan, math.inf, -0.1, 1.0000001, True])
def test_malformed_confidence_is_an_error_not_a_disclosure(world: World, confidence: float) -> None:
    with pytest.raises(DisclosureFormatError):
        disclosures_for("csam", confidence, world.policy)


def test_category_mapped_to_two_authorities_discloses_to_both(world: World) -> None:
    policy = DisclosurePolicy(
        world.policy.policy_version,
        world.policy.authorities,
        (*world.policy.rules, DisclosureRule("cyber", "fbi-wmd")),
    )
    assert {t.authority.id for t in disclosures_for("cyber", 0.9999, policy)} == {"cisa", "fbi-wmd"}


@pytest.mark.parametrize("threshold", [0.5, 0.998, 0.99899, 1.01, math.nan, True])
def test_policy_lowering_the_disclosure_threshold_is_refused(threshold: float) -> None:
    with pytest.raises(PolicyError, match="threshold"):
        DisclosureRule("csam", "ncmec", threshold)


def test_policy_rule_naming_an_unknown_authority_is_refused(world: World) -> None:
    with pytest.raises(PolicyError, match="unknown authority"):
        DisclosurePolicy("v", world.policy.authorities, (DisclosureRule("csam", "interpol"),))


def test_policy_with_duplicate_authority_or_shared_key_is_refused() -> None:
    key = AuthorityPrivateKey.generate("ncmec", SuiteName.X25519_SEALEDBOX).public_key
    with pytest.raises(PolicyError, match="unique"):
        DisclosurePolicy("v", (Authority("ncmec", key), Authority("ncmec", key)), ())
    with pytest.raises(PolicyError, match="share"):
        DisclosurePolicy("v", (Authority("ncmec", key), Authority("cisa", key)), ())


def test_policy_mapping_reads_the_gateway_policy_shape(world: World) -> None:
    ncmec = world.authorities["ncmec"].public_key
    document = {
        "version": "7",
        "categories": {
            "csam": {
                "threshold": 0.5,
                "action": "block",
                "authority": "ncmec",
                "disclosure_threshold": 0.9999,
            },
            "harassment": {"threshold": 0.5, "action": "block"},
        },
        "authorities": [
            {"id": "ncmec", "name": "NCMEC", "suite": str(ncmec.suite), "public_key": ncmec.to_base64()}
        ],
    }
    policy = DisclosurePolicy.from_policy_mapping(document)
    assert policy.rules == (DisclosureRule("csam", "ncmec", 0.9999),)
    assert disclosures_for("csam", 0.99989, policy) == ()
    for lowered in (0.99, True, "0.9999"):
        document["categories"]["csam"]["disclosure_threshold"] = lowered  # type: ignore[index]
        with pytest.raises(PolicyError):
            DisclosurePolicy.from_policy_mapping(document)
