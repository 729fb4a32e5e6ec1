"""Sealing suites, looked up by the name an envelope, key file or policy carries."""

from __future__ import annotations

from disclosure.errors import UnknownSuite
from disclosure.suites.base import PRIVATE_KEY_SIZE, Suite, SuiteName
from disclosure.suites.sealedbox import SealedBoxSuite
from disclosure.suites.xwing import XWingSuite

_SUITES: dict[SuiteName, Suite] = {
    SuiteName.X25519_SEALEDBOX: SealedBoxSuite(),
    SuiteName.HPKE_XWING: XWingSuite(),
}


def suite_name(name: str) -> SuiteName:
    """Parse a suite name; raises :class:`UnknownSuite` for anything else."""
    try:
        return SuiteName(name)
    except ValueError:
        raise UnknownSuite(f"unknown suite {name[:64]!r} (known: {', '.join(SuiteName)})") from None


def get_suite(name: SuiteName | str) -> Suite:
    return _SUITES[suite_name(name)]


__all__ = ["PRIVATE_KEY_SIZE", "Suite", "SuiteName", "get_suite", "suite_name"]
