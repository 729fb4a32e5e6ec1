"""Attestation: what veritee proves about itself, how the TEE proves it, and how anyone checks it.

In the TEE: :func:`select_provider` (configfs-tsm TDX quotes in production, refusing to start
without them; loudly simulated otherwise), :func:`generate_tls_identity`, :class:`Claims`,
:class:`Attester` and :class:`NonceStore`. Anywhere, offline: :class:`AttestationPolicy` (production)
and :class:`UnsafeAcceptSimulated` (demos and tests), which return :class:`VerifiedAttestation` or
raise :class:`AttestationVerificationError`. Formats in docs/formats.md, "Attestation document".
"""

from inference.attestation.builder import Attester
from inference.attestation.claims import (
    NONCE_SIZE,
    PRODUCTION_DOMAIN,
    SIMULATED_DOMAIN,
    AuthorityKey,
    Claims,
    ClassifierArtefact,
    claims_digest,
    report_data,
)
from inference.attestation.configfs import (
    DEFAULT_CONFIGFS_ROOT,
    ConfigfsItems,
    ConfigfsTsmProvider,
    LinuxConfigfs,
    RetryPolicy,
)
from inference.attestation.document import AttestationDocument, Collateral, Platform
from inference.attestation.errors import (
    AttestationError,
    AttestationFormatError,
    AttestationVerificationError,
    BindingMismatch,
    ClaimsMismatch,
    MeasurementMismatch,
    NonceRejected,
    NonceReplayed,
    NonceStoreFull,
    ProviderUnavailable,
    QuoteGenerationFailed,
    QuoteProviderError,
    QuoteVerificationError,
    SimulatedAttestationRejected,
)
from inference.attestation.event_log import TdxEvent, parse_event_log, replay
from inference.attestation.expectations import ExpectedClaims, PolicyFile
from inference.attestation.nonces import NonceStore, parse_nonce
from inference.attestation.provider import SIMULATED_BANNER, QuoteProvider, select_provider
from inference.attestation.reference_values import ReferenceMeasurement, ReferenceValues
from inference.attestation.simulated import SIMULATED_MAGIC, SimulatedQuoteProvider
from inference.attestation.tdx_quote import TdxMeasurements, TdxQuote, parse_tdx_quote
from inference.attestation.tls import TlsIdentity, generate_tls_identity, spki_sha256
from inference.attestation.verify import (
    AttestationPolicy,
    AttestationVerifier,
    UnsafeAcceptSimulated,
    VerifiedAttestation,
    VerifiedQuote,
    check_binding,
    verify_tdx_quote,
)

__all__ = [
    "DEFAULT_CONFIGFS_ROOT",
    "NONCE_SIZE",
    "PRODUCTION_DOMAIN",
    "SIMULATED_BANNER",
    "SIMULATED_DOMAIN",
    "SIMULATED_MAGIC",
    "AttestationDocument",
    "AttestationError",
    "AttestationFormatError",
    "AttestationPolicy",
    "AttestationVerificationError",
    "AttestationVerifier",
    "Attester",
    "AuthorityKey",
    "BindingMismatch",
    "Claims",
    "ClaimsMismatch",
    "ClassifierArtefact",
    "Collateral",
    "ConfigfsItems",
    "ConfigfsTsmProvider",
    "ExpectedClaims",
    "LinuxConfigfs",
    "MeasurementMismatch",
    "NonceRejected",
    "NonceReplayed",
    "NonceStore",
    "NonceStoreFull",
    "Platform",
    "PolicyFile",
    "ProviderUnavailable",
    "QuoteGenerationFailed",
    "QuoteProvider",
    "QuoteProviderError",
    "QuoteVerificationError",
    "ReferenceMeasurement",
    "ReferenceValues",
    "RetryPolicy",
    "SimulatedAttestationRejected",
    "SimulatedQuoteProvider",
    "TdxEvent",
    "TdxMeasurements",
    "TdxQuote",
    "TlsIdentity",
    "UnsafeAcceptSimulated",
    "VerifiedAttestation",
    "VerifiedQuote",
    "check_binding",
    "claims_digest",
    "generate_tls_identity",
    "parse_event_log",
    "parse_nonce",
    "parse_tdx_quote",
    "replay",
    "report_data",
    "select_provider",
    "spki_sha256",
    "verify_tdx_quote",
]
