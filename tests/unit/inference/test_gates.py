"""PRE_GATE/POST_GATE decisions and redaction."""

from __future__ import annotations

import pytest

from inference.errors import Refused
from inference.gates import REDACTION_MARK, Span, TextAssessment, decide, redact
from inference.policy import PolicyModel


def policy(**overrides: dict[str, object]) -> PolicyModel:
    categories: dict[str, object] = {
        "csam": {"threshold": 0.4, "action": "block"},
        "bio": {"threshold": 0.5, "action": "block"},
        "chem": {"threshold": 0.5, "action": "redact"},
        "cyber": {"threshold": 0.5, "action": "allow"},
    }
    categories.update(overrides)
    return PolicyModel.model_validate({"schema_version": 1, "version": "t", "categories": categories})


def scores(**values: float) -> TextAssessment:
    base = {"csam": 0.0, "bio": 0.0, "chem": 0.0, "cyber": 0.0}
    base.update(values)
    return TextAssessment(base)


def test_below_every_threshold_allows_with_no_category() -> None:
    decision = decide([scores(bio=0.49, csam=0.39)], policy())
    assert (decision.action, decision.risk_category) == ("allow", "none")


def test_highest_score_over_all_messages_counts_not_only_the_last() -> None:
    decision = decide([scores(bio=0.9), scores(), scores()], policy())
    assert (decision.action, decision.risk_category, decision.confidence) == ("block", "bio", 0.9)


def test_block_beats_redact_even_at_lower_confidence() -> None:
    decision = decide([scores(chem=0.99, bio=0.6)], policy())
    assert (decision.action, decision.risk_category) == ("block", "bio")


def test_redact_collects_its_categories() -> None:
    decision = decide([scores(chem=0.7)], policy())
    assert decision.action == "redact"
    assert decision.redact_categories == {"chem"}


def test_allow_action_never_escalates() -> None:
    assert decide([scores(cyber=1.0)], policy()).action == "allow"


def test_category_unknown_to_the_policy_fails_closed() -> None:
    with pytest.raises(Refused):
        decide([TextAssessment({"weapons": 0.1})], policy())


def test_redact_merges_overlapping_spans() -> None:
    text = "aaa BAD1 BAD2 bbb"
    spans = [Span(4, 8, "chem"), Span(6, 13, "chem"), Span(14, 17, "bio")]
    assert redact(text, spans, frozenset({"chem"})) == f"aaa {REDACTION_MARK} bbb"


def test_redact_leaves_text_below_the_floor_alone() -> None:
    text = "released|new BAD"
    assert redact(text, [Span(0, 16, "chem")], frozenset({"chem"}), floor=9) == "released|" + REDACTION_MARK
