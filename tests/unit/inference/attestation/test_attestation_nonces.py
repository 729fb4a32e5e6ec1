"""Nonces are single-use within their TTL, memory stays bounded, and the clock is a parameter."""

from __future__ import annotations

import pytest

from inference.attestation import (
    AttestationFormatError,
    NonceReplayed,
    NonceStore,
    NonceStoreFull,
    parse_nonce,
)


class Clock:
    """A settable clock: the store takes time as a parameter."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def nonce(i: int) -> bytes:
    return i.to_bytes(32, "big")


def test_replayed_nonce_is_refused() -> None:
    store = NonceStore(ttl=60, clock=Clock())
    store.consume(nonce(1))
    with pytest.raises(NonceReplayed):
        store.consume(nonce(1))


def test_nonce_is_forgotten_after_its_ttl() -> None:
    clock = Clock()
    store = NonceStore(ttl=60, clock=clock)
    store.consume(nonce(1))
    clock.now += 59.9
    with pytest.raises(NonceReplayed):
        store.consume(nonce(1))
    clock.now += 0.2
    store.consume(nonce(1))
    assert store.live == 1


def test_full_store_refuses_rather_than_forgetting_a_live_nonce() -> None:
    clock = Clock()
    store = NonceStore(ttl=60, capacity=3, clock=clock)
    for i in range(3):
        store.consume(nonce(i))
        clock.now += 10
    with pytest.raises(NonceStoreFull) as refused:
        store.consume(nonce(99))
    assert refused.value.retry_after == 30
    with pytest.raises(NonceReplayed):
        store.consume(nonce(0))
    clock.now += 30
    store.consume(nonce(99))
    assert store.live == 3


def test_memory_is_bounded_under_a_flood() -> None:
    clock = Clock()
    store = NonceStore(ttl=1, capacity=100, clock=clock)
    for i in range(10_000):
        clock.now += 0.02
        store.consume(nonce(i))
    assert store.live <= 100


@pytest.mark.parametrize("text", ["", "00" * 31, "00" * 33, "AB" * 32, "zz" * 32, None, 12])
def test_malformed_nonces_are_rejected(text: object) -> None:
    with pytest.raises(AttestationFormatError, match="nonce"):
        parse_nonce(text)


def test_nonce_hex_parses() -> None:
    assert parse_nonce("ab" * 32) == b"\xab" * 32
