"""Reference values: the TD measurements a verifier accepts (format in docs/formats.md).

A reference-values file is JSON::

    {"v": 1, "measurements": [{"name": "...", "mrtd": hex96, "rtmr0": hex96, "rtmr1": hex96,
      "rtmr2": hex96, "rtmr3": hex96 | "*", "mr_config_id": hex96 | "*"}, ...]}

A quote is accepted when one entry matches every register. MRTD and RTMR0-2 measure the firmware,
kernel, command line and initrd, so they are always pinned; only RTMR3 (runtime events) and
MRCONFIGID may be the explicit wildcard ``"*"``, which the file then states for anyone to audit.
Pure: no IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audit_log import FormatError
from audit_log.formats import jcs
from inference.attestation.encoding import parse_hex
from inference.attestation.errors import AttestationFormatError, MeasurementMismatch
from inference.attestation.tdx_quote import REGISTER_SIZE, TdxMeasurements

REFERENCE_VALUES_VERSION = 1
WILDCARD = "*"
MAX_ENTRIES = 1024
_ENTRY_KEYS = frozenset({"name", "mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id"})


@dataclass(frozen=True)
class ReferenceMeasurement:
    """One accepted build: exact registers, ``None`` only where the file says ``"*"``."""

    name: str
    mrtd: bytes
    rtmr0: bytes
    rtmr1: bytes
    rtmr2: bytes
    rtmr3: bytes | None
    mr_config_id: bytes | None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 0 < len(self.name) <= 128:
            raise AttestationFormatError("reference entry name must be 1-128 characters")
        for register in (self.mrtd, self.rtmr0, self.rtmr1, self.rtmr2, self.rtmr3, self.mr_config_id):
            if register is not None and len(register) != REGISTER_SIZE:
                raise AttestationFormatError("reference registers must be 48 bytes")

    def differences(self, measured: TdxMeasurements) -> list[str]:
        """Names of the registers where ``measured`` differs from this entry."""
        expected: dict[str, bytes | None] = {
            "mrtd": self.mrtd,
            "rtmr0": self.rtmr0,
            "rtmr1": self.rtmr1,
            "rtmr2": self.rtmr2,
            "rtmr3": self.rtmr3,
            "mr_config_id": self.mr_config_id,
        }
        actual = {
            "mrtd": measured.mrtd,
            **{f"rtmr{i}": rtmr for i, rtmr in enumerate(measured.rtmrs)},
            "mr_config_id": measured.mr_config_id,
        }
        return [name for name, value in expected.items() if value is not None and value != actual[name]]


@dataclass(frozen=True)
class ReferenceValues:
    entries: tuple[ReferenceMeasurement, ...]

    def __post_init__(self) -> None:
        if not self.entries:
            raise AttestationFormatError("reference values list no measurements: nothing could match")
        if len(self.entries) > MAX_ENTRIES:
            raise AttestationFormatError(f"reference values list more than {MAX_ENTRIES} entries")

    def match(self, measured: TdxMeasurements) -> str:
        """Return the name of the entry ``measured`` matches, or raise :class:`MeasurementMismatch`."""
        closest: tuple[int, str, list[str]] | None = None
        for entry in self.entries:
            differing = entry.differences(measured)
            if not differing:
                return entry.name
            if closest is None or len(differing) < closest[0]:
                closest = (len(differing), entry.name, differing)
        assert closest is not None  # entries is never empty
        _, name, differing = closest
        raise MeasurementMismatch(
            f"TD measurements match no reference entry (closest {name!r} differs in {', '.join(differing)})"
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ReferenceValues:
        try:
            obj = jcs.parse_object(data)
        except FormatError as exc:
            raise AttestationFormatError(f"reference values: {exc}") from exc
        if set(obj) != {"v", "measurements"} or type(obj["v"]) is not int or obj["v"] != 1:
            raise AttestationFormatError('reference values must be {"v": 1, "measurements": [...]}')
        entries = obj["measurements"]
        if not isinstance(entries, list):
            raise AttestationFormatError("reference values measurements must be a JSON array")
        return cls(tuple(_parse_entry(entry) for entry in entries))


def _parse_entry(value: object) -> ReferenceMeasurement:
    if not isinstance(value, Mapping) or set(value) != _ENTRY_KEYS:
        raise AttestationFormatError(f"each reference entry must have exactly the keys {sorted(_ENTRY_KEYS)}")

    def pinned(name: str) -> bytes:
        return parse_hex(value[name], REGISTER_SIZE, f"reference {name}")

    def optional(name: str) -> bytes | None:
        return None if value[name] == WILDCARD else pinned(name)

    name = value["name"]
    if not isinstance(name, str):
        raise AttestationFormatError("reference entry name must be a string")
    return ReferenceMeasurement(
        name=name,
        mrtd=pinned("mrtd"),
        rtmr0=pinned("rtmr0"),
        rtmr1=pinned("rtmr1"),
        rtmr2=pinned("rtmr2"),
        rtmr3=optional("rtmr3"),
        mr_config_id=optional("mr_config_id"),
    )
