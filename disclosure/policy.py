"""The disclosure part of the attested policy: authorities, their keys, and which categories go where.

DESIGN.md "The gateway" (``policy.toml``) and "Disclosure envelope". A disclosure can only be sealed
to a key listed here, and the policy is attested, so the provider cannot swap in its own key.

Thresholds: a rule's threshold defaults to :data:`MIN_DISCLOSURE_THRESHOLD` (0.999) and may be
raised up to 1.0, never lowered; a policy that asks for less is refused, it is not clamped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from disclosure.errors import DisclosureFormatError, PolicyError
from disclosure.keys import AuthorityPublicKey, check_authority_id
from disclosure.statement import MAX_POLICY_VERSION_CHARS, check_category
from disclosure.suites import SuiteName

MIN_DISCLOSURE_THRESHOLD = 0.999


@dataclass(frozen=True)
class Authority:
    """An authority as the policy lists it: its id and its one public key."""

    id: str
    public_key: AuthorityPublicKey

    def __post_init__(self) -> None:
        try:
            check_authority_id(self.id)
        except DisclosureFormatError as exc:
            raise PolicyError(str(exc)) from exc

    @property
    def suite(self) -> SuiteName:
        return self.public_key.suite

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    @classmethod
    def from_policy(cls, authority_id: str, suite: str, public_key: str) -> Authority:
        """From ``policy.toml``'s ``[[authorities]]`` fields (public key in standard base64)."""
        return cls(authority_id, AuthorityPublicKey.from_base64(suite, public_key))


@dataclass(frozen=True)
class DisclosureRule:
    """Disclose ``category`` to ``authority`` when confidence >= ``threshold``."""

    category: str
    authority: str
    threshold: float = MIN_DISCLOSURE_THRESHOLD

    def __post_init__(self) -> None:
        try:
            check_category(self.category)
            check_authority_id(self.authority)
        except DisclosureFormatError as exc:
            raise PolicyError(str(exc)) from exc
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | float)
            or not math.isfinite(self.threshold)
            or not MIN_DISCLOSURE_THRESHOLD <= self.threshold <= 1.0
        ):
            raise PolicyError(
                f"disclosure threshold for {self.category} must be in [{MIN_DISCLOSURE_THRESHOLD}, 1]"
            )


@dataclass(frozen=True)
class DisclosurePolicy:
    """Every authority a disclosure may be sealed to, and the rules that trigger one."""

    policy_version: str
    authorities: tuple[Authority, ...]
    rules: tuple[DisclosureRule, ...]

    def __post_init__(self) -> None:
        version = self.policy_version
        if not 0 < len(version) <= MAX_POLICY_VERSION_CHARS or not version.isprintable():
            raise PolicyError(f"policy version must be 1-{MAX_POLICY_VERSION_CHARS} printable characters")
        ids = [a.id for a in self.authorities]
        if len(set(ids)) != len(ids):
            raise PolicyError("authority ids must be unique")
        key_ids = [a.key_id for a in self.authorities]
        if len(set(key_ids)) != len(key_ids):
            raise PolicyError("two authorities share one public key")
        pairs = [(r.category, r.authority) for r in self.rules]
        if len(set(pairs)) != len(pairs):
            raise PolicyError("a category is mapped to the same authority twice")
        for rule in self.rules:
            if rule.authority not in ids:
                raise PolicyError(f"category {rule.category} names unknown authority {rule.authority}")

    def authority(self, authority_id: str) -> Authority:
        for authority in self.authorities:
            if authority.id == authority_id:
                return authority
        raise PolicyError(f"authority {authority_id[:32]!r} is not in the policy")

    @property
    def authority_key_ids(self) -> tuple[str, ...]:
        """The key ids, for the attestation claims."""
        return tuple(a.key_id for a in self.authorities)

    @classmethod
    def from_policy_mapping(cls, policy: Mapping[str, object]) -> DisclosurePolicy:
        """Read the disclosure part of a parsed ``policy.toml`` (``tomllib.loads`` output).

        Uses ``version``, ``[[authorities]]`` (``id``, ``suite``, ``public_key``) and each
        ``[categories.<name>]``'s ``authority`` and ``disclosure_threshold``; other keys are the
        gateway's to validate.
        """
        version = policy.get("version")
        authorities = policy.get("authorities", [])
        categories = policy.get("categories", {})
        if not isinstance(version, str):
            raise PolicyError("policy version must be a string")
        if not isinstance(authorities, list) or not isinstance(categories, dict):
            raise PolicyError("authorities must be an array of tables and categories a table")
        parsed = []
        for entry in authorities:
            if not isinstance(entry, dict):
                raise PolicyError("each authority must be a table")
            fields = (entry.get("id"), entry.get("suite"), entry.get("public_key"))
            if not all(isinstance(f, str) for f in fields):
                raise PolicyError("each authority needs string id, suite and public_key")
            parsed.append(Authority.from_policy(*(str(f) for f in fields)))
        rules = []
        for category, rule in categories.items():
            if not isinstance(rule, dict):
                raise PolicyError(f"category {str(category)[:64]!r} must be a table")
            authority = rule.get("authority")
            if authority is None:
                continue
            threshold = rule.get("disclosure_threshold", MIN_DISCLOSURE_THRESHOLD)
            if (
                not isinstance(authority, str)
                or isinstance(threshold, bool)
                or not isinstance(threshold, int | float)
            ):
                raise PolicyError(f"category {category} needs a string authority and a numeric threshold")
            rules.append(DisclosureRule(str(category), authority, float(threshold)))
        return cls(version, tuple(parsed), tuple(rules))
