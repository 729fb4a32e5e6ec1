"""C2SP signed notes with Ed25519 (audit_log/formats/note.py).

Checked against Go's golang.org/x/mod/sumdb/note test values and the C2SP signed-note example
(../shared/vectors/tlog), then for the spec's strictness rules. https://c2sp.org/signed-note
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_vectors import load_vector_json

from audit_log.errors import FormatError, VerificationError
from audit_log.formats.note import (
    MAX_SIGNATURES,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    b64decode_strict,
    format_skey,
    key_id,
    open_note,
    parse_skey,
    parse_vkey,
    sign_note,
)
from audit_log.merkle import leaf_hash


def _json(relative: str) -> dict[str, Any]:
    value = load_vector_json(relative)
    assert isinstance(value, dict)
    return value


GO = _json("tlog/go-sumdb-note/note-vectors.json")
GO_KEYS: dict[str, dict[str, str]] = GO["keys"]
GO_NOTES: list[dict[str, Any]] = GO["notes"]
C2SP = _json("tlog/c2sp/examples.json")


def signer(name: str, seed: int) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


ALICE = signer("example.com/alice", 1)
BOB = signer("example.com/bob", 2)
TEXT = "example.com/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


# --- Go's golang.org/x/mod/sumdb/note values -------------------------------------------------


@pytest.mark.parametrize("name", sorted(GO_KEYS), ids=str)
def test_go_vkey_parses_with_its_key_id(name: str) -> None:
    verifier = parse_vkey(GO_KEYS[name]["vkey"])
    assert verifier.name == name
    assert verifier.key_id.hex() == GO_KEYS[name]["key_id_hex"]
    assert verifier.vkey == GO_KEYS[name]["vkey"]


def test_go_skey_gives_the_matching_vkey_and_formats_back() -> None:
    keys = GO_KEYS["PeterNeumann"]
    go_signer = parse_skey(keys["skey_TEST_ONLY"])
    assert go_signer.verifier.vkey == keys["vkey"]
    assert format_skey(go_signer) == keys["skey_TEST_ONLY"]


def test_go_deterministic_signature_is_reproduced_byte_for_byte() -> None:
    case = GO_NOTES[0]
    go_signer = parse_skey(GO_KEYS["PeterNeumann"]["skey_TEST_ONLY"])
    assert sign_note(str(case["text"]), [go_signer]) == str(case["signed_note"]).encode()


@pytest.mark.parametrize("case", GO_NOTES, ids=lambda c: str(c["desc"]))
def test_go_note_case(case: dict[str, Any]) -> None:
    verifiers = [parse_vkey(GO_KEYS[name]["vkey"]) for name in case["verify_with"]]
    note = str(case["signed_note"]).encode()
    if not case["want_valid"]:
        with pytest.raises((FormatError, VerificationError)):
            open_note(note, verifiers)
        return
    opened = open_note(note, verifiers)
    assert opened.text == case["text"]
    assert [s.name for s in opened.verified] == list(case["verify_with"])
    signers_in_note = [line.split(" ")[1] for line in note.decode().split("\n\n")[-1].splitlines()]
    assert sorted(s.name for s in opened.unverified) == sorted(
        set(signers_in_note) - set(case["verify_with"])
    )


@pytest.mark.parametrize("case", GO["bad_vkeys"], ids=lambda c: c["desc"])
def test_go_bad_vkey_is_rejected(case: dict[str, str]) -> None:
    with pytest.raises(FormatError):
        parse_vkey(case["vkey"])


def test_go_sumdb_tree_note_carries_the_rfc6962_record_hash() -> None:
    case: dict[str, Any] = GO["sumdb_tree_note_text"]
    root_line = str(case["text"]).splitlines()[2]
    assert b64decode_strict(root_line, "root") == leaf_hash(str(case["record"]).encode())


# --- C2SP examples ----------------------------------------------------------------------------


def test_c2sp_signed_note_example_verifies() -> None:
    example: dict[str, str] = C2SP["signed_note_example"]
    verifier = parse_vkey(example["vkey"])
    opened = open_note(example["signed_note"].encode(), [verifier])
    assert opened.text == "This is an example message.\n"
    assert [s.key_id for s in opened.verified] == [verifier.key_id]


def test_c2sp_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    example: dict[str, str] = C2SP["signed_note_example"]
    name, hex_id, encoded = example["vkey"].split("+")
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01
    assert key_id(name, raw[1:]).hex() == hex_id
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == hex_id


# --- Round trip -------------------------------------------------------------------------------

# C2SP allows any UTF-8 text without ASCII controls other than newline.
note_text = st.text(alphabet=st.characters(codec="utf-8", min_codepoint=0x20) | st.just("\n"), max_size=200)


@settings(max_examples=100, deadline=None)
@given(note_text)
def test_signed_note_round_trips_any_valid_text(body: str) -> None:
    text = body + "\n"
    opened = open_note(sign_note(text, [ALICE, BOB]), [ALICE.verifier])
    assert opened.text == text
    assert [s.name for s in opened.verified] == [ALICE.name]
    assert [s.name for s in opened.unverified] == [BOB.name]


def test_note_text_may_contain_empty_lines() -> None:
    """C2SP: the text MAY contain empty lines; the last empty line separates the signatures."""
    text = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    assert open_note(sign_note(text, [ALICE]), [ALICE.verifier]).text == text
    trailing_blank = "text\n\n"
    assert open_note(sign_note(trailing_blank, [ALICE]), [ALICE.verifier]).text == trailing_blank


def test_note_text_may_contain_del_and_non_ascii() -> None:
    text = "caf\u00e9 \x7f \u2014 \U0001f600\n"
    assert open_note(sign_note(text, [ALICE]), [ALICE.verifier]).text == text


def test_every_bit_flip_of_a_signed_note_is_detected() -> None:
    note = sign_note(TEXT, [ALICE])
    for bit in range(len(note) * 8):
        tampered = bytearray(note)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((FormatError, VerificationError)):
            open_note(bytes(tampered), [ALICE.verifier])


# --- Strictness (C2SP signed-note) -------------------------------------------------------------


B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def set_pad_bits(encoded: str) -> str:
    """Make canonical base64 with one '=' non-canonical: set the 2 unused bits of its last symbol."""
    assert encoded.endswith("=")
    assert not encoded.endswith("==")
    symbol = B64_ALPHABET.index(encoded[-2])
    assert symbol & 0b11 == 0
    return encoded[:-2] + B64_ALPHABET[symbol | 0b11] + "="


def _line(s: NoteSigner, text: str) -> str:
    return NoteSignature(s.name, s.verifier.key_id, s.sign(text.encode())).line()


def test_second_signature_by_a_known_key_is_rejected() -> None:
    note = sign_note(TEXT, [ALICE]) + _line(ALICE, TEXT).encode()
    with pytest.raises(VerificationError):
        open_note(note, [ALICE.verifier])


def test_bad_signature_by_a_known_key_is_rejected_despite_another_valid_one() -> None:
    forged = _line(BOB, "some other text\n")
    note = (TEXT + "\n" + _line(ALICE, TEXT) + forged).encode()
    with pytest.raises(VerificationError):
        open_note(note, [ALICE.verifier, BOB.verifier])
    # The same forged line by a key the verifier does not know is ignored, as C2SP requires.
    assert open_note(note, [ALICE.verifier]).text == TEXT


def test_note_signed_only_by_unknown_keys_is_rejected() -> None:
    with pytest.raises(VerificationError):
        open_note(sign_note(TEXT, [BOB]), [ALICE.verifier])


def test_signature_sharing_a_name_or_id_with_a_known_key_is_ignored() -> None:
    """C2SP: ignore unknown keys even if they share a name or an id (but not both) with a known one."""
    impostor_same_name = signer(ALICE.name, 9)
    same_id_other_name = NoteSignature("example.com/mallory", ALICE.verifier.key_id, b"\x00" * 64).line()
    note = (TEXT + "\n" + _line(impostor_same_name, TEXT) + same_id_other_name + _line(ALICE, TEXT)).encode()
    opened = open_note(note, [ALICE.verifier])
    assert [s.name for s in opened.verified] == [ALICE.name]
    assert len(opened.unverified) == 2


def test_up_to_100_signatures_are_accepted_and_more_are_rejected() -> None:
    unknown = [signer(f"example.com/w{i}", 10 + i) for i in range(MAX_SIGNATURES)]
    accepted = sign_note(TEXT, [*unknown[: MAX_SIGNATURES - 1], ALICE])
    assert len(open_note(accepted, [ALICE.verifier]).unverified) == MAX_SIGNATURES - 1
    with pytest.raises(FormatError):
        open_note(sign_note(TEXT, [*unknown, ALICE]), [ALICE.verifier])


MALFORMED = {
    "trailing-text": sign_note(TEXT, [ALICE]) + b"Unexpected line.\n",
    "missing-final-newline": sign_note(TEXT, [ALICE])[:-1],
    "no-blank-line": TEXT.encode() + _line(ALICE, TEXT).encode(),
    "not-utf8": b"\xff" + sign_note(TEXT, [ALICE]),
    "control-character-in-text": b"a\tb\n\n" + _line(ALICE, "a\tb\n").encode(),
    "carriage-return": sign_note(TEXT, [ALICE]).replace(b"\n", b"\r\n"),
    "no-signatures": TEXT.encode() + b"\n",
    "hyphen-instead-of-em-dash": sign_note(TEXT, [ALICE]).replace("\u2014".encode(), b"-"),
    "no-space-after-name": sign_note(TEXT, [ALICE]).replace(f"{ALICE.name} ".encode(), ALICE.name.encode()),
    "signature-not-base64": TEXT.encode() + f"\n\u2014 {ALICE.name} !!!!\n".encode(),
    "signature-url-safe-base64": TEXT.encode() + f"\n\u2014 {ALICE.name} ____\n".encode(),
    "signature-shorter-than-key-id": TEXT.encode() + f"\n\u2014 {ALICE.name} AAAA\n".encode(),
    "signature-unpadded-base64": TEXT.encode() + b"\n" + _line(ALICE, TEXT).replace("=\n", "\n").encode(),
    "signature-over-padded-base64": TEXT.encode()
    + b"\n"
    + _line(ALICE, TEXT).replace("=\n", "==\n").encode(),
    "signature-non-canonical-pad-bits": TEXT.encode()
    + b"\n"
    + _line(ALICE, TEXT)
    .replace(_line(ALICE, TEXT).split()[-1], set_pad_bits(_line(ALICE, TEXT).split()[-1]))
    .encode(),
    "empty-key-name": TEXT.encode() + b"\n\xe2\x80\x94  AAAAAAA=\n",
    "key-name-with-plus": TEXT.encode() + f"\n\u2014 a+b {base64.b64encode(bytes(68)).decode()}\n".encode(),
    "blank-line-between-signatures": sign_note(TEXT, [ALICE, BOB]).replace(
        b"\n\xe2\x80\x94 example.com/bob", b"\n\n\xe2\x80\x94 example.com/bob"
    ),
    "empty-note": b"",
}


@pytest.mark.parametrize("note", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_note_is_rejected(note: bytes) -> None:
    with pytest.raises((FormatError, VerificationError)):
        open_note(note, [ALICE.verifier, BOB.verifier])


@pytest.mark.parametrize(
    "text",
    ["no newline", "", "tab\tinside\n", "nul\x00\n", "cr\r\n"],
    ids=["no-newline", "empty", "tab", "nul", "cr"],
)
def test_sign_note_refuses_text_c2sp_forbids(text: str) -> None:
    with pytest.raises(FormatError):
        sign_note(text, [ALICE])


def test_sign_note_refuses_no_signer_and_duplicate_signers() -> None:
    with pytest.raises(FormatError):
        sign_note(TEXT, [])
    with pytest.raises(FormatError):
        sign_note(TEXT, [ALICE, ALICE])


# --- Key strings ------------------------------------------------------------------------------


def _vkey_parts(v: NoteVerifier) -> tuple[str, str, str]:
    name, hex_id, encoded = v.vkey.split("+", 2)
    return name, hex_id, encoded


BAD_VKEYS = {
    "uppercase-id": "{n}+{i_upper}+{k}",
    "wrong-id": "{n}+00000000+{k}",
    "short-id": "{n}+{i_short}+{k}",
    "space-in-name": "a b+{i}+{k}",
    "empty-name": "+{i}+{k}",
    "missing-field": "{n}+{k}",
    "url-safe-base64": "{n}+{i}+{k_url}",
    "over-padded-base64": "{n}+{i}+{k}==",
    "wrong-type-byte": "{n}+{i}+{k_type}",
    "name-of-another-key": "example.com/bob+{i}+{k}",
}


@pytest.mark.parametrize("template", BAD_VKEYS.values(), ids=BAD_VKEYS.keys())
def test_malformed_vkey_is_rejected(template: str) -> None:
    name, hex_id, encoded = _vkey_parts(ALICE.verifier)
    raw = base64.b64decode(encoded)
    assert "/" in encoded or "+" in encoded, "the fixed test key's vkey has a URL-unsafe symbol"
    vkey = template.format(
        n=name,
        i=hex_id,
        i_upper=hex_id.upper() if hex_id.upper() != hex_id else "Z" + hex_id[1:],
        i_short=hex_id[:6],
        k=encoded,
        k_url=encoded.replace("+", "-").replace("/", "_"),
        k_type=base64.b64encode(b"\x04" + raw[1:]).decode(),
    )
    with pytest.raises(FormatError):
        parse_vkey(vkey)


def test_malformed_skey_is_rejected() -> None:
    skey = format_skey(ALICE)
    assert parse_skey(skey).verifier.vkey == ALICE.verifier.vkey
    with pytest.raises(FormatError):
        parse_skey(skey.replace("PRIVATE+KEY+", "PUBLIC+KEY+"))
    with pytest.raises(FormatError):
        parse_skey(skey.replace(ALICE.verifier.key_id.hex(), "00000000"))
    with pytest.raises(FormatError):
        parse_skey(ALICE.verifier.vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\nb", "a\x00b"], ids=repr)
def test_key_names_with_spaces_plus_or_controls_are_refused(name: str) -> None:
    with pytest.raises(FormatError):
        NoteSigner(name, Ed25519PrivateKey.generate())
