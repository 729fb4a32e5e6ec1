"""Layer 3: a linear model over hashed n-grams and lexicon concepts, in windows (numpy only).

Per category ``c`` and window ``w`` the raw score is
``bias[c] + sum(weights[f, c] for f in F) / sqrt(max(|F|, floor)) + concepts @ V[:, c]``, with
``F`` the window's distinct n-gram buckets and ``concepts`` the 0/1 vector of the pattern
lexicon's concept names hit in it (:attr:`PatternMatch.concept_names`: which term groups, which
shared groups such as operational intent, harm or defence framing, and their conjunctions). The
n-grams catch wording and obfuscation residue; the concepts carry the lexicon's domain knowledge
to paraphrases and intents the training set never showed. Dividing by the square root of the
number of n-grams makes a sentence's score independent of its length; the model's
``length_floor`` (stored in its file) keeps that division from amplifying a window of one or two
words, whose dozen n-grams would otherwise weigh as much as a sentence's hundred (ADR 0002,
decision 14). Windows are the sentence and clause windows of
:mod:`inference.classifiers.windows`; the layer keeps the highest-scoring window per category (a
harmful request wrapped in a story or kilobytes of benign padding scores as if it stood alone),
then maps it through Platt scaling (Platt 1999) fitted on out-of-fold maxima over the windows of
train-split texts, long benign documents included, so the probability of the maximum is
calibrated. Weights come from ``data/ngram_model.npz``, written by
``python -m inference.classifiers.train``; the file holds plain arrays, never pickles.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inference.classifiers.assessment import LayerScores, Span
from inference.classifiers.categories import CATEGORIES, Category
from inference.classifiers.features import N_FEATURES, featurize
from inference.classifiers.normalize import NormalizedText
from inference.classifiers.patterns import PatternMatch, PatternMatcher
from inference.classifiers.windows import windows

LAYER_NAME = "learned"

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class WindowFeatures:
    """A text's n-gram buckets sorted by position, for each the index of the previous occurrence
    of the same bucket (-1: none) and where it ends, and per window its end, the slice
    ``[lo, hi)`` of the buckets that start inside it and the lexicon concepts hit inside it.

    A window keeps only the n-grams that also end inside it (or take in just the one space after
    it, as the padding after a text does), so a sentence scores exactly as it would alone: the
    n-grams that straddle into the next sentence belong to no window of one sentence.

    A window counts each bucket once (presence, not counts), so that repeating a word or phrase
    cannot multiply its weight (``word word word ...`` must not add up): inside ``[lo, hi)`` the
    occurrences whose previous occurrence lies before ``lo`` are exactly the distinct buckets.
    """

    buckets: npt.NDArray[np.int64]
    previous: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    lo: npt.NDArray[np.int64]
    hi: npt.NDArray[np.int64]
    window_ends: npt.NDArray[np.int64]
    concepts: tuple[frozenset[str], ...]

    def __post_init__(self) -> None:
        if not (len(self.lo) == len(self.hi) == len(self.window_ends) == len(self.concepts) > 0):
            raise ValueError("every window needs a feature slice, an end and its concepts")
        if not (self.previous.shape == self.ends.shape == self.buckets.shape):
            raise ValueError("every bucket needs its previous occurrence and its end")

    @classmethod
    def of(cls, text: str, match: PatternMatch, bounds: Sequence[tuple[int, int]]) -> WindowFeatures:
        buckets, positions, ends = featurize(text)
        order = np.argsort(positions, kind="stable")
        buckets = buckets[order]
        ends = ends[order]
        sorted_positions = positions[order]
        by_bucket = np.argsort(buckets, kind="stable")  # position order within each bucket
        repeats = buckets[by_bucket[1:]] == buckets[by_bucket[:-1]]
        previous = np.full(len(buckets), -1, dtype=np.int64)
        previous[by_bucket[1:][repeats]] = by_bucket[:-1][repeats]
        lo = np.searchsorted(sorted_positions, [s for s, _ in bounds], side="left")
        hi = np.searchsorted(sorted_positions, [e for _, e in bounds], side="left")
        window_ends = np.array([e for _, e in bounds], dtype=np.int64)
        concepts = tuple(match.concepts_in(s, e) for s, e in bounds)
        return cls(buckets, previous, ends, lo.astype(np.int64), hi.astype(np.int64), window_ends, concepts)

    def distinct(self, index: int) -> tuple[int, npt.NDArray[np.bool_]]:
        """Window ``index``'s start in :attr:`buckets` and the mask, over its slice, of the first
        occurrence of each distinct bucket that ends inside the window.

        (An n-gram that straddles the window's end can only be the last occurrence of its bucket
        in the slice, so dropping it never hides an earlier one.)"""
        lo, hi = int(self.lo[index]), int(self.hi[index])
        inside = self.ends[lo:hi] <= self.window_ends[index] + 1
        return lo, (self.previous[lo:hi] < lo) & inside

    def window_buckets(self, index: int) -> npt.NDArray[np.int64]:
        """The distinct n-gram buckets of window ``index``, sorted."""
        lo, first = self.distinct(index)
        return np.sort(self.buckets[lo : lo + len(first)][first])


class NgramModel:
    """Weights ``(N_FEATURES, 4)``, concept weights ``(len(concepts), 4)``, bias ``(4,)`` and the
    n-gram count below which a window's sum is no longer scaled up (``length_floor``)."""

    def __init__(
        self,
        version: str,
        weights: FloatArray,
        concepts: tuple[str, ...],
        concept_weights: FloatArray,
        bias: FloatArray,
        length_floor: int,
    ) -> None:
        if length_floor < 1:
            raise ValueError("the length floor must be a positive count of n-grams")
        n = len(CATEGORIES)
        if weights.shape != (N_FEATURES, n) or bias.shape != (n,):
            raise ValueError("n-gram weights or bias have the wrong shape")
        if concept_weights.shape != (len(concepts), n):
            raise ValueError("concept weights do not match the concept names")
        arrays = (weights, concept_weights, bias)
        if not all(np.all(np.isfinite(array)) for array in arrays):
            raise ValueError("n-gram model weights must be finite")
        self.version = version
        self.length_floor = length_floor
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
        self, normalized: NormalizedText, match: PatternMatch
    ) -> tuple[npt.NDArray[np.float64], list[tuple[int, int]]]:
        """Raw scores ``(n_windows, 4)`` and the normalised ``[start, end)`` of each window.

        Windows are the text's sentence and clause windows (:func:`windows`). Each window sees
        only the n-grams and lexicon concepts inside it, so benign text around a request can
        neither dilute it nor lend it weight.
        """
        bounds = windows(normalized)
        features = WindowFeatures.of(normalized.text, match, bounds)
        return self.score(features), bounds

    def score(self, features: WindowFeatures) -> npt.NDArray[np.float64]:
        """Raw scores ``(n_windows, 4)`` of already extracted window features."""
        concepts = np.stack([self.concept_vector(names) for names in features.concepts])
        offset = self._bias + concepts @ self._concept_weights
        gathered = self._weights[features.buckets].astype(np.float64)
        sums = np.zeros((len(features.lo), len(CATEGORIES)))
        counts = np.ones(len(features.lo))
        for window in range(len(features.lo)):
            lo, first = features.distinct(window)
            sums[window] = gathered[lo : lo + len(first)][first].sum(axis=0)
            counts[window] = max(int(first.sum()), self.length_floor)
        return np.asarray(sums / np.sqrt(counts)[:, None] + offset, dtype=np.float64)


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
            int(meta["length_floor"]),
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
        raw, bounds = self._model.window_scores(normalized, match)
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
