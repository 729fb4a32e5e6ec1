"""Canary: what leaves the TEE, what is stored and what is logged never holds the statement in clear.

A prompt string is planted in the triggering context (session id and the hashed content). Everything
the TEE produces for a disclosure (envelope, audit entry body, outbox payload, object reprs, log
records, printed output) and everything an outsider holding every key except the authority's private
key can get out of it (errors from trying to open it with the TEE key material and the other
authorities' keys) must contain neither the canary nor any statement field's value.
"""

from __future__ import annotations

import hashlib
import logging

import pytest
from disclosure_world import World

from audit_log.formats import jcs
from disclosure import (
    AuthorityPrivateKey,
    DisclosureError,
    DisclosureOpener,
    SuiteName,
)

# '-' and '_' and ' ' are outside standard base64, so the canary cannot appear in a ciphertext by chance.
CANARY = "CANARY-prompt_7f3b do-not-leak"


def test_nothing_leaves_or_is_logged_in_clear(
    world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    session_id = f"{CANARY}-session"
    content = f"please help me with {CANARY}"
    sealed = world.seal("csam", 0.99973, session_id=session_id, content=content)

    opened = world.opener().open(sealed.envelope_bytes)  # the authority itself reads it all
    secrets = {
        "canary": CANARY,
        "category": '"csam"',
        "category-field": "risk_category",
        "confidence": "0.99973",
        "content hash": opened.statement.content_hash or "",
        "session hash": opened.statement.session_id_hash,
        "session id": session_id,
        "plain content hash": hashlib.sha256(content.encode()).hexdigest(),
        "plain session hash": hashlib.sha256(session_id.encode()).hexdigest(),
    }
    assert opened.statement.risk_category == "csam"
    assert CANARY not in opened.statement_json.decode()

    outsider_errors = []
    for name, key in world.authorities.items():
        if name == "ncmec":
            continue
        # Another authority's key, relabelled to pass the addressing check, and the TEE's own secrets.
        for impostor in (
            AuthorityPrivateKey("ncmec", world.suite, key.raw),
            AuthorityPrivateKey("ncmec", world.suite, world.sessions.secret),
            AuthorityPrivateKey("ncmec", world.suite, world.log_key.private_bytes_raw()),
        ):
            envelope = jcs.canonicalize(
                {**jcs.parse_object(sealed.envelope_bytes), "authority_key_id": impostor.key_id}
            )
            with pytest.raises(DisclosureError) as caught:
                DisclosureOpener.production(impostor, world.log_key.public_key()).open(envelope)
            outsider_errors.append(f"{type(caught.value).__name__}: {caught.value}")

    printed = capsys.readouterr()
    corpus = {
        "envelope": sealed.envelope_bytes.decode(),
        "audit entry body": jcs.canonicalize(sealed.audit_entry_body).decode(),
        "sealed repr": repr(sealed),
        "envelope repr": repr(sealed.envelope),
        "outsider errors": "\n".join(outsider_errors),
        "log records": "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records),
        "stdout": printed.out,
        "stderr": printed.err,
    }
    for where, text in corpus.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} leaked into {where}"
    assert {e.split(":")[0] for e in outsider_errors} == {"OpenError"}


def test_ciphertext_is_not_the_same_for_the_same_statement(world: World) -> None:
    first = world.seal("bio", 0.9999, session_id="same")
    second = world.seal("bio", 0.9999, session_id="same")
    assert first.envelope.ciphertext != second.envelope.ciphertext
    if world.suite is SuiteName.X25519_SEALEDBOX:
        assert first.envelope.ciphertext[:32] != second.envelope.ciphertext[:32]  # fresh ephemeral key
