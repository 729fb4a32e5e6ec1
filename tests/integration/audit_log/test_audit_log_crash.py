"""Crash safety: SIGKILL a process appending under load; every acknowledged entry survives.

A real child ``python`` process appends with 16 concurrent writers (and publishes checkpoints) and
prints each index only after ``append`` returned. It is killed with SIGKILL mid-run. Afterwards the
store must hold every acknowledged entry, accept new appends, and pass ``veritee log verify``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audit_store_support import ORIGIN

from audit_log import AuditLog, EntryKind, FileKeyStore, WriterConflict, open_store
from audit_log.checkpoint import CheckpointPolicy
from audit_log.merkle import leaf_hash
from audit_log.receipt import verify_receipt

CHILD = Path(__file__).with_name("crash_child.py")
VERITEE = str(Path(sys.executable).with_name("veritee"))
ACKS_BEFORE_KILL = 1500


def _run_until_killed(store_url: str, keys: FileKeyStore) -> dict[int, str]:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), store_url, str(keys.directory), ORIGIN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acknowledged: dict[int, str] = {}
    deadline = time.monotonic() + 120
    try:
        while len(acknowledged) < ACKS_BEFORE_KILL and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            index, leaf = line.split()
            acknowledged[int(index)] = leaf
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest, errors = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, errors
    for line in rest.splitlines(keepends=True):
        if line.endswith("\n"):  # A line cut short by the kill was never fully acknowledged.
            index, leaf = line.split()
            acknowledged[int(index)] = leaf
    assert len(acknowledged) >= ACKS_BEFORE_KILL, errors
    return acknowledged


def _reopen(store_url: str, keys: FileKeyStore) -> AuditLog:
    """The killed writer's lock goes with its process (PostgreSQL notices the closed socket)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return AuditLog.open(open_store(store_url), keys, origin=ORIGIN)
        except WriterConflict:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.slow
def test_sigkill_under_load_loses_no_acknowledged_entry(
    store_url: str, keys: FileKeyStore, tmp_path: Path
) -> None:
    acknowledged = _run_until_killed(store_url, keys)

    log = _reopen(store_url, keys)
    try:
        assert log.size > max(acknowledged)
        for index, leaf in acknowledged.items():
            # entry() opens the sealed entry and checks it against its stored leaf hash.
            assert leaf_hash(log.entry(index)).hex() == leaf
        last = max(acknowledged)
        receipt = log.receipt(last)
        verify_receipt(receipt, log.entry(last), CheckpointPolicy.of(ORIGIN, [log.verifier]))
        resumed = log.append_blocking(EntryKind.STARTUP, {"after": "crash"})
        assert resumed.index == log.size - 1
    finally:
        log.close()

    verify = subprocess.run(
        [VERITEE, "log", "verify", "--data-dir", str(tmp_path), "--db", store_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr
    assert "audit log OK" in verify.stdout
