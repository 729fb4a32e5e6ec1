"""``policy.toml``: the attested safety policy.

The policy is the contract the TEE enforces and attests: per-category thresholds and actions,
disclosure thresholds and authorities (with their public keys: disclosures can only be sealed to keys
listed here), the classifier manifest, the streaming window and input limits. Its SHA-256 over the
exact file bytes goes into the attestation claims and a ``policy`` audit entry.

The schema is versioned (``schema_version``) and strict: unknown keys are errors, so a typo never
silently weakens the policy.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from disclosure import Authority, DisclosureError, DisclosurePolicy, DisclosureRule
from inference.classifiers import CATEGORIES, ClassifierError, shipped_manifest
from inference.errors import ConfigError

SCHEMA_VERSION = 1
#: A disclosure is a mandatory report to an authority; it is never made below this confidence.
MIN_DISCLOSURE_THRESHOLD = 0.999

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Action = Literal["allow", "block", "redact"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CategoryRule(_Strict):
    """What to do when a category's confidence reaches ``threshold``."""

    threshold: Probability
    action: Action
    disclosure_threshold: Probability | None = None
    authority: str | None = None

    @model_validator(mode="after")
    def _disclosure_is_rare(self) -> CategoryRule:
        if (self.authority is None) != (self.disclosure_threshold is None):
            raise ValueError("authority and disclosure_threshold go together")
        if self.disclosure_threshold is not None:
            if self.disclosure_threshold < MIN_DISCLOSURE_THRESHOLD:
                raise ValueError(f"disclosure_threshold must be >= {MIN_DISCLOSURE_THRESHOLD}")
            if self.action != "block":
                raise ValueError("a category that can trigger a disclosure must block")
        return self


class AuthorityEntry(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
    name: str
    suite: Literal["x25519-sealedbox", "hpke-xwing"]
    public_key: Annotated[str, Field(min_length=1)]


class ManifestEntry(_Strict):
    id: str
    version: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ClassifierSettings(_Strict):
    """``guard_model``: a Llama Guard 3 model served by the configured backend, asked about every
    request and answer window (``inference/guarding.py``); absent = no guard. Each guard round
    must finish within ``guard_timeout_ms`` or the request is refused."""

    timeout_ms: Annotated[int, Field(gt=0, le=60_000)] = 1_000
    learned: bool = True
    embedding: bool = False
    guard_model: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    guard_timeout_ms: Annotated[int, Field(gt=0, le=120_000)] = 10_000
    manifest: list[ManifestEntry] = []


class StreamingSettings(_Strict):
    """Output is released in windows of ``window_chars`` after classification; each window is
    classified together with the last ``overlap_chars`` already released, so a phrase split across
    windows is still seen."""

    window_chars: Annotated[int, Field(ge=16, le=65_536)] = 256
    overlap_chars: Annotated[int, Field(ge=0, le=8_192)] = 96

    @model_validator(mode="after")
    def _overlap_below_window(self) -> StreamingSettings:
        if self.overlap_chars >= self.window_chars:
            raise ValueError("overlap_chars must be smaller than window_chars")
        return self


class Limits(_Strict):
    max_body_bytes: Annotated[int, Field(gt=0)] = 1_048_576
    max_messages: Annotated[int, Field(gt=0)] = 256
    max_message_chars: Annotated[int, Field(gt=0)] = 131_072
    max_total_chars: Annotated[int, Field(gt=0)] = 524_288
    max_tokens: Annotated[int, Field(gt=0)] = 8_192
    max_n: Annotated[int, Field(gt=0, le=16)] = 4
    max_tools: Annotated[int, Field(gt=0)] = 64


class PolicyModel(_Strict):
    schema_version: Literal[1]
    version: Annotated[str, Field(min_length=1, max_length=128)]
    categories: dict[str, CategoryRule]
    authorities: list[AuthorityEntry] = []
    classifiers: ClassifierSettings = ClassifierSettings()
    streaming: StreamingSettings = StreamingSettings()
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _authorities_resolve(self) -> PolicyModel:
        ids = [a.id for a in self.authorities]
        if len(set(ids)) != len(ids):
            raise ValueError("authority ids must be unique")
        for name, rule in self.categories.items():
            if rule.authority is not None and rule.authority not in ids:
                raise ValueError(
                    f"category {name} names unknown authority {rule.authority}: add an [[authorities]] "
                    f"table with id = {rule.authority!r} (the shipped default policy leaves them out; "
                    "veritee serve adds demo authorities to it in simulated mode)"
                )
        return self

    @model_validator(mode="after")
    def _one_rule_per_classifier_category(self) -> PolicyModel:
        # The gate refuses scores for a category without a rule, so a policy that left one out
        # would refuse every request; a category no classifier reports is a typo for another.
        known = {str(category) for category in CATEGORIES}
        missing, unknown = known - set(self.categories), set(self.categories) - known
        if missing:
            raise ValueError(f"every classifier category needs a rule; missing {sorted(missing)}")
        if unknown:
            raise ValueError(f"no classifier reports the categories {sorted(unknown)}")
        return self


@dataclass(frozen=True)
class Policy:
    """A validated policy with the hash of the exact bytes it was read from."""

    model: PolicyModel
    sha256: str
    source: str

    @property
    def version(self) -> str:
        return self.model.version

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Policy:
        try:
            raw = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"policy {source} is not valid TOML: {exc}") from exc
        try:
            model = PolicyModel.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"policy {source} is invalid: {problems}") from None
        return cls(model, hashlib.sha256(data).hexdigest(), source)

    def disclosure_policy(self) -> DisclosurePolicy:
        """The authorities and disclosure rules, with every public key parsed and checked."""
        return _disclosure_policy(self.model)

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read policy {path}: {exc.strerror}") from exc
        return cls.from_bytes(data, str(path))


