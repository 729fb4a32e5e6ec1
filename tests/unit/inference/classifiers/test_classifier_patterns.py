"""Pattern matching: word boundaries, stems, CJK, nesting, windows and original-text spans."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference.classifiers import Category, normalize
from inference.classifiers.patterns import (
    STRONG_TIER,
    WEAK_TIER,
    CategoryRules,
    PatternMatcher,
    _any_within,
    _drop_nested,
    _Hit,
    parse_patterns,
)


def _matcher(window: int = 5) -> PatternMatcher:
    groups = {
        Category.CHEM: {"agent": ["sarin", "nerve agent*", "沙林"], "intent": ["kill", "synthes*", "制造"]},
        Category.CSAM: {
            "minor": ["child"],
            "sexual": ["porn*"],
            "material": ["child pornography"],
            "intent": ["kill", "synthes*", "制造"],
        },
    }
    rules = {
        Category.CHEM: CategoryRules((("agent", "intent"),), (("agent",),), frozenset({"intent"})),
        Category.CSAM: CategoryRules((("minor", "sexual"),), (("material",),), frozenset({"intent"})),
    }
    return PatternMatcher(groups, rules, window)


def test_skill_does_not_contain_kill() -> None:
    match = _matcher().match(normalize("great skill with sarin history"))
    assert match.tiers[Category.CHEM] == WEAK_TIER
    assert "*/intent" not in match.concept_names


def test_whole_word_kill_matches() -> None:
    match = _matcher().match(normalize("kill with sarin"))
    assert match.tiers[Category.CHEM] == STRONG_TIER


def test_stem_matches_word_endings_but_not_word_middles() -> None:
    matcher = _matcher()
    assert matcher.match(normalize("synthesise sarin")).tiers[Category.CHEM] == STRONG_TIER
    assert matcher.match(normalize("photosynthesis and sarin")).tiers[Category.CHEM] == WEAK_TIER


def test_term_inside_a_longer_word_does_not_match() -> None:
    assert _matcher().match(normalize("the tsarina")).tiers[Category.CHEM] == 0


def test_cjk_terms_match_without_spaces() -> None:
    assert _matcher().match(normalize("如何制造沙林")).tiers[Category.CHEM] == STRONG_TIER


def test_strong_rule_needs_the_groups_within_the_window() -> None:
    far = "sarin " + "word " * 10 + "kill"
    assert _matcher(window=5).match(normalize(far)).tiers[Category.CHEM] == WEAK_TIER
    assert _matcher(window=20).match(normalize(far)).tiers[Category.CHEM] == STRONG_TIER


def test_words_inside_a_named_material_do_not_count_as_minor_plus_sexual() -> None:
    match = _matcher().match(normalize("report child pornography to the hotline"))
    assert match.tiers[Category.CSAM] == WEAK_TIER


def test_spans_cut_the_obfuscated_original() -> None:
    text = "please s y n t h e s i z e  s\u200ba\u200br\u200bi\u200bn now"
    match = _matcher().match(normalize(text))
    assert match.tiers[Category.CHEM] == STRONG_TIER
    (span,) = [s for s in match.spans if s.category == Category.CHEM]
    assert text[span.start : span.end] == "s\u200ba\u200br\u200bi\u200bn"


def _spec(**overrides: object) -> bytes:
    spec: dict[str, object] = {
        "id": "patterns",
        "version": "t1",
        "window_words": 5,
        "shared_groups": {"intent": ["make"]},
        "categories": {"chem": {"groups": {"agent": ["sarin"]}, "strong": [["agent", "intent"]]}},
    }
    spec.update(overrides)
    return json.dumps(spec).encode()


def test_parse_accepts_a_minimal_list() -> None:
    version, matcher = parse_patterns(_spec())
    assert version == "t1"
    assert matcher.match(normalize("make sarin")).tiers[Category.CHEM] == STRONG_TIER


@pytest.mark.parametrize(
    "overrides",
    [
        {"id": "weights"},
        {"version": ""},
        {"categories": {"chem": {"groups": {"agent": ["sarin"]}, "strong": [["agent", "nope"]]}}},
        {"categories": {"chem": {"groups": {"agent": ["sarin"]}, "strong": []}}},
        {"categories": {"smallpox": {"groups": {"agent": ["x"]}, "strong": [["agent"]]}}},
        {"window_words": 0},
        {"categories": {"chem": {"groups": {"agent": ["?!"]}, "strong": [["agent"]]}}},
    ],
)
def test_parse_rejects_broken_lists(overrides: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError)):
        parse_patterns(_spec(**overrides))


def test_shipped_list_parses_and_has_every_category() -> None:
    from inference.classifiers.manifest import read_artefact

    _, raw = read_artefact("patterns")
    _, matcher = parse_patterns(raw)
    vocabulary = matcher.concept_vocabulary
    for category in Category:
        assert f"{category}/tier2" in vocabulary


def _nested_by_brute_force(hits: list) -> set:
    return {
        hit
        for hit in hits
        if any(
            other.group != hit.group
            and other.start <= hit.start
            and hit.end <= other.end
            and other.end - other.start > hit.end - hit.start
            for other in hits
        )
    }


HITS = st.lists(
    st.builds(
        lambda group, start, length: _Hit(group, start, start + length, start),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 30),
        st.integers(1, 8),
    ),
    max_size=25,
    unique=True,
)


@given(HITS)
def test_sweep_drops_exactly_the_nested_hits(hits: list) -> None:
    # The one-pass sweep (linear in the hits, so term-stuffed texts stay cheap) must agree
    # with the quadratic definition.
    kept = set(_drop_nested(hits))
    assert kept == set(hits) - _nested_by_brute_force(hits)


@given(st.lists(st.integers(0, 200), max_size=30), st.integers(0, 200), st.integers(0, 20))
def test_window_lookup_matches_a_scan(words: list[int], word: int, window: int) -> None:
    expected = any(abs(w - word) <= window for w in words)
    assert _any_within(sorted(words), word, window) == expected


def test_term_stuffed_text_still_matches_correctly() -> None:
    text = "kill sarin " * 2000
    match = _matcher().match(normalize(text))
    assert match.tiers[Category.CHEM] == STRONG_TIER
    assert len([s for s in match.spans if s.category == Category.CHEM]) == 2000
