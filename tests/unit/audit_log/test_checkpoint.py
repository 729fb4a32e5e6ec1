"""C2SP tlog-checkpoints signed as notes (audit_log/checkpoint.py).

Checked against Tessera's signed 15-entry log (re-signed byte for byte with its published test key),
the C2SP checkpoint example and two checkpoints of Sigstore's staging Rekor v2 logs
(../shared/vectors/tlog), then for strict parsing. https://c2sp.org/tlog-checkpoint
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_vectors import load_vector_json, vectors_dir

from audit_log.checkpoint import Checkpoint, CheckpointPolicy, parse_decimal, sign_checkpoint
from audit_log.errors import FormatError, VerificationError
from audit_log.formats.note import NoteSigner, NoteVerifier, open_note, parse_skey, parse_vkey, sign_note
from audit_log.merkle import EMPTY_ROOT, CompactRange, leaf_hash, verify_inclusion


def _json(relative: str) -> dict[str, Any]:
    value = load_vector_json(relative)
    assert isinstance(value, dict)
    return value


TESSERA_DIR = "tlog/tessera-testdata-log"
TESSERA = _json(f"{TESSERA_DIR}/log.json")
TESSERA_ORIGIN = str(TESSERA["origin"])
TESSERA_SIGNER = parse_skey(str(TESSERA["skey_TEST_ONLY"]))
TESSERA_VERIFIER = parse_vkey(str(TESSERA["vkey"]))
REKOR: list[dict[str, Any]] = _json("tlog/sigstore-rekor-v2-staging/rekor-v2-staging-entries.json")["entries"]
C2SP = _json("tlog/c2sp/examples.json")


def _tessera_roots() -> list[bytes]:
    compact, roots = CompactRange(), [EMPTY_ROOT]
    for entry in TESSERA["entries_utf8"]:
        compact.append(leaf_hash(entry.encode()))
        roots.append(compact.root())
    return roots


TESSERA_ROOTS = _tessera_roots()


def _tessera_checkpoint_file(size: int) -> bytes:
    return (vectors_dir() / TESSERA_DIR / "checkpoints" / f"checkpoint.{size}").read_bytes()


# --- Tessera's signed log -------------------------------------------------------------------------


def test_tessera_test_key_matches_its_vkey_and_key_id() -> None:
    assert TESSERA_SIGNER.name == TESSERA_ORIGIN
    assert TESSERA_SIGNER.verifier.vkey == TESSERA["vkey"]
    assert TESSERA_VERIFIER.key_id.hex() == str(TESSERA["vkey"]).split("+")[1]


@pytest.mark.parametrize("size", range(16), ids=lambda n: f"checkpoint.{n}")
def test_tessera_checkpoint_is_reproduced_byte_for_byte(size: int) -> None:
    """entries -> leaf hashes -> root -> checkpoint body -> Ed25519 note, identical to Tessera's file."""
    published = _tessera_checkpoint_file(size)
    ours = sign_checkpoint(Checkpoint(TESSERA_ORIGIN, size, TESSERA_ROOTS[size]), TESSERA_SIGNER)
    assert ours == published
    assert TESSERA["checkpoints"][str(size)] == published.decode()


@pytest.mark.parametrize("size", range(16), ids=lambda n: f"checkpoint.{n}")
def test_tessera_checkpoint_verifies_with_its_vkey(size: int) -> None:
    checkpoint = CheckpointPolicy.of(TESSERA_ORIGIN, [TESSERA_VERIFIER]).verify(
        _tessera_checkpoint_file(size)
    )
    assert (checkpoint.size, checkpoint.root, checkpoint.extensions) == (size, TESSERA_ROOTS[size], ())


def test_tessera_latest_checkpoint_and_tree_state_agree_with_size_15() -> None:
    assert (
        vectors_dir() / TESSERA_DIR / "checkpoints" / "checkpoint"
    ).read_bytes() == _tessera_checkpoint_file(15)
    state = load_vector_json(f"{TESSERA_DIR}/log.json")
    assert isinstance(state, dict)
    assert f'"root":"{base64.b64encode(TESSERA_ROOTS[15]).decode()}"' in state["tree_state_json"]


def test_tessera_empty_checkpoint_carries_sha256_of_nothing() -> None:
    """INTEROP: the size-0 root is SHA-256(""), not Go's TreeHash(0) of 32 zero bytes."""
    checkpoint = CheckpointPolicy.of(TESSERA_ORIGIN, [TESSERA_VERIFIER]).verify(_tessera_checkpoint_file(0))
    assert checkpoint.root == EMPTY_ROOT


# --- C2SP examples ------------------------------------------------------------------------------


