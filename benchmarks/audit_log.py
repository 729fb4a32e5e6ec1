"""Audit log benchmarks: durable appends/s, proof latency, restart time, checkpoint sign/verify.

Prints figures; record them in benchmarks/RESULTS.md with the date and the machine. Examples::

    .venv/bin/python -m benchmarks.audit_log                       # everything, sizes up to 10^6
    .venv/bin/python -m benchmarks.audit_log --only appends --duration 5
    .venv/bin/python -m benchmarks.audit_log --only tree --sizes 10000,100000 --backends sqlite

(Run it as a module: as a file, its folder would come first on ``sys.path`` and its name would shadow
the ``audit_log`` package.)

Appends are measured with the process pinned to one CPU (``--cores 1``); PostgreSQL itself runs in
its own processes on whatever CPUs the machine has. Every append is durable when it returns
(SQLite WAL with synchronous=FULL, PostgreSQL with synchronous_commit=on).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run this benchmark as a module: python -m benchmarks.audit_log")

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from audit_log import AuditLog, EntryKind, FileKeyStore, open_store
from audit_log.checkpoint import Checkpoint, CheckpointPolicy, sign_checkpoint
from audit_log.formats.note import NoteSigner

ORIGIN = "bench.veritee.local/log"
PG_URL = os.environ.get("VERITEE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# A verdict-sized body: ids, hashes, a category, an action and a few numbers (no content, as in production).
BODY = {
    "verdict_id": "vd_01J9ZK3M8Q4R7T2W5X6Y8Z0A1B",
    "request_sha256": "9f2c1e4b7a5d3c8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdef",
    "risk_category": "none",
    "action": "allow",
    "policy_version": "2026.11.1",
    "scores": {"csam": 0.0001, "cbrn": 0.0023, "cyber": 0.0141},
    "latency_ms": 37,
}


@contextmanager
def store_url(backend: str, directory: Path) -> Iterator[str]:
    """A fresh, empty store location; PostgreSQL gets its own schema, dropped afterwards."""
    if backend == "sqlite":
        path = directory / f"bench-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def sustained_appends(log: AuditLog, writers: int, duration: float) -> int:
    """``writers`` concurrent callers, each awaiting one durable append after another."""
    deadline = time.perf_counter() + duration
    done = 0

    async def writer() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await log.append(EntryKind.VERDICT, BODY)
            done += 1

    await asyncio.gather(*(writer() for _ in range(writers)))
    return done


def bench_appends(backends: list[str], writer_counts: list[int], duration: float, directory: Path) -> None:
    print(f"\n## Durable appends (group commit), {duration:.0f} s per run")
    print(f"{'backend':<11}{'writers':>8}{'entries/s':>12}{'CPU us/entry':>14}{'entries':>10}")
    for backend in backends:
        for writers in writer_counts:
            with store_url(backend, directory) as url:
                keys = FileKeyStore(directory / f"keys-{uuid.uuid4().hex[:8]}")
                log = AuditLog.open(open_store(url), keys, origin=ORIGIN)
                asyncio.run(sustained_appends(log, writers, 0.5))  # Warm up connections and caches.
                cpu, wall = time.process_time(), time.perf_counter()
                done = asyncio.run(sustained_appends(log, writers, duration))
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                log.close()
            print(f"{backend:<11}{writers:>8}{done / wall:>12,.0f}{cpu / done * 1e6:>14.1f}{done:>10,}")


async def grow(log: AuditLog, target: int, report: Callable[[int], None]) -> None:
    """Append until the log holds ``target`` entries, with enough concurrency for big batches."""
    remaining, next_report = target - log.size, log.size + 100_000

    async def writer() -> None:
        nonlocal remaining, next_report
        while remaining > 0:
            remaining -= 1
            await log.append(EntryKind.VERDICT, BODY)
            if log.size >= next_report:
                next_report += 100_000
                report(log.size)

    await asyncio.gather(*(writer() for _ in range(2048)))


def _progress(backend: str, target: int) -> Callable[[int], None]:
    def report(size: int) -> None:
        print(f"   ... building the {backend} store: {size:,}/{target:,}", flush=True)

    return report


def _proof_latencies(log: AuditLog, samples: int) -> tuple[list[float], list[float]]:
    """Seconds per inclusion proof (random index, current size) and consistency proof (random old size)."""
    rng, size = random.Random(log.size), log.size
    inclusion, consistency = [], []
    for _ in range(samples):
        index, old = rng.randrange(size), rng.randint(1, size)
        start = time.perf_counter()
        log.inclusion_proof(index, size)
        middle = time.perf_counter()
        log.consistency_proof(old, size)
        inclusion.append(middle - start)
        consistency.append(time.perf_counter() - middle)
    return inclusion, consistency


def bench_tree(backends: list[str], sizes: list[int], samples: int, directory: Path) -> None:
    print("\n## Restart and proofs (one growing store per backend)")
    print(
        f"{'backend':<11}{'size':>10}{'restart p50 ms':>16}{'restart max ms':>16}"
        f"{'incl p50 us':>13}{'incl p99 us':>13}{'cons p50 us':>13}{'cons p99 us':>13}"
    )
    for backend in backends:
        with store_url(backend, directory) as url:
            keys = FileKeyStore(directory / f"keys-{uuid.uuid4().hex[:8]}")
            log = AuditLog.open(open_store(url), keys, origin=ORIGIN)
            for size in sizes:
                started = time.perf_counter()
                asyncio.run(grow(log, size, _progress(backend, size)))
                print(f"   built {size:,} entries in {time.perf_counter() - started:.0f} s", flush=True)
                log.publish_checkpoint()
                restarts = []
                for _ in range(7):
                    log.close()
                    start = time.perf_counter()
                    log = AuditLog.open(open_store(url), keys, origin=ORIGIN)
                    restarts.append(time.perf_counter() - start)
                inclusion, consistency = _proof_latencies(log, samples)
                print(
                    f"{backend:<11}{log.size:>10,}"
                    f"{statistics.median(restarts) * 1e3:>16.1f}{max(restarts) * 1e3:>16.1f}"
                    f"{percentile(inclusion, 0.5) * 1e6:>13.0f}{percentile(inclusion, 0.99) * 1e6:>13.0f}"
                    f"{percentile(consistency, 0.5) * 1e6:>13.0f}"
                    f"{percentile(consistency, 0.99) * 1e6:>13.0f}",
                    flush=True,
                )
            log.close()


def bench_checkpoints(duration: float, directory: Path) -> None:
    print("\n## Checkpoints")
    keys = FileKeyStore(directory / f"keys-{uuid.uuid4().hex[:8]}")
    signer = NoteSigner(ORIGIN, keys.log_key().private_key)
    policy = CheckpointPolicy.of(ORIGIN, [signer.verifier])
    checkpoint = Checkpoint(ORIGIN, 1_000_000, os.urandom(32))
    note = sign_checkpoint(checkpoint, signer)
    for label, call in (
        ("sign (C2SP note, Ed25519)", lambda: sign_checkpoint(checkpoint, signer)),
        ("verify (parse + Ed25519)", lambda: policy.verify(note)),
    ):
        count, deadline = 0, time.perf_counter() + duration
        while time.perf_counter() < deadline:
            call()
            count += 1
        print(f"{label:<28}{count / duration:>10,.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["appends", "tree", "checkpoints"], action="append")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--writers", default="1,32,256")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per append run")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--samples", type=int, default=10_000, help="proofs timed per size")
    parser.add_argument("--cores", type=int, default=1, help="CPUs to pin this process to (0: no pinning)")
    parser.add_argument("--dir", type=Path, help="where SQLite stores go (default: a temporary directory)")
    args = parser.parse_args()
    if args.cores:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    print(f"pinned to CPUs {sorted(os.sched_getaffinity(0))}; PostgreSQL at {PG_URL}")
    backends = args.backends.split(",")
    chosen = set(args.only or ["appends", "tree", "checkpoints"])
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        directory = Path(scratch)
        if "appends" in chosen:
            bench_appends(backends, [int(w) for w in args.writers.split(",")], args.duration, directory)
        if "tree" in chosen:
            bench_tree(backends, [int(s) for s in args.sizes.split(",")], args.samples, directory)
        if "checkpoints" in chosen:
            bench_checkpoints(2.0, directory)


if __name__ == "__main__":
    main()
