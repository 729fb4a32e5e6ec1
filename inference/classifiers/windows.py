"""Sentence and clause windows: the spans the learned layers score, so nothing dilutes a request.

A harmful request keeps its meaning whatever text surrounds it, but a model that scores a whole
text (or a fixed 512-character block) averages the request with the benign prose around it: a
jailbreak that wraps a request in a story, a role-play preamble or kilobytes of padding pulls the
score under the threshold. The learned layers therefore score short windows and keep, per
category, the highest: the request scores as if it stood alone.

Windows are built from *units*: the sentences and clauses of the text (split at
:attr:`NormalizedText.breaks`, i.e. ``. ! ? ; :``, line breaks and their CJK forms), a unit longer
than :data:`UNIT_CHARS` cut at word boundaries. Every run of one to :data:`WINDOW_UNITS`
consecutive units is a window, as long as a run of several stays within :data:`WINDOW_CHARS`,
so a request split over two or three sentences ("I have a lab. I want to grow X. What do I
need?") is also seen whole. A text of ``n`` units has at most ``3n`` windows; windows are
``[start, end)`` offsets into the normalised text.

Many windows give a benign long text many chances to score high by accident. The learned layers
are trained on windows (every window of a benign text is a negative) and calibrated on the
maximum over a text's windows, long benign documents included, so the calibrated maximum, not
one window, is what the policy's threshold sees.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from inference.classifiers.normalize import NormalizedText

UNIT_CHARS = 160
WINDOW_UNITS = 3
WINDOW_CHARS = 400


@dataclass(frozen=True)
class Segmentation:
    """A text's units (``[start, end)`` offsets) and its windows as unit ranges ``[first, stop)``.

    There is always at least one unit (an empty text has the empty unit ``(0, 0)``) and one
    window per unit.
    """

    units: tuple[tuple[int, int], ...]
    ranges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.units or not self.ranges:
            raise ValueError("a segmentation has at least one unit and one window")
        if any(not 0 <= first < stop <= len(self.units) for first, stop in self.ranges):
            raise ValueError("a window must cover one or more existing units")

    @property
    def bounds(self) -> list[tuple[int, int]]:
        """Each window's ``[start, end)`` in the normalised text."""
        return [(self.units[first][0], self.units[stop - 1][1]) for first, stop in self.ranges]


def units(normalized: NormalizedText) -> list[tuple[int, int]]:
    """Sentences and clauses of the normalised text, each at most UNIT_CHARS long."""
    text = normalized.text
    bounds = [0, *normalized.breaks, len(text)]
    spans: list[tuple[int, int]] = []
    for start, stop in itertools.pairwise(bounds):
        end = stop - 1 if stop < len(text) else stop  # drop the space before the next unit
        while end - start > UNIT_CHARS:
            cut = text.rfind(" ", start + 1, start + UNIT_CHARS + 1)
            if cut <= start:
                cut = start + UNIT_CHARS  # no space (CJK): cut between characters
                spans.append((start, cut))
                start = cut
            else:
                spans.append((start, cut))
                start = cut + 1
        if end > start:
            spans.append((start, end))
    return spans or [(0, len(text))]


def segment(normalized: NormalizedText) -> Segmentation:
    """Units and every run of 1..WINDOW_UNITS consecutive units (several within WINDOW_CHARS)."""
    spans = units(normalized)
    ranges: list[tuple[int, int]] = []
    for first, (start, _) in enumerate(spans):
        ranges.append((first, first + 1))
        for stop in range(first + 2, min(first + WINDOW_UNITS, len(spans)) + 1):
            if spans[stop - 1][1] - start > WINDOW_CHARS:
                break
            ranges.append((first, stop))
    return Segmentation(tuple(spans), tuple(ranges))


def windows(normalized: NormalizedText) -> list[tuple[int, int]]:
    """The ``[start, end)`` of every window of the normalised text (see :func:`segment`)."""
    return segment(normalized).bounds
