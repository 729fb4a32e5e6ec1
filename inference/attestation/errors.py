"""The attestation package's error tree.

Bad data, false evidence, a broken TEE and a misbehaving caller are kept apart, so that each edge
maps them once (HTTP in ``inference/http/attest.py``, CLI in ``reporting/cli/exit_codes.py``)::

    AttestationError
    ├── AttestationFormatError          malformed document, claims, nonce, quote bytes, policy or
    │                                   reference-values file (HTTP 400, CLI exit 2)
    ├── AttestationVerificationError    well-formed but false: the verifier's only outcome besides
    │   │                               success (CLI exit 1)
    │   ├── QuoteVerificationError      quote header, DCAP signature, certificate chain, TCB, time
    │   ├── MeasurementMismatch         MRTD / RTMR / MRCONFIGID not allowed, debug TD, event log
    │   ├── BindingMismatch             nonce or report_data does not bind these claims
    │   ├── ClaimsMismatch              claims differ from what the verifier expects
    │   └── SimulatedAttestationRejected  a simulated document offered to a production policy
    ├── QuoteProviderError              the TEE cannot produce a quote (environment, CLI exit 3)
    │   ├── ProviderUnavailable         no configfs-tsm, not a TDX guest: production refuses to start
    │   └── QuoteGenerationFailed       EBUSY/EIO/ETIMEDOUT past the retries, a generation race,
    │                                   an unexpected provider or an empty outblob
    └── NonceRejected                   the caller's nonce cannot be served (HTTP 4xx)
        ├── NonceReplayed               already used within its TTL (HTTP 409)
        └── NonceStoreFull              too many live nonces; retry later (HTTP 429)

Messages name fields, sizes, registers, hashes and statuses; never prompt or answer text.
"""

from __future__ import annotations


class AttestationError(Exception):
    """Root of every error raised by ``inference.attestation``."""


class AttestationFormatError(AttestationError, ValueError):
    """Input that does not parse as the format that was asked for."""


class AttestationVerificationError(AttestationError):
    """Evidence that is well-formed but does not verify; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class QuoteVerificationError(AttestationVerificationError):
    """The quote is not a genuine, current, TCB-acceptable Intel TDX quote."""


class MeasurementMismatch(AttestationVerificationError):
    """The TD's measurements are not in the reference values (or its event log disagrees)."""


class BindingMismatch(AttestationVerificationError):
    """The quote's report_data or the document's nonce does not bind these claims and nonce."""


class ClaimsMismatch(AttestationVerificationError):
    """The attested claims differ from what the verifier was told to expect."""


class SimulatedAttestationRejected(AttestationVerificationError):
    """A simulated attestation was offered where only production is acceptable."""


class QuoteProviderError(AttestationError):
    """The quote provider failed (an environment problem, not bad evidence)."""


class ProviderUnavailable(QuoteProviderError):
    """No working TDX quote provider: production mode must refuse to start."""


class QuoteGenerationFailed(QuoteProviderError):
    """A quote could not be obtained, or the one obtained cannot be trusted to be ours."""


class NonceRejected(AttestationError):
    """The caller's nonce cannot be served."""


class NonceReplayed(NonceRejected):
    """The nonce was already used within its time to live."""


class NonceStoreFull(NonceRejected):
    """Too many nonces are live; the caller should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attestation requests in flight; retry in {retry_after} s")
        self.retry_after = retry_after
