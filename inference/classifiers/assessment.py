"""Value types the layers return and the classifier hands to the gateway.

Offsets in every :class:`Span` are code-point indices into the ORIGINAL text given to
:meth:`SafetyClassifier.assess`, so ``text[span.start:span.end]`` is exactly what to redact.
Nothing here holds classified text: only numbers, categories, layer names and offsets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from inference.classifiers.categories import CATEGORIES, Category


def _frozen_scores(scores: Mapping[Category, float]) -> Mapping[Category, float]:
    if set(scores) != set(CATEGORIES):
        raise ValueError("scores must name every category exactly once")
    for value in scores.values():
        if not (isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError("scores must be floats in [0, 1]")
    return MappingProxyType({category: scores[category] for category in CATEGORIES})


@dataclass(frozen=True)
class Span:
    """Original-text offsets ``[start, end)`` that made ``layer`` score ``category``."""

    start: int
    end: int
    category: Category
    layer: str

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError("a span needs 0 <= start < end")


@dataclass(frozen=True)
class LayerScores:
    """One layer's calibrated probability per category, the categories it fired on, its spans."""

    layer: str
    probabilities: Mapping[Category, float]
    fired: frozenset[Category]
    spans: tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", _frozen_scores(self.probabilities))
        if any(span.layer != self.layer for span in self.spans):
            raise ValueError("a layer may only report its own spans")


@dataclass(frozen=True)
class Assessment:
    """The combined verdict for one text.

    ``confidence`` is the calibrated probability per category that the text is a harmful
    request of that category. A value of 0.999 or more is only produced when at least two
    independent layers fired on the category (``fired``); otherwise it is capped below.
    """

    confidence: Mapping[Category, float]
    fired: Mapping[Category, tuple[str, ...]]
    spans: tuple[Span, ...]
    layers: tuple[LayerScores, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "confidence", _frozen_scores(self.confidence))
        if set(self.fired) != set(CATEGORIES):
            raise ValueError("fired must name every category")
        object.__setattr__(self, "fired", MappingProxyType({c: tuple(self.fired[c]) for c in CATEGORIES}))

    @property
    def top(self) -> tuple[Category, float]:
        """The most likely category and its confidence (ties go to the first in CATEGORIES)."""
        category = max(CATEGORIES, key=lambda c: self.confidence[c])
        return category, self.confidence[category]

    def spans_for(self, category: Category) -> tuple[Span, ...]:
        return tuple(span for span in self.spans if span.category == category)
