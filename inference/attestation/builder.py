"""Building attestation documents inside the TEE: one fresh quote per caller nonce.

Spec: DESIGN.md "Attestation document". The claims are fixed for the life of the process (a new log
or TLS key means a restart and a new attestation); only the nonce, and so the quote, changes.
"""

from __future__ import annotations

from inference.attestation.claims import Claims, report_data
from inference.attestation.document import AttestationDocument, Collateral
from inference.attestation.errors import AttestationFormatError
from inference.attestation.event_log import TdxEvent
from inference.attestation.provider import QuoteProvider


class Attester:
    """Produces attestation documents for ``claims`` with ``provider`` (blocking: run in a thread)."""

    def __init__(
        self,
        provider: QuoteProvider,
        claims: Claims,
        *,
        collateral: Collateral | None = None,
        event_log: tuple[TdxEvent, ...] | None = None,
    ) -> None:
        if provider.mode is not claims.mode:
            raise AttestationFormatError(
                f"a {provider.mode} quote provider cannot attest {claims.mode} claims"
            )
        self.provider = provider
        self.claims = claims
        self.collateral = collateral
        self.event_log = event_log

    def attest(self, nonce: bytes) -> AttestationDocument:
        quote = self.provider.quote(report_data(self.claims, nonce))
        return AttestationDocument(
            mode=self.provider.mode,
            platform=self.provider.platform,
            quote=quote,
            nonce=nonce,
            claims=self.claims,
            collateral=self.collateral,
            event_log=self.event_log,
        )
