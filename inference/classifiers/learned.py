"""Layer 3: a linear model over hashed n-grams and lexicon concepts, in windows (numpy only).

Per category ``c`` and window ``w`` the raw score is
``bias[c] + sum(weights[f, c] for f in features(w)) / sqrt(|features(w)|) + concepts @ V[:, c]``
where ``concepts`` is the 0/1 vector of the pattern lexicon's concept names hit in the text
(:attr:`PatternMatch.concept_names`: which term groups, which shared groups such as operational
intent, harm or defence framing, and their conjunctions). The n-grams catch wording and
obfuscation residue; the concepts carry the lexicon's domain knowledge to paraphrases and
intents the training set never showed. The layer keeps
the highest-scoring window (a harmful request hidden in a long benign text is not diluted),
then maps it through Platt scaling (Platt 1999) fitted on out-of-fold scores of the train split,
so the probability is calibrated. Weights come from ``data/ngram_model.npz``, written by
``python -m inference.classifiers.train``; the file holds plain arrays, never pickles.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from inference.classifiers.assessment import LayerScores, Span
from inference.classifiers.categories import CATEGORIES, Category
from inference.classifiers.features import N_FEATURES, featurize
from inference.classifiers.normalize import NormalizedText
from inference.classifiers.patterns import PatternMatch, PatternMatcher

LAYER_NAME = "learned"
WINDOW_CHARS = 512
WINDOW_STRIDE = 256

FloatArray = npt.NDArray[np.float32]


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start offsets of overlapping windows that cover ``[0, length)``; one window if short."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


class NgramModel:
    """Weights ``(N_FEATURES, 4)``, concept weights ``(len(concepts), 4)`` and bias ``(4,)``."""

    def __init__(
        self,
        version: str,
        weights: FloatArray,
        concepts: tuple[str, ...],
        concept_weights: FloatArray,
        bias: FloatArray,
    ) -> None:
        n = len(CATEGORIES)
        if weights.shape != (N_FEATURES, n) or bias.shape != (n,):
            raise ValueError("n-gram weights or bias have the wrong shape")
        if concept_weights.shape != (len(concepts), n):
            raise ValueError("concept weights do not match the concept names")
        arrays = (weights, concept_weights, bias)
        if not all(np.all(np.isfinite(array)) for array in arrays):
            raise ValueError("n-gram model weights must be finite")
        self.version = version
        self.concepts = concepts
        self._concept_index = {name: i for i, name in enumerate(concepts)}
        self._weights = np.ascontiguousarray(weights, dtype=np.float32)
        self._weights.setflags(write=False)
        self._concept_weights = concept_weights.astype(np.float64)
        self._bias = bias.astype(np.float64)

    @property
    def weights(self) -> FloatArray:
        return self._weights

    @property
    def concept_weights(self) -> FloatArray:
        return self._concept_weights.astype(np.float32)

    @property
    def bias(self) -> FloatArray:
        return self._bias.astype(np.float32)

    def concept_vector(self, names: frozenset[str]) -> npt.NDArray[np.float64]:
        vector = np.zeros(len(self.concepts))
        for name in names:
            index = self._concept_index.get(name)
            if index is not None:
                vector[index] = 1.0
        return vector

    def window_scores(
        self, text: str, match: PatternMatch
    ) -> tuple[npt.NDArray[np.float64], list[tuple[int, int]]]:
        """Raw scores ``(n_windows, 4)`` and the normalised ``[start, end)`` of each window.

        Each window sees only the concepts hit inside it, so a defensive word far away in a
        long text cannot mask a harmful request, nor a harmful term far away lend it weight.
        """
        buckets, positions = featurize(text)
        starts = window_starts(len(text), WINDOW_CHARS, WINDOW_STRIDE)
        bounds = [(s, min(s + WINDOW_CHARS, len(text))) for s in starts]
        concepts = np.stack(
            [self.concept_vector(match.concepts_in(s, e if e < len(text) else None)) for s, e in bounds]
        )
        offset = self._bias + concepts @ self._concept_weights
        if len(buckets) == 0:
            return offset, bounds
        order = np.argsort(positions, kind="stable")
        sorted_positions = positions[order]
        gathered = self._weights[buckets[order]].astype(np.float64)
        cumulative = np.vstack([np.zeros((1, len(CATEGORIES))), np.cumsum(gathered, axis=0)])
        if len(bounds) == 1:
            lo, hi = np.array([0]), np.array([len(sorted_positions)])
        else:
            lo = np.searchsorted(sorted_positions, [s for s, _ in bounds], side="left")
            hi = np.searchsorted(sorted_positions, [e for _, e in bounds], side="left")
        counts = np.maximum(hi - lo, 1).astype(np.float64)
        sums = cumulative[hi] - cumulative[lo]
        return np.asarray(sums / np.sqrt(counts)[:, None] + offset, dtype=np.float64), bounds


def parse_ngram_model(raw: bytes) -> NgramModel:
    """Parse ``ngram_model.npz`` bytes (no pickles allowed); malformed data raises ValueError."""
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        meta = json.loads(bytes(archive["meta"]).decode("utf-8"))
        if meta.get("id") != "ngram_model" or meta.get("feature_bits") != 18:
            raise ValueError("not an n-gram model for this featuriser")
        if list(meta.get("categories", [])) != [str(c) for c in CATEGORIES]:
            raise ValueError("n-gram model columns do not match the categories")
        concepts = tuple(str(name) for name in meta["concepts"])
        return NgramModel(
            str(meta["version"]),
            archive["weights"],
            concepts,
            archive["concept_weights"],
            archive["bias"],
        )


def sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0))), dtype=np.float64)


class LearnedLayer:
    """The n-gram model plus its Platt calibration and firing threshold.

    The concept features come from ``matcher``; the model's concept names must be exactly the
    matcher's vocabulary, or the two artefacts are out of step and loading fails.
    """

    def __init__(
        self,
        model: NgramModel,
        matcher: PatternMatcher,
        platt: Mapping[Category, tuple[float, float]],
        fire_probability: float,
    ) -> None:
        if not 0.5 < fire_probability < 1.0:
            raise ValueError("fire_probability must lie in (0.5, 1)")
        if model.concepts != matcher.concept_vocabulary:
            raise ValueError("the n-gram model was trained with another pattern list")
        self._model = model
        self._matcher = matcher
        self._scale = np.array([platt[c][0] for c in CATEGORIES], dtype=np.float64)
        self._offset = np.array([platt[c][1] for c in CATEGORIES], dtype=np.float64)
        self._fire = fire_probability

    @property
    def name(self) -> str:
        return LAYER_NAME

    def score(self, normalized: NormalizedText, match: PatternMatch | None = None) -> LayerScores:
        if match is None:
            match = self._matcher.match(normalized)
        raw, bounds = self._model.window_scores(normalized.text, match)
        probabilities = sigmoid(raw * self._scale + self._offset)
        best = probabilities.argmax(axis=0)
        spans: list[Span] = []
        fired: set[Category] = set()
        for column, category in enumerate(CATEGORIES):
            probability = float(probabilities[best[column], column])
            if probability >= self._fire:
                fired.add(category)
                start, end = bounds[best[column]]
                if end > start:
                    spans.append(Span(*normalized.to_original(start, end), category, LAYER_NAME))
        return LayerScores(
            LAYER_NAME,
            {c: float(probabilities[best[i], i]) for i, c in enumerate(CATEGORIES)},
            frozenset(fired),
            tuple(spans),
        )