def shipped_policy_bytes() -> bytes:
    """The default policy that ships with the package (no authority keys: see ``demo_policy``)."""
    return resources.files("inference.data").joinpath("default-policy.toml").read_bytes()


def _disclosure_policy(model: PolicyModel) -> DisclosurePolicy:
    try:
        return DisclosurePolicy(
            policy_version=model.version,
            authorities=tuple(Authority.from_policy(a.id, a.suite, a.public_key) for a in model.authorities),
            rules=tuple(
                DisclosureRule(name, rule.authority, rule.disclosure_threshold)
                for name, rule in sorted(model.categories.items())
                if rule.authority is not None and rule.disclosure_threshold is not None
            ),
        )
    except DisclosureError as exc:
        raise ConfigError(f"policy authorities are invalid: {exc}") from exc


_MANIFEST_TABLE = re.compile(r"\n*\[\[classifiers\.manifest\]\]\n(?:[A-Za-z0-9_]+ *= *[^\n]*\n)*")
_NEXT_TABLE = re.compile(r"^\[", re.MULTILINE)


def pin_installed_manifest(text: str) -> tuple[str, int]:
    """``text`` with the manifest of the classifier artefacts installed here pinned in it.

    Includes the embedding model when the policy enables the embedding layer. Returns the new text
    and how many artefacts it pins.
    """
    try:
        classifiers = tomllib.loads(text).get("classifiers", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy is not valid TOML: {exc}") from exc
    embedding = bool(classifiers.get("embedding", False)) if isinstance(classifiers, dict) else False
    try:
        refs = shipped_manifest(include_embedding_model=embedding)
    except ClassifierError as exc:
        raise ConfigError(f"cannot read the installed classifier artefacts: {exc}") from exc
    entries = [ManifestEntry(id=r.id, version=r.version, sha256=r.sha256) for r in refs]
    return pin_manifest(text, entries), len(entries)


def pin_manifest(text: str, entries: Sequence[ManifestEntry]) -> str:
    """``text`` with its ``[[classifiers.manifest]]`` tables replaced by ``entries``.

    The tables go at the end of the ``[classifiers]`` table; comments and everything else stay.
    """
    stripped = _MANIFEST_TABLE.sub("\n", text)
    header = stripped.find("\n[classifiers]\n")
    if header < 0:
        raise ConfigError("the policy has no [classifiers] table to pin a manifest in")
    following = _NEXT_TABLE.search(stripped, header + len("\n[classifiers]\n"))
    end = following.start() if following else len(stripped)
    tables = "".join(
        f'[[classifiers.manifest]]\nid = "{e.id}"\nversion = "{e.version}"\nsha256 = "{e.sha256}"\n\n'
        for e in entries
    )
    body = stripped[:end].rstrip("\n") + "\n\n"
    return body + tables + stripped[end:].lstrip("\n")
