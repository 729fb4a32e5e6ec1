"""Child process of the crash-safety test: appends under load and prints every acknowledged entry.

Usage: python crash_child.py STORE_URL KEYS_DIR ORIGIN. Each line on stdout is ``index leafhex``,
written only after ``append`` returned (the entry is durable). The parent kills this process with
SIGKILL at an arbitrary moment.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from audit_log import AuditLog, EntryKind, FileKeyStore, OutboxItem, open_store

WRITERS = 16


async def main(url: str, keys_dir: str, origin: str) -> None:
    log = AuditLog.open(open_store(url), FileKeyStore(Path(keys_dir)), origin=origin)

    async def writer(number: int) -> None:
        count = 0
        while True:
            result = await log.append(
                EntryKind.VERDICT,
                {"writer": number, "count": count},
                outbox=[OutboxItem("verdict", b"signed-verdict")],
                state={f"writer/{number}": count},
            )
            sys.stdout.write(f"{result.index} {result.leaf_hash.hex()}\n")
            sys.stdout.flush()
            count += 1

    async def publisher() -> None:
        while True:
            await asyncio.to_thread(log.publish_checkpoint)
            await asyncio.sleep(0.02)

    await asyncio.gather(publisher(), *(writer(n) for n in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
