"""Keyed session hashes: nobody links disclosures by guessing session ids, nor across authorities."""

from __future__ import annotations

import hashlib

import pytest

from disclosure import DisclosureFormatError, SessionHasher

SECRET = bytes(range(32))


def test_session_hash_is_stable_for_one_authority() -> None:
    sessions = SessionHasher(SECRET)
    assert sessions.session_id_hash("ncmec", "s-1") == SessionHasher(SECRET).session_id_hash("ncmec", "s-1")
    assert sessions.session_id_hash("ncmec", "s-1") != sessions.session_id_hash("ncmec", "s-2")


def test_two_authorities_cannot_link_the_same_session() -> None:
    sessions = SessionHasher(SECRET)
    assert sessions.session_id_hash("ncmec", "s-1") != sessions.session_id_hash("cisa", "s-1")
    assert sessions.authority_key("ncmec") != sessions.authority_key("cisa")


def test_guessing_the_session_id_does_not_give_the_hash_without_the_tee_secret() -> None:
    observed = SessionHasher(SECRET).session_id_hash("ncmec", "s-1")
    assert observed != hashlib.sha256(b"s-1").hexdigest()
    assert observed != SessionHasher(bytes(32)).session_id_hash("ncmec", "s-1")


def test_short_secret_or_bad_session_id_is_refused() -> None:
    with pytest.raises(DisclosureFormatError):
        SessionHasher(bytes(16))
    for bad in ("", "x" * 1025, "\ud800"):
        with pytest.raises(DisclosureFormatError):
            SessionHasher(SECRET).session_id_hash("ncmec", bad)
