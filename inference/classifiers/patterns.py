"""Layer 2: term groups matched with Aho-Corasick, word-boundary checked, combined by rules.

The data file (``data/patterns.json``) lists, per category, groups of terms (agents, tools,
minors, ...) plus shared groups (operational intent verbs), and two kinds of rule:

* ``strong``: every named group has a hit within ``window_words`` words of the others
  (e.g. a nerve agent AND "synthesise") -> tier 2, the layer *fires* on the category;
* ``weak``: the named groups are present at all (e.g. a nerve agent is merely mentioned) -> tier 1.

Terms are normalised with the same :func:`normalize` as the text, so lists may be written with
accents, capitals or in any script. A match counts only at word boundaries ("skill" does not
contain "kill"); a trailing ``*`` lets the last word run on ("synthes*" matches "synthesise");
terms in CJK scripts, which do not separate words with spaces, skip the boundary check. A hit
lying inside a longer hit of another group of the same category is dropped, so "child
pornography" counts as the named material, not as a minor plus a sexual term.

The tier becomes a probability through the calibration table trained on the labelled sets
(``calibration.json``: P(category | tier) on the train split).
Aho-Corasick: https://github.com/G-Research/ahocorasick_rs
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ahocorasick_rs

from inference.classifiers.assessment import LayerScores, Span
from inference.classifiers.categories import CATEGORIES, Category
from inference.classifiers.normalize import NormalizedText, normalize

LAYER_NAME = "patterns"
STRONG_TIER = 2
WEAK_TIER = 1


def _is_cjk(char: str) -> bool:
    return ord(char) >= 0x2E80


@dataclass(frozen=True)
class _Term:
    text: str
    prefix: bool
    memberships: tuple[tuple[Category, str], ...]


@dataclass(frozen=True)
class _Hit:
    group: str
    start: int
    end: int
    word: int


@dataclass(frozen=True)
class CategoryRules:
    strong: tuple[tuple[str, ...], ...]
    weak: tuple[tuple[str, ...], ...]
    shared: frozenset[str]


@dataclass(frozen=True)
class PatternMatch:
    """Raw pattern evidence: tiers, original-text spans, and where each concept was hit.

    ``concept_hits`` holds ``(name, start, end)`` in normalised-text offsets: ``category/group``
    for a category's term group, ``*/group`` for a shared group (intent, harm, defence framing),
    and ``category/tierN`` at the hits that made the category's tier.
    """

    tiers: Mapping[Category, int]
    spans: tuple[Span, ...]
    concept_hits: tuple[tuple[str, int, int], ...]

    def __post_init__(self) -> None:
        if any(a[1] > b[1] for a, b in zip(self.concept_hits, self.concept_hits[1:], strict=False)):
            raise ValueError("concept hits must be sorted by start")

    def concepts_in(self, start: int = 0, end: int | None = None) -> frozenset[str]:
        """Concept names hit at offsets in ``[start, end)``, plus the conjunctions of each
        category group with each shared group and of the shared groups with each other
        (``chem/agent&*/request``, ``*/fiction&*/nodetail``): features of the learned layer.

        ``concept_hits`` is sorted by start, so a window costs only the hits inside it."""
        lo = bisect.bisect_left(self.concept_hits, start, key=lambda hit: hit[1])
        hi = (
            len(self.concept_hits)
            if end is None
            else bisect.bisect_left(self.concept_hits, end, key=lambda hit: hit[1])
        )
        names = {name for name, _, _ in self.concept_hits[lo:hi]}
        shared = {name for name in names if name.startswith("*/")}
        own = {name for name in names - shared if "/tier" not in name}
        pairs = {f"{a}&{b}" for a in own for b in shared}
        pairs |= {f"{a}&{b}" for a in shared for b in shared if a < b}
        return frozenset(names | pairs)

    @property
    def concept_names(self) -> frozenset[str]:
        """All concepts of the whole text."""
        return self.concepts_in()


class PatternMatcher:
    """Compiled term groups and rules; immutable after construction, safe across threads."""

    def __init__(
        self,
        groups: Mapping[Category, Mapping[str, Sequence[str]]],
        rules: Mapping[Category, CategoryRules],
        window_words: int,
    ) -> None:
        if window_words < 1:
            raise ValueError("window_words must be positive")
        memberships: dict[tuple[str, bool], list[tuple[Category, str]]] = {}
        for category, category_groups in groups.items():
            for group, terms in category_groups.items():
                for raw in terms:
                    prefix = raw.endswith("*")
                    text = normalize(raw.removesuffix("*")).text
                    if not text:
                        raise ValueError("a pattern term normalises to nothing")
                    memberships.setdefault((text, prefix), []).append((category, group))
        self._terms = tuple(
            _Term(text, prefix, tuple(dict.fromkeys(owners)))
            for (text, prefix), owners in memberships.items()
        )
        self._automaton = ahocorasick_rs.AhoCorasick(
            [term.text for term in self._terms], matchkind=ahocorasick_rs.MatchKind.Standard
        )
        self._rules = dict(rules)
        self._window = window_words

    def match(self, normalized: NormalizedText) -> PatternMatch:
        text = normalized.text
        spaces = [i for i, char in enumerate(text) if char == " "]
        hits: dict[Category, list[_Hit]] = {category: [] for category in CATEGORIES}
        for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            term = self._terms[index]
            if not self._at_boundaries(text, term, start, end):
                continue
            if term.prefix:
                while end < len(text) and text[end] != " ":
                    end += 1
            word = bisect.bisect_left(spaces, start)
            for category, group in term.memberships:
                hits[category].append(_Hit(group, start, end, word))
        tiers: dict[Category, int] = {}
        spans: list[Span] = []
        concept_hits: list[tuple[str, int, int]] = []
        for category in CATEGORIES:
            rules = self._rules.get(category)
            category_hits = _drop_nested(hits[category])
            concept_hits += [
                (
                    f"*/{hit.group}" if rules and hit.group in rules.shared else f"{category}/{hit.group}",
                    hit.start,
                    hit.end,
                )
                for hit in category_hits
            ]
            tier, used = (0, []) if rules is None else self._tier(rules, category_hits)
            tiers[category] = tier
            for hit in used:
                concept_hits.append((f"{category}/tier{tier}", hit.start, hit.end))
                start, end = normalized.to_original(hit.start, hit.end)
                spans.append(Span(start, end, category, LAYER_NAME))
        ordered_hits = sorted(dict.fromkeys(concept_hits), key=lambda hit: (hit[1], hit[0], hit[2]))
        return PatternMatch(tiers, tuple(dict.fromkeys(spans)), tuple(ordered_hits))

    @property
    def concept_vocabulary(self) -> tuple[str, ...]:
        """Every name :attr:`PatternMatch.concept_names` can hold, in a fixed order."""
        shared = {g for rules in self._rules.values() for g in rules.shared}
        names = {f"*/{g}" if g in shared else f"{c}/{g}" for term in self._terms for c, g in term.memberships}
        names |= {f"{c}/tier{t}" for c in self._rules for t in (WEAK_TIER, STRONG_TIER)}
        shared_names = {name for name in names if name.startswith("*/")}
        own_names = {name for name in names - shared_names if "/tier" not in name}
        names |= {f"{a}&{b}" for a in own_names for b in shared_names}
        names |= {f"{a}&{b}" for a in shared_names for b in shared_names if a < b}
        return tuple(sorted(names))

    @staticmethod
    def _at_boundaries(text: str, term: _Term, start: int, end: int) -> bool:
        left_ok = start == 0 or text[start - 1] == " " or _is_cjk(term.text[0])
        right_ok = term.prefix or end == len(text) or text[end] == " " or _is_cjk(term.text[-1])
        return left_ok and right_ok

    def _tier(self, rules: CategoryRules, hits: list[_Hit]) -> tuple[int, list[_Hit]]:
        by_group: dict[str, list[_Hit]] = {}
        for hit in hits:
            by_group.setdefault(hit.group, []).append(hit)
        used: list[_Hit] = []
        for rule in rules.strong:
            used += self._within_window(rule, by_group)
        if used:
            return STRONG_TIER, [hit for hit in used if hit.group not in rules.shared]
        for rule in rules.weak:
            if all(group in by_group for group in rule):
                used += [hit for group in rule for hit in by_group[group]]
        return (WEAK_TIER, used) if used else (0, [])

    def _within_window(self, rule: tuple[str, ...], by_group: dict[str, list[_Hit]]) -> list[_Hit]:
        """Hits of a rule's groups that lie within the word window of each other.

        An anchor (a hit of the rule's first group) qualifies when every other group has a hit
        within ``window`` words; the partners are the other groups' hits near a qualifying
        anchor. Sorted word indices and bisection keep this O(n log n), so a text stuffed with
        terms cannot make matching quadratic.
        """
        if not all(group in by_group for group in rule):
            return []
        first, *others = rule
        words = {group: sorted(hit.word for hit in by_group[group]) for group in rule}
        anchors = [
            hit
            for hit in by_group[first]
            if all(_any_within(words[group], hit.word, self._window) for group in others)
        ]
        if not anchors:
            return []
        anchor_words = sorted(hit.word for hit in anchors)
        partners = [
            hit
            for group in others
            for hit in by_group[group]
            if _any_within(anchor_words, hit.word, self._window)
        ]
        return list(dict.fromkeys(anchors + partners))


def _any_within(sorted_words: list[int], word: int, window: int) -> bool:
    """Whether some value of ``sorted_words`` lies in ``[word - window, word + window]``."""
    index = bisect.bisect_left(sorted_words, word - window)
    return index < len(sorted_words) and sorted_words[index] <= word + window


def _drop_nested(hits: list[_Hit]) -> list[_Hit]:
    """Drop hits strictly inside a longer hit of another group (``child`` in ``child porn``).

    One sweep in start order: per group, the furthest end seen so far (and the earliest start
    reaching it) tells whether an earlier hit of that group covers the current one.
    """
    furthest: dict[str, tuple[int, int]] = {}
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        nested = False
        for group, (end, start) in furthest.items():
            if group != hit.group and (end > hit.end or (end == hit.end and start < hit.start)):
                nested = True
                break
        if not nested:
            kept.append(hit)
        best = furthest.get(hit.group)
        if best is None or hit.end > best[0]:
            furthest[hit.group] = (hit.end, hit.start)
    return kept


class PatternLayer:
    """Turns pattern tiers into calibrated probabilities: P(category | tier) per category."""

    def __init__(
        self, matcher: PatternMatcher, tier_probabilities: Mapping[Category, Sequence[float]]
    ) -> None:
        for category in CATEGORIES:
            table = tier_probabilities[category]
            if len(table) != STRONG_TIER + 1 or not all(0.0 <= p <= 1.0 for p in table):
                raise ValueError("each category needs three tier probabilities in [0, 1]")
        self._matcher = matcher
        self._table = {c: tuple(float(p) for p in tier_probabilities[c]) for c in CATEGORIES}

    @property
    def name(self) -> str:
        return LAYER_NAME

    @property
    def matcher(self) -> PatternMatcher:
        return self._matcher

    def score(self, normalized: NormalizedText, match: PatternMatch | None = None) -> LayerScores:
        if match is None:
            match = self._matcher.match(normalized)
        return LayerScores(
            LAYER_NAME,
            {c: self._table[c][match.tiers[c]] for c in CATEGORIES},
            frozenset(c for c in CATEGORIES if match.tiers[c] == STRONG_TIER),
            match.spans,
        )


def parse_patterns(raw: bytes) -> tuple[str, PatternMatcher]:
    """Parse ``patterns.json`` bytes into (version, matcher); malformed data raises ValueError."""
    spec = json.loads(raw.decode("utf-8"))
    if not isinstance(spec, dict) or spec.get("id") != LAYER_NAME:
        raise ValueError("not a pattern list")
    version = spec["version"]
    shared: dict[str, list[str]] = spec.get("shared_groups", {})
    groups: dict[Category, dict[str, list[str]]] = {}
    rules: dict[Category, CategoryRules] = {}
    for name, entry in spec["categories"].items():
        category = Category(name)
        own: dict[str, list[str]] = entry["groups"]
        strong = tuple(tuple(rule) for rule in entry["strong"])
        weak = tuple(tuple(rule) for rule in entry.get("weak", []))
        referenced = {group for rule in strong + weak for group in rule}
        unknown = referenced - set(own) - set(shared)
        if unknown or not strong:
            raise ValueError("a rule names an unknown group, or a category has no strong rule")
        groups[category] = {**own, **shared}
        rules[category] = CategoryRules(strong, weak, frozenset(shared))
    if not isinstance(version, str) or not version:
        raise ValueError("pattern list version must be a non-empty string")
    return version, PatternMatcher(groups, rules, int(spec["window_words"]))
