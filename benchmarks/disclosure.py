"""Disclosure cost: seal+sign in the TEE and open+verify at the authority, per suite.

Target (issue 4): a disclosure costs < 0.5 ms in the TEE. "seal+sign" is the whole in-TEE path for
one disclosure: trigger evaluation, keyed session hash, statement, DSSE Ed25519 signature, padding
to 4,096 bytes, sealing, envelope JSON. "open+verify" is the authority's path: parse, decrypt,
unpad, DSSE verification, binding checks. Run from the repository root (as a module, so that this
file does not shadow the ``disclosure`` package): ``.venv/bin/python -m benchmarks.disclosure``.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_log import Mode
from disclosure import (
    Authority,
    AuthorityPrivateKey,
    DisclosureContext,
    DisclosureOpener,
    DisclosurePolicy,
    DisclosureRule,
    Ed25519DsseSigner,
    SessionHasher,
    SuiteName,
    disclosures_for,
    seal_disclosure,
)


def per_op_seconds(operation: Callable[[], object], iterations: int, rounds: int) -> list[float]:
    """Seconds per operation, one figure per round (the median of rounds resists noisy neighbours)."""
    operation()
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            operation()
        results.append((time.perf_counter() - start) / iterations)
    return results


def bench_suite(suite: SuiteName, iterations: int, rounds: int) -> None:
    authority_key = AuthorityPrivateKey.generate("ncmec", suite)
    policy = DisclosurePolicy(
        "bench", (Authority("ncmec", authority_key.public_key),), (DisclosureRule("csam", "ncmec"),)
    )
    log_key = Ed25519PrivateKey.generate()
    signer = Ed25519DsseSigner(log_key, Mode.PRODUCTION)
    sessions = SessionHasher(bytes(32))
    context = DisclosureContext(
        log_index=123_456,
        session_id="session-0001",
        content_sha256=hashlib.sha256(b"content").hexdigest(),
        policy_version="bench",
        attestation_sha256=hashlib.sha256(b"attestation").hexdigest(),
        mode=Mode.PRODUCTION,
        at=datetime.now(UTC),
    )

    def seal() -> bytes:
        (trigger,) = disclosures_for("csam", 0.9995, policy)
        sealed = seal_disclosure(trigger, seq=42, context=context, sessions=sessions, signer=signer)
        return sealed.envelope_bytes

    envelope = seal()
    opener = DisclosureOpener.production(authority_key, log_key.public_key())

    def open_() -> object:
        return opener.open(envelope)

    for name, operation in (("seal+sign", seal), ("open+verify", open_)):
        figures = per_op_seconds(operation, iterations, rounds)
        median = statistics.median(figures)
        print(
            f"{suite!s:18} {name:12} median {median * 1e3:6.3f} ms/op  "
            f"best {min(figures) * 1e3:6.3f} ms  {1 / median:8.0f} ops/s  "
            f"(envelope {len(envelope)} bytes, {rounds}x{iterations} ops)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for suite in SuiteName:
        bench_suite(suite, args.iterations, args.rounds)


if __name__ == "__main__":
    main()
