"""The agreement rule: no single layer reaches the disclosure threshold on its own."""

from __future__ import annotations

import pytest

from inference.classifiers import DISCLOSURE_THRESHOLD, Category, LayerScores
from inference.classifiers.combine import (
    Calibration,
    GuardEvidence,
    Stacker,
    combine,
)

CATS = tuple(Category)


def _scores(layer: str, chem: float, fired: bool) -> LayerScores:
    probabilities = {c: 0.01 for c in CATS} | {Category.CHEM: chem}
    return LayerScores(layer, probabilities, frozenset({Category.CHEM} if fired else ()))


def _stacker(weight: float = 3.0, bias: float = 0.0) -> Stacker:
    return Stacker(
        {c: bias for c in CATS},
        {c: {"learned": weight, "patterns": weight} for c in CATS},
        {c: 0.5 for c in CATS},
    )


def test_one_confident_layer_is_capped_below_disclosure() -> None:
    assessment = combine([_scores("learned", 0.999999, True)], _stacker(), 0.99)
    assert assessment.confidence[Category.CHEM] == 0.99
    assert assessment.fired[Category.CHEM] == ("learned",)


def test_two_agreeing_layers_can_reach_disclosure() -> None:
    layers = [_scores("learned", 0.999, True), _scores("patterns", 0.95, True)]
    assessment = combine(layers, _stacker(), 0.99)
    assert assessment.confidence[Category.CHEM] >= DISCLOSURE_THRESHOLD
    assert assessment.fired[Category.CHEM] == ("learned", "patterns")


def test_a_confident_layer_that_did_not_fire_does_not_count_as_agreement() -> None:
    layers = [_scores("learned", 0.999, True), _scores("patterns", 0.95, False)]
    assert combine(layers, _stacker(), 0.99).confidence[Category.CHEM] == 0.99


def test_guard_verdict_is_a_second_voter() -> None:
    guard = GuardEvidence("guard", {Category.CHEM: 0.9})
    assessment = combine([_scores("learned", 0.999, True)], _stacker(), 0.99, (guard,))
    assert assessment.confidence[Category.CHEM] >= DISCLOSURE_THRESHOLD
    assert assessment.fired[Category.CHEM] == ("learned", "guard")


def test_guard_alone_raises_confidence_but_stays_capped() -> None:
    guard = GuardEvidence("guard", {Category.CSAM: 0.95})
    assessment = combine([_scores("learned", 0.01, False)], _stacker(), 0.99, (guard,))
    assert 0.9 < assessment.confidence[Category.CSAM] <= 0.99


def test_negative_stacker_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Stacker({c: 0.0 for c in CATS}, {c: {"learned": -1.0} for c in CATS}, {c: 0.5 for c in CATS})


def test_a_cap_at_or_above_the_disclosure_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="below the disclosure"):
        Calibration("v", 0.99, 0.999, {}, {}, {})
