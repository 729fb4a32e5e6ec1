"""Per-authority sequence numbers, as the authority's opener sees them."""

from __future__ import annotations

import pytest

from disclosure import (
    DisclosureFormatError,
    ReplayedDisclosure,
    SequenceGap,
    SequenceState,
    format_state,
    parse_state,
)


def test_consecutive_numbers_are_accepted() -> None:
    state = SequenceState()
    for seq in (1, 2, 3):
        state = state.accept(seq)
    assert state == SequenceState(3)


def test_replayed_disclosure_is_refused() -> None:
    with pytest.raises(ReplayedDisclosure, match="already opened"):
        SequenceState(5).accept(5)


def test_out_of_order_disclosure_is_refused() -> None:
    with pytest.raises(ReplayedDisclosure, match="out-of-order"):
        SequenceState(5).accept(3)


def test_gap_is_refused_by_default_and_names_the_missing_numbers() -> None:
    with pytest.raises(SequenceGap, match=r"skips 2 .*\(6\.\.7\)"):
        SequenceState(5).accept(8)


def test_accepted_gap_is_remembered_and_late_arrivals_open_once() -> None:
    state = SequenceState(5).accept(8, allow_gap=True)
    assert state == SequenceState(8, frozenset({6, 7}))
    state = state.accept(7)
    assert state == SequenceState(8, frozenset({6}))
    with pytest.raises(ReplayedDisclosure):
        state.accept(7)
    assert state.accept(6).accept(9) == SequenceState(9)


def test_unbounded_gap_is_refused_even_when_gaps_are_allowed() -> None:
    with pytest.raises(SequenceGap, match="more than"):
        SequenceState(1).accept(20_000, allow_gap=True)


def test_state_file_round_trips() -> None:
    states = {"k ncmec": SequenceState(8, frozenset({6})), "k cisa": SequenceState(1)}
    assert parse_state(format_state(states)) == states


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'{"v":2,"streams":{}}',
        b'{"v":1,"streams":{"s":{"highest":-1,"missing":[]}}}',
        b'{"v":1,"streams":{"s":{"highest":3,"missing":[3]}}}',
        b'{"v":1,"streams":{"s":{"highest":3}}}',
    ],
)
def test_malformed_state_file_is_refused(data: bytes) -> None:
    with pytest.raises((DisclosureFormatError, ValueError)):
        parse_state(data)
