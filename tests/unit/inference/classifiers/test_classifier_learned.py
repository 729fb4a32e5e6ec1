"""The n-gram model's length floor: short windows are not amplified, sentences stay length-free."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from inference.classifiers import normalize
from inference.classifiers.categories import CATEGORIES
from inference.classifiers.features import N_FEATURES
from inference.classifiers.learned import NgramModel, WindowFeatures, parse_ngram_model
from inference.classifiers.patterns import PatternMatcher, parse_patterns
from inference.classifiers.train import NGRAM_LENGTH_FLOOR, meta_array, write_npz

PATTERNS = Path(__file__).parents[4] / "inference" / "classifiers" / "data" / "patterns.json"
FLOOR = 64


@cache
def matcher() -> PatternMatcher:
    return parse_patterns(PATTERNS.read_bytes())[1]


def model(floor: int) -> NgramModel:
    vocabulary = matcher().concept_vocabulary
    weights = np.random.default_rng(7).normal(size=(N_FEATURES, len(CATEGORIES))).astype(np.float32)
    zeros = np.zeros((len(vocabulary), len(CATEGORIES)), dtype=np.float32)
    return NgramModel("test", weights, vocabulary, zeros, np.zeros(len(CATEGORIES), dtype=np.float32), floor)


def raw_and_expected(text: str, floor: int) -> tuple[np.ndarray, np.ndarray, int]:
    normalized = normalize(text)
    bounds = [(0, len(normalized.text))]
    features = WindowFeatures.of(normalized.text, matcher().match(normalized), bounds)
    ngram_model = model(floor)
    buckets = features.window_buckets(0)
    summed = ngram_model.weights[buckets].astype(np.float64).sum(axis=0)
    expected = summed / np.sqrt(max(len(buckets), floor))
    return ngram_model.score(features)[0], expected, len(buckets)


def test_a_one_word_window_is_divided_by_the_floor_not_by_its_few_ngrams() -> None:
    raw, expected, count = raw_and_expected("virus", FLOOR)
    assert count < FLOOR
    np.testing.assert_allclose(raw, expected, rtol=1e-6)


def test_a_sentence_above_the_floor_is_divided_by_its_own_count() -> None:
    sentence = "The library opens at nine on weekdays and at ten on Saturdays, closed on Sundays."
    raw, expected, count = raw_and_expected(sentence, FLOOR)
    assert count > FLOOR
    np.testing.assert_allclose(raw, expected, rtol=1e-6)
    unfloored, _, _ = raw_and_expected(sentence, 1)
    np.testing.assert_allclose(raw, unfloored, rtol=1e-6)


def test_the_floor_must_be_a_positive_count() -> None:
    with pytest.raises(ValueError, match="floor"):
        model(0)


def test_the_shipped_model_carries_the_floor_training_uses() -> None:
    shipped = parse_ngram_model((PATTERNS.parent / "ngram_model.npz").read_bytes())
    assert shipped.length_floor == NGRAM_LENGTH_FLOOR


def test_a_model_file_without_its_floor_is_refused(tmp_path: Path) -> None:
    """Artefacts from before the floor would be scored differently than fitted: parsing fails
    (the loader turns this into ArtefactCorrupt and the gateway does not start)."""
    ngram_model = model(FLOOR)
    meta = meta_array("ngram_model", "old", feature_bits=18, concepts=list(ngram_model.concepts))
    arrays = {
        "meta": meta,
        "weights": ngram_model.weights,
        "concept_weights": ngram_model.concept_weights,
        "bias": ngram_model.bias,
    }
    write_npz(tmp_path / "ngram_model.npz", arrays)
    with pytest.raises(KeyError, match="length_floor"):
        parse_ngram_model((tmp_path / "ngram_model.npz").read_bytes())
