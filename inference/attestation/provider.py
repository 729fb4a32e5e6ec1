"""Choosing the quote provider at start-up: real TDX in production, loudly simulated otherwise.

Spec: DESIGN.md "Trust boundaries" (simulated is never production) and "Attestation document".
Production refuses to start unless configfs-tsm produces a TDX quote carrying fresh report data;
simulated mode has to be asked for, and :data:`SIMULATED_BANNER` says so at start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from audit_log import Mode
from inference.attestation.configfs import (
    DEFAULT_CONFIGFS_ROOT,
    ConfigfsItems,
    ConfigfsTsmProvider,
    LinuxConfigfs,
)
from inference.attestation.document import Platform
from inference.attestation.simulated import SimulatedQuoteProvider

logger = logging.getLogger(__name__)

SIMULATED_BANNER = """\
##########################################################################
#  SIMULATED MODE: NOT RUNNING IN A TEE                                  #
#  No hardware attestation. Quotes start with SIMULATED-NOT-A-TEE, key   #
#  ids with "sim:", and every signed object says mode "simulated".       #
#  The operator can read every prompt and answer. Demos and tests only.  #
##########################################################################"""


class QuoteProvider(Protocol):
    """Turns 64 bytes of report data into a quote of its platform (may block for seconds)."""

    @property
    def mode(self) -> Mode: ...

    @property
    def platform(self) -> Platform: ...

    def quote(self, report_data: bytes) -> bytes: ...


def select_provider(
    mode: Mode,
    *,
    configfs_root: Path = DEFAULT_CONFIGFS_ROOT,
    configfs_items: ConfigfsItems | None = None,
) -> QuoteProvider:
    """The provider for ``mode``; in production, only one that passed its self-test.

    Raises :class:`ProviderUnavailable` in production without a working configfs-tsm TDX provider.
    """
    if mode is Mode.PRODUCTION:
        provider = ConfigfsTsmProvider(root=configfs_root, items=configfs_items or LinuxConfigfs())
        provider.self_test()
        return provider
    logger.warning("%s", SIMULATED_BANNER)
    return SimulatedQuoteProvider()
