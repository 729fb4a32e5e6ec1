"""Reference values: all registers pinned, wildcards only where stated, a clear mismatch reason."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from inference.attestation import (
    AttestationFormatError,
    MeasurementMismatch,
    ReferenceValues,
    parse_tdx_quote,
)

V4 = "intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin"


def _entry(recorded: dict[str, str], name: str = "phala sample", **overrides: str) -> dict[str, str]:
    registers = ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id")
    return {"name": name, **{r: recorded[r] for r in registers}, **overrides}


def _file(*entries: dict[str, str]) -> bytes:
    return json.dumps({"v": 1, "measurements": list(entries)}).encode()


@pytest.fixture
def recorded(expected: dict[str, dict[str, dict[str, str]]]) -> dict[str, str]:
    return expected["quotes"][V4]


def test_quote_matching_an_entry_is_accepted(
    recorded: dict[str, str], load_quote: Callable[[str], bytes]
) -> None:
    measured = parse_tdx_quote(load_quote(V4)).measurements
    values = ReferenceValues.from_json(_file(_entry(recorded, "other", mrtd="00" * 48), _entry(recorded)))
    assert values.match(measured) == "phala sample"


def test_wildcards_for_rtmr3_and_mrconfigid(
    recorded: dict[str, str], load_quote: Callable[[str], bytes]
) -> None:
    measured = parse_tdx_quote(load_quote(V4)).measurements
    entry = _entry(recorded, rtmr3="*", mr_config_id="*")
    assert ReferenceValues.from_json(_file(entry)).match(measured) == "phala sample"


@pytest.mark.parametrize("register", ["mrtd", "rtmr0", "rtmr1", "rtmr2"])
def test_boot_chain_registers_cannot_be_wildcards(recorded: dict[str, str], register: str) -> None:
    with pytest.raises(AttestationFormatError, match=register):
        ReferenceValues.from_json(_file(_entry(recorded, **{register: "*"})))


@pytest.mark.parametrize("register", ["mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id"])
def test_an_unlisted_register_value_is_rejected_and_named(
    recorded: dict[str, str], load_quote: Callable[[str], bytes], register: str
) -> None:
    measured = parse_tdx_quote(load_quote(V4)).measurements
    values = ReferenceValues.from_json(_file(_entry(recorded, **{register: "ab" * 48})))
    with pytest.raises(MeasurementMismatch, match=f"closest 'phala sample' differs in {register}\\)$"):
        values.match(measured)


@pytest.mark.parametrize(
    "data",
    [
        b'{"v": 1, "measurements": []}',
        b'{"v": true, "measurements": []}',
        b'{"v": 2, "measurements": []}',
        b'{"v": 1}',
        b'{"v": 1, "measurements": [{"name": "x"}]}',
        b"not json",
    ],
)
def test_malformed_reference_values_are_rejected(data: bytes) -> None:
    with pytest.raises(AttestationFormatError):
        ReferenceValues.from_json(data)
