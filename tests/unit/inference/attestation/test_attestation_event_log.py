"""Event-log replay reproduces the RTMRs of real dstack quotes, and catches edited events."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from inference.attestation import (
    AttestationFormatError,
    MeasurementMismatch,
    TdxEvent,
    parse_event_log,
    parse_tdx_quote,
    replay,
)
from inference.attestation.event_log import RUNTIME_EVENT_TYPE, runtime_event_digest

DSTACK = "intel-tdx/dstack/quote-report.json"
NEARAI_QUOTE = "intel-tdx/nearai-private-ml-sdk/dstack_quote_v4.bin"


def _dstack_log(attestation_vectors: Path) -> tuple[TdxEvent, ...]:
    report = json.loads((attestation_vectors / DSTACK).read_text())
    return parse_event_log(json.loads(report["event_log"]))


def _nearai_log(attestation_vectors: Path) -> tuple[TdxEvent, ...]:
    path = attestation_vectors / "intel-tdx/nearai-private-ml-sdk/dstack_event_log.json"
    return parse_event_log(json.loads(path.read_text()))


@pytest.mark.parametrize(("log", "quote"), [(_dstack_log, DSTACK), (_nearai_log, NEARAI_QUOTE)])
def test_replay_reproduces_the_quoted_rtmrs(
    attestation_vectors: Path,
    load_quote: Callable[[str], bytes],
    log: Callable[[Path], tuple[TdxEvent, ...]],
    quote: str,
) -> None:
    assert replay(log(attestation_vectors)) == parse_tdx_quote(load_quote(quote)).measurements.rtmrs


def test_runtime_event_with_an_edited_payload_is_caught(attestation_vectors: Path) -> None:
    events = list(_dstack_log(attestation_vectors))
    index = next(i for i, e in enumerate(events) if e.event_type == RUNTIME_EVENT_TYPE and e.payload)
    events[index] = TdxEvent(**{**events[index].__dict__, "payload": events[index].payload + b"!"})
    with pytest.raises(MeasurementMismatch, match=f"event {index}"):
        replay(events)


def test_runtime_event_digest_follows_dstack_convention() -> None:
    digest = runtime_event_digest(RUNTIME_EVENT_TYPE, "system-ready", b"")
    assert digest.hex().startswith("1a76b2a80a0be71e")  # the dstack vector's "system-ready" event


def test_reordered_events_replay_to_different_rtmrs(attestation_vectors: Path) -> None:
    events = list(_dstack_log(attestation_vectors))
    first_rtmr0 = [i for i, e in enumerate(events) if e.imr == 0][:2]
    events[first_rtmr0[0]], events[first_rtmr0[1]] = events[first_rtmr0[1]], events[first_rtmr0[0]]
    assert replay(events) != replay(_dstack_log(attestation_vectors))


@pytest.mark.parametrize(
    "item",
    [
        {"imr": 4, "event_type": 1, "digest": "00" * 48, "event": "", "event_payload": ""},
        {"imr": 0, "event_type": 1, "digest": "00" * 32, "event": "", "event_payload": ""},
        {"imr": 0, "event_type": -1, "digest": "00" * 48, "event": "", "event_payload": ""},
        {"imr": 0, "event_type": 1, "digest": "00" * 48, "event": "", "event_payload": "abc"},
        {"imr": "0", "event_type": 1, "digest": "00" * 48, "event": "", "event_payload": ""},
        {"imr": 0, "event_type": 1, "digest": "00" * 48, "event": ""},
    ],
)
def test_malformed_events_are_rejected(item: dict[str, object]) -> None:
    with pytest.raises(AttestationFormatError):
        parse_event_log([item])


def test_event_log_round_trips(attestation_vectors: Path) -> None:
    events = _dstack_log(attestation_vectors)
    assert parse_event_log([e.to_json_object() for e in events]) == events
