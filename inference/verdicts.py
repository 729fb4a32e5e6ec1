"""External verdicts: the only per-request facts that leave the TEE.

An :class:`ExternalVerdict` is exactly ``{verdict_id, risk_category, action, policy_version,
timestamp}``. Verdict ids are random UUIDv4 (never time-ordered) and timestamps are rounded down to
the second, so the provider cannot join verdicts to its connection logs by id order or timing.

The signed form is a DSSE envelope over JCS ``{verdict, log_index, mode}`` with payload type
:data:`VERDICT_PAYLOAD_TYPE`, signed by the log key after the verdict's audit entry is durable.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from audit_log import Mode
from audit_log.formats import jcs

VERDICT_PAYLOAD_TYPE = "application/vnd.veritee.verdict+json"
NO_CATEGORY = "none"

Action = Literal["allow", "block", "redact"]
Phase = Literal["input", "final"]
Outcome = Literal["completed", "blocked", "failed", "aborted"]


def new_verdict_id() -> str:
    return str(uuid.uuid4())


def rounded_timestamp(now: float) -> str:
    """RFC 3339 UTC time, truncated to the second."""
    return datetime.fromtimestamp(int(now), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ExternalVerdict:
    verdict_id: str
    risk_category: str
    action: Action
    policy_version: str
    timestamp: str

    def to_dict(self) -> dict[str, str]:
        return {
            "verdict_id": self.verdict_id,
            "risk_category": self.risk_category,
            "action": self.action,
            "policy_version": self.policy_version,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class VerdictRecord:
    """What the audit log keeps about one decision: ids, categories, numbers; never text.

    ``scores`` are the highest confidence per category seen at the deciding stage, rounded to four
    decimals (enough to audit thresholds, not enough to fingerprint inputs).
    """

    verdict: ExternalVerdict
    phase: Phase
    decided_at: Literal["input", "output"]
    outcome: Outcome
    scores: Mapping[str, float]
    model: str
    backend: str
    stream: bool
    messages: int
    input_chars: int
    output_chars: int
    prompt_tokens: int
    completion_tokens: int
    disclosures: int = 0

    def audit_body(self) -> dict[str, object]:
        return {
            **self.verdict.to_dict(),
            "phase": self.phase,
            "decided_at": self.decided_at,
            "outcome": self.outcome,
            "scores": {name: round(value, 4) for name, value in sorted(self.scores.items())},
            "model": self.model,
            "backend": self.backend,
            "stream": self.stream,
            "messages": self.messages,
            "input_chars": self.input_chars,
            "output_chars": self.output_chars,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "disclosures": self.disclosures,
        }


def signed_verdict_payload(verdict: ExternalVerdict, log_index: int, mode: Mode) -> bytes:
    """The exact bytes the log key signs for a verdict."""
    return jcs.canonicalize({"verdict": verdict.to_dict(), "log_index": log_index, "mode": mode.value})
