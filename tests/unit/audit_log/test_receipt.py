"""Per-entry receipts in c2sp.org/tlog-proof@v1 form (audit_log/receipt.py).

A receipt is produced from a tree, serialised, parsed back and verified; every kind of lie about the
entry, its position, the log or the proof is refused. https://c2sp.org/tlog-proof
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_log.checkpoint import Checkpoint, CheckpointPolicy, sign_checkpoint
from audit_log.errors import FormatError, VerificationError
from audit_log.formats.note import NoteSigner
from audit_log.merkle import CompactRange, inclusion_proof, leaf_hash
from audit_log.receipt import HEADER, MAX_PROOF_HASHES, Receipt, verify_receipt

ORIGIN = "example.com/veritee-receipts"
LOG = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x11" * 32))
OTHER_KEY = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x12" * 32))
POLICY = CheckpointPolicy.of(ORIGIN, [LOG.verifier])
SIZE = 1000
ENTRIES = [b'{"seq":%d}' % i for i in range(SIZE)]


def _grow() -> tuple[dict[tuple[int, int], bytes], list[bytes]]:
    compact = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    roots = [compact.root()]
    for entry in ENTRIES:
        nodes.update({(lv, ix): h for lv, ix, h in compact.append(leaf_hash(entry))})
        roots.append(compact.root())
    return nodes, roots


NODES, ROOTS = _grow()


def read(level: int, index: int) -> bytes:
    return NODES[(level, index)]


def receipt_for(index: int, size: int, signer: NoteSigner = LOG, extra: bytes | None = None) -> Receipt:
    note = sign_checkpoint(Checkpoint(signer.name, size, ROOTS[size]), signer)
    return Receipt(index, tuple(inclusion_proof(index, size, read)), note, extra)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, SIZE).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))), st.booleans())
def test_receipt_round_trips_and_verifies(case: tuple[int, int], with_extra: bool) -> None:
    size, index = case
    receipt = receipt_for(index, size, extra=ENTRIES[index] if with_extra else None)
    data = receipt.to_bytes()
    parsed = Receipt.parse(data)
    assert parsed == receipt
    assert parsed.to_bytes() == data
    checkpoint = verify_receipt(parsed, ENTRIES[index], POLICY)
    assert (checkpoint.size, checkpoint.root) == (size, ROOTS[size])


def test_receipt_text_has_the_c2sp_layout() -> None:
    receipt = receipt_for(5, 8, extra=b"entry")
    lines = receipt.to_bytes().decode().split("\n")
    assert lines[:3] == [HEADER, "extra " + base64.b64encode(b"entry").decode(), "index 5"]
    assert [base64.b64decode(line) for line in lines[3:6]] == list(receipt.proof)
    assert lines[6] == ""
    assert "\n".join(lines[7:]).encode() == receipt.checkpoint_note


def test_receipt_for_another_entry_is_rejected() -> None:
    with pytest.raises(VerificationError):
        verify_receipt(receipt_for(7, 100), ENTRIES[8], POLICY)


def test_receipt_with_a_wrong_index_is_rejected() -> None:
    honest = receipt_for(7, 100)
    for index in (6, 8, 99, 100, 10**6):
        moved = Receipt(index, honest.proof, honest.checkpoint_note)
        with pytest.raises(VerificationError):
            verify_receipt(moved, ENTRIES[7], POLICY)


def test_receipt_from_another_log_origin_is_rejected() -> None:
    other_log = NoteSigner("example.com/another-log", Ed25519PrivateKey.from_private_bytes(b"\x11" * 32))
    with pytest.raises(VerificationError):
        verify_receipt(
            receipt_for(7, 100, signer=other_log),
            ENTRIES[7],
            CheckpointPolicy.of(ORIGIN, [other_log.verifier]),
        )


def test_receipt_with_a_truncated_or_padded_proof_is_rejected() -> None:
    honest = receipt_for(7, 100)
    for proof in (honest.proof[:-1], honest.proof[1:], (*honest.proof, honest.proof[0]), ()):
        with pytest.raises(VerificationError):
            verify_receipt(Receipt(7, proof, honest.checkpoint_note), ENTRIES[7], POLICY)


def test_receipt_with_a_checkpoint_by_an_unknown_key_is_rejected() -> None:
    with pytest.raises(VerificationError):
        verify_receipt(receipt_for(7, 100, signer=OTHER_KEY), ENTRIES[7], POLICY)


def test_receipt_whose_proof_belongs_to_another_checkpoint_is_rejected() -> None:
    stale = receipt_for(7, 99)
    newer = receipt_for(7, 100)
    with pytest.raises(VerificationError):
        verify_receipt(Receipt(7, stale.proof, newer.checkpoint_note), ENTRIES[7], POLICY)


def test_extra_data_is_not_trusted_only_the_entry_argument_is() -> None:
    lying = receipt_for(7, 100, extra=ENTRIES[8])
    verify_receipt(lying, ENTRIES[7], POLICY)
    with pytest.raises(VerificationError):
        verify_receipt(lying, lying.extra or b"", POLICY)


GOOD = receipt_for(3, 10, extra=b"x").to_bytes()
HEAD, NOTE = GOOD.split(b"\n\n", 1)
HEAD_LINES = HEAD.split(b"\n")
MALFORMED = {
    "wrong-header": GOOD.replace(HEADER.encode(), b"c2sp.org/tlog-proof@v2"),
    "header-missing": b"\n".join(HEAD_LINES[1:]) + b"\n\n" + NOTE,
    "header-trailing-space": GOOD.replace(HEADER.encode(), HEADER.encode() + b" "),
    "index-missing": b"\n".join([HEAD_LINES[0], HEAD_LINES[1], *HEAD_LINES[3:]]) + b"\n\n" + NOTE,
    "index-leading-zero": GOOD.replace(b"index 3", b"index 03"),
    "index-negative": GOOD.replace(b"index 3", b"index -3"),
    "index-beyond-uint64": GOOD.replace(b"index 3", b"index %d" % 2**64),
    "index-huge": GOOD.replace(b"index 3", b"index " + b"9" * 5000),
    "index-two-spaces": GOOD.replace(b"index 3", b"index  3"),
    "extra-after-index": b"\n".join([HEAD_LINES[0], HEAD_LINES[2], HEAD_LINES[1], *HEAD_LINES[3:]])
    + b"\n\n"
    + NOTE,
    "extra-not-base64": GOOD.replace(HEAD_LINES[1], b"extra !!"),
    "proof-hash-not-base64": GOOD.replace(HEAD_LINES[3], b"not base64"),
    "proof-hash-unpadded": GOOD.replace(HEAD_LINES[3], HEAD_LINES[3].rstrip(b"=")),
    "proof-hash-31-bytes": GOOD.replace(HEAD_LINES[3], base64.b64encode(bytes(31))),
    "proof-too-long": b"\n".join([*HEAD_LINES, *[base64.b64encode(bytes(32))] * MAX_PROOF_HASHES])
    + b"\n\n"
    + NOTE,
    "non-ascii-header": GOOD.replace(b"index 3", "index \u0663".encode()),
    "crlf": GOOD.replace(b"\n", b"\r\n"),
    "no-blank-line": HEAD + b"\n" + NOTE,
    "empty": b"",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_receipt_is_rejected(data: bytes) -> None:
    with pytest.raises((FormatError, VerificationError)):
        verify_receipt(Receipt.parse(data), b"x", POLICY)


def test_malformed_receipt_header_is_a_format_error_before_any_crypto() -> None:
    for name in (
        "wrong-header",
        "index-missing",
        "index-leading-zero",
        "index-huge",
        "proof-hash-31-bytes",
        "crlf",
    ):
        with pytest.raises(FormatError):
            Receipt.parse(MALFORMED[name])


def test_receipt_constructor_refuses_impossible_values() -> None:
    with pytest.raises(FormatError):
        Receipt(-1, (), b"")
    with pytest.raises(FormatError):
        Receipt(0, (bytes(31),), b"")
    with pytest.raises(FormatError):
        Receipt(0, (bytes(32),) * (MAX_PROOF_HASHES + 1), b"")
