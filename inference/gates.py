"""PRE_GATE and POST_GATE: turn classifier scores into one policy decision (pure).

For each category the highest confidence over every assessed text is compared with the policy's
threshold; the strongest action among the categories that reached theirs wins (block > redact >
allow). A category the classifiers report but the policy does not know is a policy error: the gate
refuses rather than guesses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from inference.errors import Refused
from inference.policy import PolicyModel
from inference.verdicts import NO_CATEGORY, Action

_STRENGTH: dict[Action, int] = {"allow": 0, "redact": 1, "block": 2}
REDACTION_MARK = "[redacted]"


@dataclass(frozen=True)
class Span:
    """A flagged span of a text, in that text's own character offsets."""

    start: int
    end: int
    category: str

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError("span must have 0 <= start <= end")


@dataclass(frozen=True)
class TextAssessment:
    """Calibrated confidence per category for one text, and the spans that drove it."""

    scores: Mapping[str, float]
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class GateDecision:
    action: Action
    risk_category: str
    confidence: float
    scores: Mapping[str, float]
    redact_categories: frozenset[str] = field(default_factory=frozenset)


def max_scores(assessments: Iterable[TextAssessment]) -> dict[str, float]:
    combined: dict[str, float] = {}
    for assessment in assessments:
        for category, value in assessment.scores.items():
            combined[category] = max(combined.get(category, 0.0), value)
    return combined


def decide(assessments: Sequence[TextAssessment], policy: PolicyModel) -> GateDecision:
    scores = max_scores(assessments)
    unknown = set(scores) - set(policy.categories)
    if unknown:
        raise Refused("policy")
    action: Action = "allow"
    risk, confidence = NO_CATEGORY, 0.0
    redact: set[str] = set()
    for category, value in sorted(scores.items()):
        rule = policy.categories[category]
        if value < rule.threshold or rule.action == "allow":
            continue
        if rule.action == "redact":
            redact.add(category)
        stronger = _STRENGTH[rule.action] > _STRENGTH[action]
        if stronger or (_STRENGTH[rule.action] == _STRENGTH[action] and value > confidence):
            action, risk, confidence = rule.action, category, value
    return GateDecision(action, risk, confidence, scores, frozenset(redact))


def redact(text: str, spans: Iterable[Span], categories: frozenset[str], floor: int = 0) -> str:
    """Replace the spans of ``categories`` with a mark; offsets below ``floor`` are left alone
    (they were already released during streaming)."""
    cuts = sorted((max(s.start, floor), s.end) for s in spans if s.category in categories and s.end > floor)
    merged: list[tuple[int, int]] = []
    for start, end in cuts:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    pieces: list[str] = []
    position = 0
    for start, end in merged:
        pieces.extend((text[position:start], REDACTION_MARK))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
