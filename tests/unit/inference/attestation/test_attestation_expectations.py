"""The verifier policy file: expected claims and the TCB status allow-list, parsed strictly."""

from __future__ import annotations

import json

import pytest

from inference.attestation import AttestationFormatError, ClassifierArtefact, PolicyFile


def test_full_policy_file_parses() -> None:
    policy = PolicyFile.from_json(
        json.dumps(
            {
                "v": 1,
                "allowed_tcb_statuses": ["UpToDate", "SWHardeningNeeded"],
                "expected_claims": {
                    "policy_sha256": "11" * 32,
                    "log_signing_key": "22" * 32,
                    "log_origin": "veritee.test/log",
                    "service_version": "0.1.0",
                    "classifiers": [{"id": "patterns", "version": "1", "sha256": "33" * 32}],
                    "authority_key_ids": [{"authority": "ncmec", "key_id": "k1"}],
                },
            }
        )
    )
    assert policy.allowed_tcb_statuses == {"UpToDate", "SWHardeningNeeded"}
    assert policy.expected_claims.policy_sha256 == b"\x11" * 32
    assert policy.expected_claims.classifiers == (ClassifierArtefact("patterns", "1", b"\x33" * 32),)
    assert policy.expected_claims.model_sha256 is None


def test_minimal_policy_file_allows_only_up_to_date() -> None:
    assert PolicyFile.from_json('{"v": 1}').allowed_tcb_statuses == {"UpToDate"}


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"v": 2},
        {"v": True},
        {"v": 1, "other": 1},
        {"v": 1, "allowed_tcb_statuses": ["UpToDate", "Revoked"]},
        {"v": 1, "allowed_tcb_statuses": "UpToDate"},
        {"v": 1, "expected_claims": {"policy_sha256": "AA" * 32}},
        {"v": 1, "expected_claims": {"policy_hash": "aa" * 32}},
        {"v": 1, "expected_claims": {"log_origin": 5}},
        {"v": 1, "expected_claims": {"classifiers": {}}},
    ],
)
def test_malformed_policy_files_are_rejected(obj: dict[str, object]) -> None:
    with pytest.raises(AttestationFormatError):
        PolicyFile.from_json(json.dumps(obj))
