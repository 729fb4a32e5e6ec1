"""Single-use attestation nonces: a replay within the time to live is refused.

The caller's 32-byte nonce makes each attestation fresh for that caller; the gateway additionally
refuses to serve one nonce twice within ``ttl`` seconds, so a recorded exchange cannot be replayed
through it. Memory is bounded: at most ``capacity`` nonces are live, and when all are younger than
the TTL new ones are refused (fail closed, HTTP 429) rather than forgetting a live one. The clock is
a parameter (monotonic seconds). Thread-safe: attestation requests run in a thread pool.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from inference.attestation.claims import NONCE_SIZE
from inference.attestation.encoding import parse_hex
from inference.attestation.errors import NonceReplayed, NonceStoreFull


def parse_nonce(text: object) -> bytes:
    """Decode a nonce given as 64 lowercase hex digits (query parameter, CLI flag)."""
    return parse_hex(text, NONCE_SIZE, "nonce")


class NonceStore:
    def __init__(
        self,
        ttl: float = 300.0,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or capacity < 1:
            raise ValueError("nonce store needs ttl > 0 and capacity >= 1")
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # nonce -> expiry, oldest first
        self._lock = threading.Lock()

    @property
    def live(self) -> int:
        """How many nonces are remembered now (at most ``capacity``)."""
        with self._lock:
            return len(self._seen)

    def consume(self, nonce: bytes) -> None:
        """Record ``nonce`` as used; raise :class:`NonceReplayed` if it is still live."""
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
        with self._lock:
            now = self._clock()
            self._expire(now)
            if nonce in self._seen:
                raise NonceReplayed("this nonce was already used; send a fresh random nonce")
            if len(self._seen) >= self._capacity:
                oldest_expiry = next(iter(self._seen.values()))
                raise NonceStoreFull(retry_after=max(1, math.ceil(oldest_expiry - now)))
            self._seen[nonce] = now + self._ttl

    def _expire(self, now: float) -> None:
        # Expiries are appended in clock order, so expired nonces are always at the front.
        while self._seen:
            nonce, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[nonce]
