"""Authority keys: key ids, the private key file (clear and passphrase-encrypted), the policy entry."""

from __future__ import annotations

import hashlib
import json
import tomllib

import pytest

from audit_log.formats import jcs
from disclosure import (
    AuthorityPrivateKey,
    AuthorityPublicKey,
    DisclosurePolicy,
    KeyFileError,
    PolicyError,
    SuiteName,
    UnknownSuite,
    WrongPassphrase,
    authority_key_id,
    policy_entry_toml,
)

FAST = 14  # scrypt log2(N) for tests; key files written by the CLI use 17.


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_key_id_is_suite_prefixed_truncated_sha256_of_the_raw_public_key(suite: SuiteName) -> None:
    key = AuthorityPrivateKey.generate("ncmec", suite)
    raw = key.public_key.raw
    assert key.key_id == f"{suite}:{hashlib.sha256(raw).hexdigest()[:32]}"
    assert authority_key_id(suite, raw) == key.key_id


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_clear_key_file_round_trips(suite: SuiteName) -> None:
    key = AuthorityPrivateKey.generate("ncmec", suite)
    data = key.to_file_bytes()
    loaded = AuthorityPrivateKey.from_file_bytes(data)
    assert loaded == key
    assert loaded.key_id == key.key_id
    assert json.loads(data)["private_key"]


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_encrypted_key_file_round_trips_and_hides_the_key(suite: SuiteName) -> None:
    key = AuthorityPrivateKey.generate("ncmec", suite)
    data = key.to_file_bytes(b"correct horse", scrypt_log2_n=FAST)
    assert "private_key" not in json.loads(data)
    assert key.raw.hex() not in data.decode()
    assert key.raw not in data
    assert AuthorityPrivateKey.from_file_bytes(data, b"correct horse") == key


def test_wrong_passphrase_is_refused() -> None:
    data = AuthorityPrivateKey.generate("ncmec", SuiteName.HPKE_XWING).to_file_bytes(
        b"right", scrypt_log2_n=FAST
    )
    with pytest.raises(WrongPassphrase):
        AuthorityPrivateKey.from_file_bytes(data, b"wrong")


def test_encrypted_key_file_with_swapped_header_is_refused_as_wrong_passphrase() -> None:
    # The header is the associated data: relabelling the key for another authority breaks the tag.
    data = AuthorityPrivateKey.generate("ncmec", SuiteName.HPKE_XWING).to_file_bytes(
        b"pw", scrypt_log2_n=FAST
    )
    obj = json.loads(data)
    obj["authority"] = "fbi-wmd"
    with pytest.raises(WrongPassphrase):
        AuthorityPrivateKey.from_file_bytes(jcs.canonicalize(obj), b"pw")


def test_key_file_whose_public_key_is_not_its_own_is_refused() -> None:
    key, other = (AuthorityPrivateKey.generate("ncmec", SuiteName.X25519_SEALEDBOX) for _ in range(2))
    obj = json.loads(key.to_file_bytes())
    obj["public_key"], obj["key_id"] = other.public_key.to_base64(), other.key_id
    with pytest.raises(KeyFileError, match="does not belong"):
        AuthorityPrivateKey.from_file_bytes(jcs.canonicalize(obj))


@pytest.mark.parametrize(
    "change",
    [
        {"type": "something-else"},
        {"v": 2},
        {"authority": "Not An Id"},
        {"private_key": "***"},
        {"private_key": "AAAA"},
        {"extra": 1},
    ],
    ids=["type", "version", "authority", "base64", "short-key", "extra-field"],
)
def test_malformed_key_file_is_refused(change: dict[str, object]) -> None:
    obj = json.loads(AuthorityPrivateKey.generate("ncmec", SuiteName.X25519_SEALEDBOX).to_file_bytes())
    obj.update(change)
    with pytest.raises(KeyFileError):
        AuthorityPrivateKey.from_file_bytes(jcs.canonicalize(obj))


def test_key_file_with_unknown_suite_is_refused() -> None:
    obj = json.loads(AuthorityPrivateKey.generate("ncmec", SuiteName.X25519_SEALEDBOX).to_file_bytes())
    obj["suite"] = "rsa-oaep"
    with pytest.raises(UnknownSuite):
        AuthorityPrivateKey.from_file_bytes(jcs.canonicalize(obj))


def test_key_file_refuses_passphrase_confusion() -> None:
    key = AuthorityPrivateKey.generate("ncmec", SuiteName.X25519_SEALEDBOX)
    with pytest.raises(KeyFileError, match="not encrypted"):
        AuthorityPrivateKey.from_file_bytes(key.to_file_bytes(), b"pw")
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        AuthorityPrivateKey.from_file_bytes(key.to_file_bytes(b"pw", scrypt_log2_n=FAST))
    with pytest.raises(KeyFileError, match="empty"):
        key.to_file_bytes(b"")


def test_key_file_asking_for_huge_scrypt_cost_is_refused_before_deriving() -> None:
    obj = json.loads(
        AuthorityPrivateKey.generate("ncmec", SuiteName.X25519_SEALEDBOX).to_file_bytes(
            b"pw", scrypt_log2_n=FAST
        )
    )
    obj["encrypted_private_key"]["log2_n"] = 30
    with pytest.raises(KeyFileError, match="log2_n"):
        AuthorityPrivateKey.from_file_bytes(jcs.canonicalize(obj), b"pw")


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_policy_entry_loads_back_into_a_policy(suite: SuiteName) -> None:
    key = AuthorityPrivateKey.generate("ncmec", suite)
    entry = policy_entry_toml(key.public_key, "ncmec", 'National "Center"')
    document = tomllib.loads(
        'version = "1"\n[categories.csam]\nauthority = "ncmec"\ndisclosure_threshold = 0.9999\n' + entry
    )
    assert document["authorities"][0]["name"] == 'National "Center"'
    policy = DisclosurePolicy.from_policy_mapping(document)
    assert policy.authority("ncmec").key_id == key.key_id
    assert policy.authority_key_ids == (key.key_id,)
    assert key.key_id in entry


def test_public_key_of_the_wrong_length_for_its_suite_is_refused() -> None:
    sealedbox = AuthorityPrivateKey.generate("ncmec", SuiteName.X25519_SEALEDBOX).public_key
    with pytest.raises(PolicyError):
        AuthorityPublicKey.from_base64("hpke-xwing", sealedbox.to_base64())
    with pytest.raises(PolicyError):
        AuthorityPublicKey.from_base64("x25519-sealedbox", "not base64!")
