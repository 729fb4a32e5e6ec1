"""Holdback windows: nothing is released before it is framed for classification."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from inference.streaming import Holdback


def drain(holdback: Holdback, final: bool = False) -> list[str]:
    released = []
    while (window := holdback.next_window(final=final)) is not None:
        released.append(window.text)
        holdback.released(window.text)
    return released


def test_nothing_is_ready_before_a_full_window() -> None:
    holdback = Holdback(window=10, overlap=3)
    holdback.push("123456789")
    assert holdback.next_window() is None
    holdback.push("0ab")
    window = holdback.next_window()
    assert window is not None
    assert (window.context, window.offset) == ("1234567890", 0)


def test_each_window_carries_the_released_tail_as_context() -> None:
    holdback = Holdback(window=4, overlap=2)
    holdback.push("abcdefgh")
    first = holdback.next_window()
    assert first is not None
    holdback.released(first.text)
    second = holdback.next_window()
    assert second is not None
    assert (second.context, second.offset, second.text) == ("cdefgh", 2, "efgh")


def test_a_phrase_split_across_windows_is_seen_whole() -> None:
    holdback = Holdback(window=8, overlap=6)
    holdback.push("xx danger zone")
    first = holdback.next_window()
    assert first is not None
    holdback.released(first.text)
    last = holdback.next_window(final=True)
    assert last is not None
    assert "danger" in last.context


@given(st.lists(st.text(max_size=40), max_size=20), st.integers(2, 50), st.data())
def test_released_text_is_exactly_the_model_output(
    pieces: list[str], window: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, window - 1))
    holdback = Holdback(window, overlap)
    out = []
    for piece in pieces:
        holdback.push(piece)
        out.extend(drain(holdback))
    out.extend(drain(holdback, final=True))
    assert "".join(out) == "".join(pieces)
    assert all(len(t) <= window for t in out)
