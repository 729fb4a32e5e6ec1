"""Simulated quotes say what they are in every byte, and carry exactly the report data given."""

from __future__ import annotations

import pytest

from audit_log import Mode
from inference.attestation import (
    AttestationFormatError,
    Platform,
    SimulatedQuoteProvider,
    parse_tdx_quote,
)
from inference.attestation.simulated import is_simulated_quote, simulated_report_data


def test_simulated_quote_is_magic_zero_report_data() -> None:
    provider = SimulatedQuoteProvider()
    quote = provider.quote(b"\x07" * 64)
    assert quote == b"SIMULATED-NOT-A-TEE\x00" + b"\x07" * 64
    assert is_simulated_quote(quote)
    assert simulated_report_data(quote) == b"\x07" * 64
    assert provider.mode is Mode.SIMULATED
    assert provider.platform is Platform.SIMULATED


def test_simulated_quote_is_never_a_tdx_quote() -> None:
    with pytest.raises(AttestationFormatError):
        parse_tdx_quote(SimulatedQuoteProvider().quote(bytes(64)))


@pytest.mark.parametrize("size", [0, 63, 65])
def test_report_data_must_be_64_bytes(size: int) -> None:
    with pytest.raises(AttestationFormatError, match="64 bytes"):
        SimulatedQuoteProvider().quote(bytes(size))


@pytest.mark.parametrize(
    "quote",
    [b"", b"SIMULATED-NOT-A-TEE" + bytes(64), b"SIMULATED-NOT-A-TEE\x00" + bytes(65), b"X" * 84],
)
def test_malformed_simulated_quotes_are_rejected(quote: bytes) -> None:
    with pytest.raises(AttestationFormatError):
        simulated_report_data(quote)
