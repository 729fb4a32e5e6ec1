"""Intel TDX quotes through Linux configfs-tsm (``/sys/kernel/config/tsm/report``).

Spec: Linux ``Documentation/ABI/testing/configfs-tsm-report`` (since 6.7); the steps follow the
vectors' README:

1. ``mkdir <root>/<name>``: one fresh entry per request, so concurrent requests never share one.
2. ``provider`` must read ``tdx_guest`` (checked before any report data is written).
3. Write exactly 64 bytes to ``inblob``: they become the TD report's REPORTDATA.
4. Read ``outblob``: the kernel asks the host's Quote Generation Service and blocks (seconds).
   ``EBUSY``, ``EIO`` and ``ETIMEDOUT`` are retried with exponential backoff on a fresh entry.
5. ``generation`` must read ``1``: anything else means another writer touched the entry, so the
   quote may not carry our report data and is discarded.
6. ``rmdir`` the entry, whatever happened.

``mkdir`` and ``rmdir`` go through :class:`ConfigfsItems`, because on configfs those two calls
create and drop the attribute files, which no ordinary file system does; a user-space stand-in (the
tests' mimic, dstack's simulator) supplies the same behaviour. Everything else is plain file IO.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from audit_log import Mode
from inference.attestation.claims import REPORT_DATA_SIZE
from inference.attestation.document import Platform
from inference.attestation.errors import (
    AttestationFormatError,
    ProviderUnavailable,
    QuoteGenerationFailed,
)
from inference.attestation.tdx_quote import MAX_QUOTE_SIZE, parse_tdx_quote

DEFAULT_CONFIGFS_ROOT = Path("/sys/kernel/config/tsm/report")
TDX_PROVIDER = "tdx_guest"
RETRYABLE_ERRNOS = frozenset({errno.EBUSY, errno.EIO, errno.ETIMEDOUT})

logger = logging.getLogger(__name__)


class ConfigfsItems(Protocol):
    """Creates and removes configfs items (directories whose attribute files the kernel manages)."""

    def create(self, path: Path) -> None: ...

    def remove(self, path: Path) -> None: ...


class LinuxConfigfs:
    """The real configfs: ``mkdir(2)`` populates an item's attributes, ``rmdir(2)`` drops them."""

    def create(self, path: Path) -> None:
        os.mkdir(path, 0o700)

    def remove(self, path: Path) -> None:
        os.rmdir(path)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a busy or failing Quote Generation Service is retried."""

    attempts: int = 5
    first_delay: float = 0.1
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_delay < 0 or self.max_delay < self.first_delay:
            raise ValueError("retry policy needs attempts >= 1 and 0 <= first_delay <= max_delay")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        return float(min(self.max_delay, self.first_delay * 2**attempt))


@dataclass
class ConfigfsTsmProvider:
    """A TDX quote provider over configfs-tsm; production mode's only provider."""

    root: Path = DEFAULT_CONFIGFS_ROOT
    items: ConfigfsItems = field(default_factory=LinuxConfigfs)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    @property
    def mode(self) -> Mode:
        return Mode.PRODUCTION

    @property
    def platform(self) -> Platform:
        return Platform.INTEL_TDX

    def self_test(self) -> None:
        """Prove the provider works: quote fresh random data and find it in a TDX quote.

        Raises :class:`ProviderUnavailable` naming the problem; production refuses to start then.
        """
        if not self.root.is_dir():
            raise ProviderUnavailable(
                f"configfs-tsm not found at {self.root}: not a TDX guest, or configfs is not mounted"
            )
        probe = secrets.token_bytes(REPORT_DATA_SIZE)
        try:
            quote = parse_tdx_quote(self.quote(probe))
        except (QuoteGenerationFailed, AttestationFormatError) as exc:
            raise ProviderUnavailable(f"TDX quote provider self-test failed: {exc}") from exc
        if quote.report_data != probe:
            raise ProviderUnavailable("TDX quote provider self-test: quote does not carry our report_data")

    def quote(self, report_data: bytes) -> bytes:
        """Return a raw DCAP quote whose REPORTDATA is ``report_data`` (blocking, may take seconds)."""
        if len(report_data) != REPORT_DATA_SIZE:
            raise AttestationFormatError(f"report_data must be {REPORT_DATA_SIZE} bytes")
        for attempt in range(self.retry.attempts):
            try:
                return self._quote_once(report_data)
            except OSError as exc:
                name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
                if exc.errno not in RETRYABLE_ERRNOS:
                    raise QuoteGenerationFailed(f"configfs-tsm failed with {name}") from exc
                if attempt + 1 == self.retry.attempts:
                    raise QuoteGenerationFailed(
                        f"configfs-tsm still failing with {name} after {self.retry.attempts} attempts"
                    ) from exc
                logger.warning("configfs-tsm quote attempt %d failed with %s; retrying", attempt + 1, name)
                self.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable: the loop returns or raises")

    def _quote_once(self, report_data: bytes) -> bytes:
        entry = self.root / f"veritee-{secrets.token_hex(8)}"
        self.items.create(entry)  # step 1
        try:
            provider = _read(entry / "provider", 64).decode("ascii", "replace").strip()  # step 2
            if provider != TDX_PROVIDER:
                raise QuoteGenerationFailed(
                    f"configfs-tsm provider is {provider[:32]!r}, expected {TDX_PROVIDER!r}"
                )
            _write_exactly(entry / "inblob", report_data)  # step 3
            quote = _read(entry / "outblob", MAX_QUOTE_SIZE + 1)  # step 4
            generation = _read(entry / "generation", 32).strip()  # step 5
            if generation != b"1":
                raise QuoteGenerationFailed(
                    "configfs-tsm generation is not 1: another writer raced this entry; quote discarded"
                )
            if not quote or len(quote) > MAX_QUOTE_SIZE:
                raise QuoteGenerationFailed(f"configfs-tsm returned a quote of {len(quote)} bytes")
            return quote
        finally:
            try:
                self.items.remove(entry)  # step 6
            except OSError as exc:
                logger.warning("could not remove configfs-tsm entry %s: %s", entry.name, exc.strerror)


def _read(path: Path, limit: int) -> bytes:
    with path.open("rb", buffering=0) as handle:
        chunks = []
        size = 0
        while size < limit:
            chunk = handle.read(limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)


def _write_exactly(path: Path, data: bytes) -> None:
    # No O_CREAT or O_TRUNC: the attribute exists on configfs, and a missing one is an error.
    fd = os.open(path, os.O_WRONLY)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise QuoteGenerationFailed(f"configfs-tsm accepted {written} of {len(data)} report_data bytes")
