"""The simulated quote provider, for demos and tests on machines without a TEE.

Spec: DESIGN.md "Attestation document". A simulated quote is the ASCII magic
``SIMULATED-NOT-A-TEE``, one zero byte, then the 64 bytes of report_data: no signature, no
measurements, nothing that could be mistaken for hardware evidence. It is only ever produced in
simulated mode, where the claims hash under the simulated domain string and key ids carry ``sim:``,
and every production verifier rejects it.
"""

from __future__ import annotations

from audit_log import Mode
from inference.attestation.claims import REPORT_DATA_SIZE
from inference.attestation.document import Platform
from inference.attestation.errors import AttestationFormatError

SIMULATED_MAGIC = b"SIMULATED-NOT-A-TEE"
_PREFIX = SIMULATED_MAGIC + b"\x00"
SIMULATED_QUOTE_SIZE = len(_PREFIX) + REPORT_DATA_SIZE


def is_simulated_quote(quote: bytes) -> bool:
    return quote.startswith(SIMULATED_MAGIC)


def simulated_report_data(quote: bytes) -> bytes:
    """The report_data a simulated quote carries; raise if it is not one."""
    if len(quote) != SIMULATED_QUOTE_SIZE or not quote.startswith(_PREFIX):
        raise AttestationFormatError(
            f"a simulated quote is {SIMULATED_MAGIC.decode()!r}, a zero byte and 64 bytes of report_data"
        )
    return quote[len(_PREFIX) :]


class SimulatedQuoteProvider:
    """Produces simulated quotes. Says so in its mode, platform and every byte it returns."""

    @property
    def mode(self) -> Mode:
        return Mode.SIMULATED

    @property
    def platform(self) -> Platform:
        return Platform.SIMULATED

    def quote(self, report_data: bytes) -> bytes:
        if len(report_data) != REPORT_DATA_SIZE:
            raise AttestationFormatError(f"report_data must be {REPORT_DATA_SIZE} bytes")
        return _PREFIX + report_data
