"""Combine the layers' calibrated probabilities into one calibrated confidence per category.

For the set of layers that ran, a per-category logistic stacker (fitted by
``inference.classifiers.train`` on out-of-fold scores of the train split, with non-negative
weights so more evidence never lowers the confidence) gives
``confidence = sigmoid(bias + sum(w_layer * logit(p_layer)))``.

Agreement rule: a confidence at or above the disclosure threshold (0.999) needs at least two
layers to have *fired* on the category (patterns: a strong rule; a model: probability at or
above ``fire_probability``; the guard: a mapped unsafe verdict). With fewer, the confidence is
capped at ``single_layer_cap`` (0.99), so no single layer can trigger a disclosure alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inference.classifiers.assessment import Assessment, LayerScores
from inference.classifiers.categories import CATEGORIES, Category

DISCLOSURE_THRESHOLD = 0.999
_EPSILON = 1e-6


def layer_set_key(layers: Sequence[str]) -> str:
    return "+".join(sorted(layers))


def _logit(p: float) -> float:
    p = min(max(p, _EPSILON), 1.0 - _EPSILON)
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Stacker:
    """Per-category bias, non-negative weight per layer name, and recommended block threshold.

    ``block_threshold`` was read off out-of-fold confidences on the train split (see
    ``train.py``); the policy's own thresholds decide, this is the measured starting point.
    """

    bias: Mapping[Category, float]
    weights: Mapping[Category, Mapping[str, float]]
    block_threshold: Mapping[Category, float]

    def __post_init__(self) -> None:
        for category in CATEGORIES:
            if not math.isfinite(self.bias[category]):
                raise ValueError("stacker bias must be finite")
            if any(not (math.isfinite(w) and w >= 0) for w in self.weights[category].values()):
                raise ValueError("stacker weights must be finite and non-negative")
            if not 0.0 < self.block_threshold[category] < DISCLOSURE_THRESHOLD:
                raise ValueError("block thresholds must lie in (0, 0.999)")


@dataclass(frozen=True)
class Calibration:
    """Everything ``calibration.json`` holds: per-layer calibration and the stackers."""

    version: str
    fire_probability: float
    single_layer_cap: float
    pattern_tiers: Mapping[Category, tuple[float, float, float]]
    platt: Mapping[str, Mapping[Category, tuple[float, float]]]
    stackers: Mapping[str, Stacker]

    def __post_init__(self) -> None:
        if not 0.5 < self.fire_probability < 1.0:
            raise ValueError("fire_probability must lie in (0.5, 1)")
        if not 0.5 <= self.single_layer_cap < DISCLOSURE_THRESHOLD:
            raise ValueError("single_layer_cap must stay below the disclosure threshold")

    def stacker(self, layers: Sequence[str]) -> Stacker:
        key = layer_set_key(layers)
        if key not in self.stackers:
            raise KeyError(key)
        return self.stackers[key]


def parse_calibration(raw: bytes) -> Calibration:
    """Parse ``calibration.json`` bytes; malformed data raises ValueError or KeyError."""
    spec = json.loads(raw.decode("utf-8"))
    if not isinstance(spec, dict) or spec.get("id") != "calibration":
        raise ValueError("not a calibration file")
    tiers = {c: tuple(float(p) for p in spec["pattern_tiers"][c]) for c in CATEGORIES}
    if any(len(t) != 3 for t in tiers.values()):
        raise ValueError("pattern tiers need three probabilities")
    platt = {
        layer: {c: (float(table[c][0]), float(table[c][1])) for c in CATEGORIES}
        for layer, table in spec["platt"].items()
    }
    stackers = {
        key: Stacker(
            {c: float(entry[c]["bias"]) for c in CATEGORIES},
            {c: {k: float(v) for k, v in entry[c]["weights"].items()} for c in CATEGORIES},
            {c: float(entry[c]["block_threshold"]) for c in CATEGORIES},
        )
        for key, entry in spec["stackers"].items()
    }
    return Calibration(
        version=str(spec["version"]),
        fire_probability=float(spec["fire_probability"]),
        single_layer_cap=float(spec["single_layer_cap"]),
        pattern_tiers={c: (t[0], t[1], t[2]) for c, t in tiers.items()},
        platt=platt,
        stackers=stackers,
    )


@dataclass(frozen=True)
class GuardEvidence:
    """What an external layer (the guard model) adds: per category, the probability it lends."""

    layer: str
    probabilities: Mapping[Category, float]


def combine(
    scores: Sequence[LayerScores],
    stacker: Stacker,
    single_layer_cap: float,
    extra: Sequence[GuardEvidence] = (),
) -> Assessment:
    """Stack the synchronous layers, fold in extra evidence by noisy-OR, apply the agreement cap."""
    confidence: dict[Category, float] = {}
    fired: dict[Category, tuple[str, ...]] = {}
    for category in CATEGORIES:
        z = stacker.bias[category]
        for layer in scores:
            z += stacker.weights[category].get(layer.layer, 0.0) * _logit(layer.probabilities[category])
        value = _sigmoid(z)
        voters = [layer.layer for layer in scores if category in layer.fired]
        for evidence in extra:
            lent = evidence.probabilities.get(category, 0.0)
            if lent > 0.0:
                value = 1.0 - (1.0 - value) * (1.0 - lent)
                voters.append(evidence.layer)
        if len(voters) < 2:
            value = min(value, single_layer_cap)
        confidence[category] = float(min(max(value, 0.0), 1.0))
        fired[category] = tuple(voters)
    spans = tuple(span for layer in scores for span in layer.spans)
    return Assessment(confidence, fired, spans, tuple(scores))