def test_c2sp_checkpoint_example_parses_and_formats_back() -> None:
    example: dict[str, str] = C2SP["checkpoint_format_example"]
    text = example["signed_note"][: example["signed_note"].index("\n\n") + 1]
    checkpoint = Checkpoint.parse(text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.body() == text


def test_c2sp_checkpoint_example_is_not_trusted_without_its_key() -> None:
    """The spec publishes no key for it: its signature is unknown to us, so the note is refused."""
    example: dict[str, str] = C2SP["checkpoint_format_example"]
    stranger = NoteSigner("example.com/behind-the-sofa", Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
    with pytest.raises(VerificationError):
        CheckpointPolicy.of("example.com/behind-the-sofa", [stranger.verifier]).verify(
            example["signed_note"].encode()
        )


# --- Sigstore's staging Rekor v2 ----------------------------------------------------------------


def _rekor_verifier(entry: dict[str, Any]) -> NoteVerifier:
    key: dict[str, str] = entry["log_public_key"]
    public = load_der_public_key(base64.b64decode(key["spki_der_base64"]))
    assert isinstance(public, Ed25519PublicKey)
    return NoteVerifier(str(entry["origin"]), public)


@pytest.mark.parametrize("entry", REKOR, ids=lambda e: str(e["origin"]))
def test_rekor_v2_key_id_is_the_truncated_log_id(entry: dict[str, Any]) -> None:
    key: dict[str, str] = entry["log_public_key"]
    assert _rekor_verifier(entry).key_id == base64.b64decode(key["logId_keyId_base64"])[:4]


@pytest.mark.parametrize("entry", REKOR, ids=lambda e: str(e["origin"]))
def test_rekor_v2_entry_verifies_from_checkpoint_to_leaf(entry: dict[str, Any]) -> None:
    note = str(entry["checkpoint"]).encode()
    checkpoint = CheckpointPolicy.of(str(entry["origin"]), [_rekor_verifier(entry)]).verify(note)
    assert checkpoint.size == entry["tree_size"]
    assert checkpoint.root == base64.b64decode(str(entry["root_hash_base64"]))
    leaf = leaf_hash(base64.b64decode(str(entry["leaf_data_base64"])))
    proof = [base64.b64decode(h) for h in entry["inclusion_proof_base64"]]
    verify_inclusion(int(entry["log_index"]), checkpoint.size, leaf, proof, checkpoint.root)
    with pytest.raises(VerificationError):
        verify_inclusion(
            int(entry["log_index"]), checkpoint.size, leaf_hash(b"forged"), proof, checkpoint.root
        )


def test_rekor_v2_witness_cosignatures_are_ignored_not_fatal() -> None:
    (entry,) = [e for e in REKOR if str(e["checkpoint"]).count("\u2014") > 1]
    opened = open_note(str(entry["checkpoint"]).encode(), [_rekor_verifier(entry)])
    assert [s.name for s in opened.verified] == [entry["origin"]]
    assert len(opened.unverified) == 3


def test_rekor_v2_checkpoint_is_refused_under_another_origin() -> None:
    entry = REKOR[0]
    with pytest.raises(VerificationError):
        CheckpointPolicy.of("log2025-alpha3.rekor.sigstage.dev", [_rekor_verifier(entry)]).verify(
            str(entry["checkpoint"]).encode()
        )


def test_rekor_v2_checkpoint_is_refused_with_another_logs_key() -> None:
    first, second = REKOR
    impostor = NoteVerifier(str(first["origin"]), _rekor_verifier(second).public_key)
    with pytest.raises(VerificationError):
        CheckpointPolicy.of(str(first["origin"]), [impostor]).verify(str(first["checkpoint"]).encode())


# --- Parsing --------------------------------------------------------------------------------------

origins = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn", "Zs")),
    min_size=1,
    max_size=40,
)
extension_lines = st.lists(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(origins, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32), extension_lines)
def test_checkpoint_body_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    body = checkpoint.body()
    assert Checkpoint.parse(body) == checkpoint
    assert Checkpoint.parse(body).body() == body


ROOT_B64 = base64.b64encode(TESSERA_ROOTS[3]).decode()
URL_SAFE_ROOT = base64.urlsafe_b64encode(b"\xfb" * 32).decode()
# ...AAE= encodes the last two bytes 00 01; "H" (0b000111) also sets the two unused bits.
PAD_BITS_ROOT = base64.b64encode(bytes(31) + b"\x01").decode()[:-2] + "H="
MALFORMED_BODIES = {
    "missing-trailing-newline": f"o\n3\n{ROOT_B64}",
    "size-leading-zero": f"o\n03\n{ROOT_B64}\n",
    "size-zero-zero": f"o\n00\n{ROOT_B64}\n",
    "size-plus-sign": f"o\n+3\n{ROOT_B64}\n",
    "size-negative": f"o\n-3\n{ROOT_B64}\n",
    "size-space": f"o\n 3\n{ROOT_B64}\n",
    "size-arabic-indic": f"o\n\u0663\n{ROOT_B64}\n",
    "size-superscript": f"o\n\u00b3\n{ROOT_B64}\n",
    "size-empty": f"o\n\n{ROOT_B64}\n",
    "size-hex": f"o\n0x3\n{ROOT_B64}\n",
    "size-beyond-uint64": f"o\n{2**64}\n{ROOT_B64}\n",
    "size-5000-digits": f"o\n{'9' * 5000}\n{ROOT_B64}\n",
    "root-unpadded": f"o\n3\n{ROOT_B64.rstrip('=')}\n",
    "root-url-safe": f"o\n3\n{URL_SAFE_ROOT}\n",
    "root-pad-bits-set": f"o\n3\n{PAD_BITS_ROOT}\n",
    "root-31-bytes": f"o\n3\n{base64.b64encode(bytes(31)).decode()}\n",
    "root-33-bytes": f"o\n3\n{base64.b64encode(bytes(33)).decode()}\n",
    "root-missing": "o\n3\n",
    "origin-empty": f"\n3\n{ROOT_B64}\n",
    "empty-extension-line": f"o\n3\n{ROOT_B64}\n\n",
    "crlf": f"o\r\n3\r\n{ROOT_B64}\r\n",
    "empty": "",
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_checkpoint_body_is_rejected(body: str) -> None:
    with pytest.raises(FormatError):
        Checkpoint.parse(body)


def test_root_with_pad_bits_set_decodes_to_the_same_bytes_but_is_refused() -> None:
    canonical = base64.b64encode(bytes(31) + b"\x01").decode()
    assert canonical.endswith("AAE=")
    assert canonical != PAD_BITS_ROOT
    assert base64.b64decode(PAD_BITS_ROOT) == base64.b64decode(canonical)


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [("", 1, bytes(32)), ("a\nb", 1, bytes(32)), ("o", -1, bytes(32)), ("o", 1, bytes(31))],
    ids=["empty-origin", "multi-line-origin", "negative-size", "short-root"],
)
def test_checkpoint_constructor_refuses_invalid_values(origin: str, size: int, root: bytes) -> None:
    with pytest.raises(FormatError):
        Checkpoint(origin, size, root)


@pytest.mark.parametrize("text", ["0", "1", "10", str(2**64 - 1)])
def test_parse_decimal_accepts_canonical_uint64(text: str) -> None:
    assert parse_decimal(text, "size") == int(text)


# --- The policy -----------------------------------------------------------------------------------

LOG = NoteSigner("example.com/veritee-test", Ed25519PrivateKey.from_private_bytes(b"\x05" * 32))
WITNESS = NoteSigner("witness.example", Ed25519PrivateKey.from_private_bytes(b"\x06" * 32))


def test_policy_accepts_a_log_checkpoint_with_unknown_cosignatures() -> None:
    checkpoint = Checkpoint(LOG.name, 7, TESSERA_ROOTS[7])
    note = sign_note(checkpoint.body(), [LOG, WITNESS])
    assert CheckpointPolicy.of(LOG.name, [LOG.verifier]).verify(note) == checkpoint


def test_policy_refuses_a_checkpoint_signed_only_by_a_witness() -> None:
    note = sign_note(Checkpoint(LOG.name, 7, TESSERA_ROOTS[7]).body(), [WITNESS])
    with pytest.raises(VerificationError):
        CheckpointPolicy.of(LOG.name, [LOG.verifier]).verify(note)


def test_policy_refuses_a_signed_note_that_is_not_a_checkpoint() -> None:
    note = sign_note("not a checkpoint\n", [LOG])
    with pytest.raises(FormatError):
        CheckpointPolicy.of(LOG.name, [LOG.verifier]).verify(note)


def test_policy_refuses_a_checkpoint_whose_root_was_swapped_after_signing() -> None:
    note = sign_checkpoint(Checkpoint(LOG.name, 7, TESSERA_ROOTS[7]), LOG)
    swapped = note.replace(base64.b64encode(TESSERA_ROOTS[7]), base64.b64encode(TESSERA_ROOTS[6]))
    with pytest.raises(VerificationError):
        CheckpointPolicy.of(LOG.name, [LOG.verifier]).verify(swapped)


def test_policy_needs_at_least_one_key() -> None:
    with pytest.raises(FormatError):
        CheckpointPolicy.of(LOG.name, [])
