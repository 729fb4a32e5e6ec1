"""policy.toml validation: a typo, a weakened disclosure floor or a dangling authority never starts.

Each test changes one line of a valid policy and expects :class:`ConfigError` naming where the
problem is; the valid policy itself must load (so every refusal is caused by the change).
"""

from __future__ import annotations

import pytest

from disclosure import AuthorityPrivateKey, SuiteName, policy_entry_toml
from inference.errors import ConfigError
from inference.policy import MIN_DISCLOSURE_THRESHOLD, Policy, shipped_policy_bytes

AUTHORITY = policy_entry_toml(
    AuthorityPrivateKey.generate("cisa", SuiteName("x25519-sealedbox")).public_key, "cisa", "CISA (test)"
)
VALID = f"""
schema_version = 1
version = "test/1"

[categories.cyber]
threshold = 0.5
action = "block"
disclosure_threshold = 0.999
authority = "cisa"

[categories.bio]
threshold = 0.6
action = "redact"

[categories.chem]
threshold = 0.5
action = "block"

[categories.csam]
threshold = 0.4
action = "block"

[classifiers]
timeout_ms = 500

[streaming]
window_chars = 128
overlap_chars = 32

[limits]
max_messages = 10

{AUTHORITY}
"""


def load(text: str) -> Policy:
    return Policy.from_bytes(text.encode(), "test-policy.toml")


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text).disclosure_policy()
    return str(caught.value)


def test_the_valid_policy_loads_with_its_authority() -> None:
    policy = load(VALID)
    assert policy.version == "test/1"
    assert policy.model.categories["bio"].action == "redact"
    assert policy.model.streaming.window_chars == 128
    assert [a.id for a in policy.disclosure_policy().authorities] == ["cisa"]


def test_hash_is_over_the_exact_bytes() -> None:
    assert load(VALID).sha256 != load(VALID + "\n").sha256
    assert load(VALID).sha256 == load(VALID).sha256


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('version = "test/1"', 'version = "test/1"\nverison = "x"', "verison"),
        ('action = "redact"', 'action = "redact"\nthreshhold = 0.2', "categories.bio.threshhold"),
        ("timeout_ms = 500", "timeout_ms = 500\nlearned_layer = false", "classifiers.learned_layer"),
        ("overlap_chars = 32", "overlap_chars = 32\nwindow = 64", "streaming.window"),
        ("max_messages = 10", "max_messages = 10\nmax_mesages = 3", "limits.max_mesages"),
        ('suite = "x25519-sealedbox"', 'suite = "x25519-sealedbox"\nemail = "x"', "authorities.0.email"),
    ],
)
def test_unknown_key_is_refused_by_name(old: str, new: str, where: str) -> None:
    assert where in refused(VALID.replace(old, new, 1))


@pytest.mark.parametrize("threshold", ["0.99", "0.9989", "0.5", "0"])
def test_disclosure_threshold_below_the_floor_is_refused(threshold: str) -> None:
    message = refused(VALID.replace("disclosure_threshold = 0.999", f"disclosure_threshold = {threshold}"))
    assert "disclosure_threshold" in message
    assert str(MIN_DISCLOSURE_THRESHOLD) in message


def test_disclosure_threshold_at_the_floor_or_above_is_accepted() -> None:
    for threshold in ("0.999", "0.9995", "1.0"):
        load(VALID.replace("disclosure_threshold = 0.999", f"disclosure_threshold = {threshold}"))


def test_boolean_disclosure_threshold_is_not_read_as_one() -> None:
    assert "disclosure_threshold" in refused(
        VALID.replace("disclosure_threshold = 0.999", "disclosure_threshold = true")
    )


def test_string_threshold_is_not_coerced() -> None:
    assert "categories.cyber.threshold" in refused(VALID.replace("threshold = 0.5", 'threshold = "0.5"'))


def test_category_naming_an_unknown_authority_is_refused() -> None:
    assert "unknown authority ncmec" in refused(VALID.replace('authority = "cisa"', 'authority = "ncmec"'))


def test_authority_without_a_disclosure_threshold_is_refused() -> None:
    assert "go together" in refused(VALID.replace("disclosure_threshold = 0.999\n", ""))


def test_disclosing_category_that_does_not_block_is_refused() -> None:
    text = VALID.replace('threshold = 0.5\naction = "block"', 'threshold = 0.5\naction = "redact"')
    assert "must block" in refused(text)


def test_duplicate_authority_ids_are_refused() -> None:
    assert "unique" in refused(VALID + "\n" + AUTHORITY)


def test_authority_key_that_does_not_parse_is_refused() -> None:
    broken = VALID.replace(
        'suite = "x25519-sealedbox"\npublic_key = "', 'suite = "x25519-sealedbox"\npublic_key = "AAAA'
    )
    assert "authorities are invalid" in refused(broken)


def test_authority_key_for_another_suite_is_refused() -> None:
    assert "authorities are invalid" in refused(
        VALID.replace('suite = "x25519-sealedbox"', 'suite = "hpke-xwing"')
    )


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("overlap_chars = 32", "overlap_chars = 128", "streaming"),
        ("window_chars = 128", "window_chars = 8", "streaming.window_chars"),
        ("timeout_ms = 500", "timeout_ms = 0", "classifiers.timeout_ms"),
        ("max_messages = 10", "max_messages = 0", "limits.max_messages"),
        ('action = "redact"', 'action = "warn"', "categories.bio.action"),
        ("threshold = 0.6", "threshold = 1.5", "categories.bio.threshold"),
        ("schema_version = 1", "schema_version = 2", "schema_version"),
        ('version = "test/1"', 'version = ""', "version"),
    ],
)
def test_out_of_range_values_are_refused(old: str, new: str, where: str) -> None:
    assert where in refused(VALID.replace(old, new, 1))


def test_missing_categories_are_refused() -> None:
    text = VALID.split("[categories.cyber]")[0] + "\n[classifiers]\n"
    assert "categories" in refused(text)


def test_category_left_out_is_refused_at_load_not_at_every_request() -> None:
    text = VALID.replace('[categories.csam]\nthreshold = 0.4\naction = "block"\n', "")
    assert "missing ['csam']" in refused(text)


def test_category_no_classifier_reports_is_refused() -> None:
    text = VALID.replace(
        "[categories.csam]", '[categories.weapons]\nthreshold = 0.5\naction = "block"\n\n[categories.csam]'
    )
    assert "weapons" in refused(text)


def test_invalid_toml_and_encoding_are_refused() -> None:
    assert "not valid TOML" in refused(VALID + "\n[categories.cyber\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Policy.from_bytes(b"version = \xff\xfe", "bad.toml")


def test_shipped_policy_names_authorities_it_does_not_carry() -> None:
    # The shipped file lists no keys: on its own it must not load (simulated mode adds demo keys,
    # production needs an explicit policy with the real ones).
    with pytest.raises(ConfigError, match="unknown authority"):
        Policy.from_bytes(shipped_policy_bytes(), "default-policy.toml")
