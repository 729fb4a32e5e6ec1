"""Replay a TDX event log into RTMR values (the dstack JSON event-log shape).

Spec: Intel TDX Module ABI, TDG.MR.RTMR.EXTEND: ``RTMR[i] := SHA-384(RTMR[i] ‖ digest)``, starting
from 48 zero bytes. Each event is ``{imr, event_type, digest, event, event_payload}`` with hex digest
and payload. Firmware events (RTMR0-2) carry digests that only the firmware can recompute; runtime
events (type 0x08000001, RTMR3, dstack's convention) are recomputed here as
``SHA-384(u32le(event_type) ‖ ":" ‖ event ‖ ":" ‖ payload)``, so their names and payloads are
bound too. A replay that reproduces the quote's RTMRs proves the log is the one that was measured.
Pure: no IO.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inference.attestation.encoding import parse_hex
from inference.attestation.errors import AttestationFormatError, MeasurementMismatch
from inference.attestation.tdx_quote import REGISTER_SIZE

RUNTIME_EVENT_TYPE = 0x08000001
MAX_EVENTS = 4096
MAX_PAYLOAD_BYTES = 64 * 1024
_EVENT_KEYS = frozenset({"imr", "event_type", "digest", "event", "event_payload"})


@dataclass(frozen=True)
class TdxEvent:
    imr: int
    event_type: int
    digest: bytes
    event: str
    payload: bytes

    def __post_init__(self) -> None:
        if self.imr not in range(4):
            raise AttestationFormatError("event imr must be 0-3")
        if not 0 <= self.event_type <= 0xFFFFFFFF:
            raise AttestationFormatError("event_type must be a 32-bit unsigned integer")
        if len(self.digest) != REGISTER_SIZE:
            raise AttestationFormatError("event digest must be 48 bytes (SHA-384)")
        if len(self.event) > 256 or len(self.payload) > MAX_PAYLOAD_BYTES:
            raise AttestationFormatError("event name or payload is too long")

    def to_json_object(self) -> dict[str, int | str]:
        return {
            "imr": self.imr,
            "event_type": self.event_type,
            "digest": self.digest.hex(),
            "event": self.event,
            "event_payload": self.payload.hex(),
        }


def parse_event_log(value: object) -> tuple[TdxEvent, ...]:
    """Parse a JSON array of events, strictly."""
    if not isinstance(value, list) or len(value) > MAX_EVENTS:
        raise AttestationFormatError(f"event log must be a JSON array of at most {MAX_EVENTS} events")
    return tuple(_parse_event(item) for item in value)


def _parse_event(item: object) -> TdxEvent:
    if not isinstance(item, Mapping) or set(item) != _EVENT_KEYS:
        raise AttestationFormatError(f"each event must be an object with keys {sorted(_EVENT_KEYS)}")
    imr, event_type, name, payload = (
        item["imr"],
        item["event_type"],
        item["event"],
        item["event_payload"],
    )
    if type(imr) is not int or type(event_type) is not int or not isinstance(name, str):
        raise AttestationFormatError("event imr and event_type must be integers, event a string")
    if not isinstance(payload, str) or len(payload) % 2:
        raise AttestationFormatError("event_payload must be hex")
    return TdxEvent(
        imr=imr,
        event_type=event_type,
        digest=parse_hex(item["digest"], REGISTER_SIZE, "event digest"),
        event=name,
        payload=parse_hex(payload, len(payload) // 2, "event_payload"),
    )


def runtime_event_digest(event_type: int, name: str, payload: bytes) -> bytes:
    """The digest a runtime event must carry (dstack's RTMR3 convention)."""
    return hashlib.sha384(
        struct.pack("<I", event_type) + b":" + name.encode("utf-8") + b":" + payload
    ).digest()


def replay(events: Sequence[TdxEvent]) -> tuple[bytes, bytes, bytes, bytes]:
    """Fold the events into RTMR0-3; a runtime event whose digest does not match its payload fails."""
    registers = [bytes(REGISTER_SIZE)] * 4
    for index, event in enumerate(events):
        if event.event_type == RUNTIME_EVENT_TYPE and event.digest != runtime_event_digest(
            event.event_type, event.event, event.payload
        ):
            raise MeasurementMismatch(f"event {index}: runtime event digest does not match its payload")
        registers[event.imr] = hashlib.sha384(registers[event.imr] + event.digest).digest()
    return registers[0], registers[1], registers[2], registers[3]
