"""The interface every synchronous classifier layer implements.

A layer reads the normalised text (:mod:`inference.classifiers.normalize`) and, so that the
terms are matched only once, the pattern match of it; it returns calibrated probabilities, the
categories it fired on and original-text spans. Layers hold only immutable
state after construction, so one instance may score from many threads at once.
"""

from __future__ import annotations

from typing import Protocol

from inference.classifiers.assessment import LayerScores
from inference.classifiers.normalize import NormalizedText
from inference.classifiers.patterns import PatternMatch


class Layer(Protocol):
    @property
    def name(self) -> str: ...

    def score(self, normalized: NormalizedText, match: PatternMatch | None = None) -> LayerScores:
        """Score one text; ``match`` is the pattern match of the same text, when already known."""
        ...
