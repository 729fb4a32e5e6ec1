"""The classifier stack the gateway calls: normalise once, run each layer, combine.

:meth:`SafetyClassifier.assess` is pure, synchronous and thread-safe (every layer holds only
immutable state), so the gateway may run it in worker threads and bound it with a timeout. Any
exception inside normalisation or a layer becomes :class:`LayerError`; nothing ever falls back
to "safe". An optional guard-model verdict (:mod:`inference.classifiers.guard`, asynchronous, run
by the caller) is folded in as one more voting layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inference.classifiers.assessment import Assessment, LayerScores
from inference.classifiers.base import Layer
from inference.classifiers.categories import Category
from inference.classifiers.combine import Stacker, combine
from inference.classifiers.errors import ClassifierError, ClassifierInputError, LayerError
from inference.classifiers.guard import GuardVerdict
from inference.classifiers.manifest import ArtefactRef
from inference.classifiers.normalize import NormalizedText, normalize
from inference.classifiers.patterns import PatternMatch, PatternMatcher


class SafetyClassifier:
    """Layers 1-3 (and optionally the embedding layer) plus the calibrated combiner."""

    def __init__(
        self,
        layers: Sequence[Layer],
        matcher: PatternMatcher | None,
        stacker: Stacker,
        single_layer_cap: float,
        manifest: Sequence[ArtefactRef],
    ) -> None:
        if not layers:
            raise ValueError("a classifier needs at least one layer")
        self._layers = tuple(layers)
        self._matcher = matcher
        self._stacker = stacker
        self._cap = single_layer_cap
        self._manifest = tuple(manifest)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self._layers)

    @property
    def block_thresholds(self) -> Mapping[Category, float]:
        """Measured starting points for the policy's block thresholds (train-split OOF)."""
        return self._stacker.block_threshold

    @property
    def manifest(self) -> tuple[ArtefactRef, ...]:
        """The artefacts this instance was built from (attestation claims use ``claim()``)."""
        return self._manifest

    def assess(self, text: str, *, guard: GuardVerdict | None = None) -> Assessment:
        """Score one text (any role: system, user, assistant, tool, tool-call arguments)."""
        if not isinstance(text, str):
            raise ClassifierInputError("classifier input must be str")
        normalized, match = self._prepare(text)
        scores: list[LayerScores] = []
        for layer in self._layers:
            try:
                scores.append(layer.score(normalized, match))
            except ClassifierError:
                raise
            except Exception as exc:
                raise LayerError(layer.name) from exc
        assessment = combine(scores, self._stacker, self._cap)
        if guard is None:
            return assessment
        evidence = guard.evidence(assessment.confidence)
        return combine(scores, self._stacker, self._cap, (evidence,))

    def assess_many(self, texts: Sequence[str]) -> tuple[Assessment, ...]:
        """Score several texts (the messages of one conversation, or output windows)."""
        return tuple(self.assess(text) for text in texts)

    def _prepare(self, text: str) -> tuple[NormalizedText, PatternMatch | None]:
        try:
            normalized = normalize(text)
        except Exception as exc:
            raise LayerError("normalize") from exc
        if self._matcher is None:
            return normalized, None
        try:
            return normalized, self._matcher.match(normalized)
        except Exception as exc:
            raise LayerError("patterns") from exc
