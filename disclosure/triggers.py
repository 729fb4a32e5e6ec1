"""Trigger rules: which disclosures a verdict causes. A pure function of the verdict and the policy.

DESIGN.md "Disclosure envelope"; docs/adr/0003-disclosure-sealing.md.

A disclosure is made only for a category that the policy maps to an authority, only when the
verdict's confidence reaches that rule's threshold (>= 0.999, see :mod:`disclosure.policy`), and it
carries the content hash only for CSAM. Every other verdict makes none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from disclosure.errors import DisclosureFormatError
from disclosure.policy import Authority, DisclosurePolicy
from disclosure.statement import CSAM_CATEGORY, check_category


@dataclass(frozen=True)
class DisclosureTrigger:
    """One disclosure to make: to whom, for which category, at which confidence."""

    authority: Authority
    risk_category: str
    confidence: float
    include_content_hash: bool


def check_confidence(confidence: object) -> float:
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
        or not 0 <= confidence <= 1
    ):
        raise DisclosureFormatError("confidence must be a finite number in [0, 1]")
    return float(confidence)


def disclosures_for(
    category: str, confidence: float, policy: DisclosurePolicy
) -> tuple[DisclosureTrigger, ...]:
    """The disclosures a verdict of ``category`` at ``confidence`` requires under ``policy``.

    Raises :class:`DisclosureFormatError` for a malformed category or a confidence outside [0, 1]
    (a classifier fault: the gateway fails closed on it).
    """
    check_category(category)
    value = check_confidence(confidence)
    return tuple(
        DisclosureTrigger(
            authority=policy.authority(rule.authority),
            risk_category=category,
            confidence=value,
            include_content_hash=category == CSAM_CATEGORY,
        )
        for rule in policy.rules
        if rule.category == category and value >= rule.threshold
    )
