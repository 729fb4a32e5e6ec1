"""A small disclosure world for the tests: a TEE log key, three authorities, a policy, a sealer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_log import Mode
from disclosure import (
    Authority,
    AuthorityPrivateKey,
    DisclosureContext,
    DisclosureOpener,
    DisclosurePolicy,
    DisclosureRule,
    Ed25519DsseSigner,
    SealedDisclosure,
    SessionHasher,
    SuiteName,
    disclosures_for,
    seal_disclosure,
)

SESSION_SECRET = bytes(range(32))
AT = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
ATTESTATION_SHA256 = hashlib.sha256(b"attestation document").hexdigest()


@dataclass
class World:
    suite: SuiteName
    mode: Mode
    log_key: Ed25519PrivateKey
    authorities: dict[str, AuthorityPrivateKey]
    policy: DisclosurePolicy
    sessions: SessionHasher

    def seal(
        self,
        category: str = "csam",
        confidence: float = 0.9995,
        *,
        seq: int = 1,
        log_index: int = 41,
        session_id: str = "session-1",
        content: str = "the offending request",
        at: datetime = AT,
        authority: str | None = None,
        mode: Mode | None = None,
    ) -> SealedDisclosure:
        triggers = disclosures_for(category, confidence, self.policy)
        if authority is not None:
            triggers = tuple(t for t in triggers if t.authority.id == authority)
        assert len(triggers) == 1, "the test world maps each category to one authority"
        mode = mode or self.mode
        return seal_disclosure(
            triggers[0],
            seq=seq,
            context=DisclosureContext(
                log_index=log_index,
                session_id=session_id,
                content_sha256=hashlib.sha256(content.encode()).hexdigest(),
                policy_version="2026.03-test",
                attestation_sha256=ATTESTATION_SHA256,
                mode=mode,
                at=at,
            ),
            sessions=self.sessions,
            signer=Ed25519DsseSigner(self.log_key, mode),
        )

    def opener(self, authority: str = "ncmec", *, accept_simulated: bool = False) -> DisclosureOpener:
        make = DisclosureOpener.unsafe_accept_simulated if accept_simulated else DisclosureOpener.production
        return make(self.authorities[authority], self.log_key.public_key())


def build_world(suite: SuiteName, mode: Mode = Mode.PRODUCTION) -> World:
    authorities = {name: AuthorityPrivateKey.generate(name, suite) for name in ("ncmec", "fbi-wmd", "cisa")}
    policy = DisclosurePolicy(
        "2026.03-test",
        tuple(Authority(name, key.public_key) for name, key in authorities.items()),
        (
            DisclosureRule("csam", "ncmec"),
            DisclosureRule("bio", "fbi-wmd"),
            DisclosureRule("chem", "fbi-wmd", 0.9995),
            DisclosureRule("cyber", "cisa"),
        ),
    )
    return World(
        suite, mode, Ed25519PrivateKey.generate(), authorities, policy, SessionHasher(SESSION_SECRET)
    )
