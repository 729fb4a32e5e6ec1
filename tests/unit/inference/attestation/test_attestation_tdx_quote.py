"""TDX quote parsing on real hardware quotes, and the header checks that keep other evidence out."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from inference.attestation import AttestationFormatError, parse_tdx_quote
from inference.attestation.tdx_quote import TdxQuote

TDX_VECTORS = [
    "intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin",
    "intel-tdx/phala-dcap-qvl/tdx_quote_v5_outdated.bin",
    "intel-tdx/tinfoil-verifier/tdx_quote_v4.bin",
    "intel-tdx/go-tdx-guest/quote_v5_sample.bin",
    "intel-tdx/go-tdx-guest/tdx_prod_quote_SPR_E4_v4.bin",
    "intel-tdx/nearai-private-ml-sdk/dstack_quote_v4.bin",
    "intel-tdx/dstack/quote-report.json",
]
V4 = "intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin"
V5 = "intel-tdx/go-tdx-guest/quote_v5_sample.bin"


@pytest.mark.parametrize("vector", TDX_VECTORS)
def test_registers_match_the_recorded_values(
    vector: str, load_quote: Callable[[str], bytes], expected: dict[str, dict[str, dict[str, str]]]
) -> None:
    recorded = expected["quotes"][vector]
    quote = parse_tdx_quote(load_quote(vector))
    assert quote.version == int(recorded["version"])
    assert quote.measurements.to_json_object() == {
        name: recorded[name] for name in ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id")
    }
    assert quote.report_data.hex() == recorded["report_data"]
    assert quote.td_attributes.hex() == recorded["td_attributes"]
    assert quote.xfam.hex() == recorded["xfam"]
    assert quote.mr_seam.hex() == recorded["mr_seam"]
    assert quote.tee_tcb_svn.hex() == recorded["tee_tcb_svn"]
    assert not quote.debug


def test_sgx_quote_is_rejected_for_its_tee_type(load_quote: Callable[[str], bytes]) -> None:
    with pytest.raises(AttestationFormatError, match="tee_type is 0x0"):
        parse_tdx_quote(load_quote("intel-tdx/phala-dcap-qvl/sgx_quote_v3.bin"))


def _patched(quote: bytes, offset: int, data: bytes) -> bytes:
    return quote[:offset] + data + quote[offset + len(data) :]


@pytest.mark.parametrize(
    ("offset", "data", "message"),
    [
        (0, struct.pack("<H", 3), "version 3"),
        (0, struct.pack("<H", 6), "version 6"),
        (2, struct.pack("<H", 3), "key type"),
        (12, bytes(16), "vendor id"),
    ],
)
def test_header_fields_are_checked(
    load_quote: Callable[[str], bytes], offset: int, data: bytes, message: str
) -> None:
    with pytest.raises(AttestationFormatError, match=message):
        parse_tdx_quote(_patched(load_quote(V4), offset, data))


def test_v5_body_of_unknown_type_is_rejected(load_quote: Callable[[str], bytes]) -> None:
    with pytest.raises(AttestationFormatError, match="body type 4"):
        parse_tdx_quote(_patched(load_quote(V5), 48, struct.pack("<H", 4)))


def test_v5_body_size_that_lies_is_rejected(load_quote: Callable[[str], bytes]) -> None:
    with pytest.raises(AttestationFormatError, match="size 584"):
        parse_tdx_quote(_patched(load_quote(V5), 50, struct.pack("<I", 584)))


@pytest.mark.parametrize("length", [0, 47, 600, 633, 700])
def test_truncated_quotes_are_rejected(load_quote: Callable[[str], bytes], length: int) -> None:
    with pytest.raises(AttestationFormatError):
        parse_tdx_quote(load_quote(V4)[:length])


def test_signature_size_past_the_end_is_rejected(load_quote: Callable[[str], bytes]) -> None:
    with pytest.raises(AttestationFormatError, match="signature area"):
        parse_tdx_quote(_patched(load_quote(V4), 632, struct.pack("<I", 10_000)))


def test_oversized_quote_is_rejected(load_quote: Callable[[str], bytes]) -> None:
    with pytest.raises(AttestationFormatError, match="more than"):
        parse_tdx_quote(load_quote(V4) + bytes(16 * 1024))


def test_debug_bit_is_reported(load_quote: Callable[[str], bytes]) -> None:
    quote = parse_tdx_quote(load_quote(V4))
    debug = TdxQuote(**{**quote.__dict__, "td_attributes": b"\x01" + quote.td_attributes[1:]})
    assert debug.debug
