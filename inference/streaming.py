"""Hold streamed output back until it has been classified (pure).

Text from the model accumulates per choice; every ``window`` characters become a :class:`Window`
that is classified together with the last ``overlap`` characters already released, so a phrase split
across two windows is still seen whole. Nothing reaches the caller before its window passed
OUTPUT_CLASSIFY; time to first token grows by at most one window.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """``context`` = released tail + ``text``; only ``text`` (from ``offset`` on) is new."""

    context: str
    offset: int

    @property
    def text(self) -> str:
        return self.context[self.offset :]


class Holdback:
    def __init__(self, window: int, overlap: int) -> None:
        if window <= 0 or not 0 <= overlap < window:
            raise ValueError("need window > 0 and 0 <= overlap < window")
        self._window = window
        self._overlap = overlap
        self._pending = ""
        self._tail = ""

    def push(self, text: str) -> None:
        """Add model output."""
        self._pending += text

    def next_window(self, final: bool = False) -> Window | None:
        """The next window ready for classification, or None.

        A full window is ready once ``window`` characters are pending; with ``final`` (the model has
        finished) the rest is ready too. Call :meth:`released` before asking for the next one, so its
        context holds what was really sent.
        """
        if len(self._pending) >= self._window:
            chunk, self._pending = self._pending[: self._window], self._pending[self._window :]
        elif final and self._pending:
            chunk, self._pending = self._pending, ""
        else:
            return None
        return Window(self._tail + chunk, len(self._tail))

    def released(self, text: str) -> None:
        """Record what was actually sent (after any redaction) as context for the next window."""
        if self._overlap:
            self._tail = (self._tail + text)[-self._overlap :]
