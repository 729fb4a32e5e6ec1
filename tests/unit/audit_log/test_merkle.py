"""RFC 9162 hashing, compact ranges and proofs (audit_log/merkle.py).

Checked three ways: against transparency-dev/merkle's probes and reference tree
(../shared/vectors/tlog/transparency-dev-merkle), against a naive recursive transcription of
RFC 9162 §2.1 (MTH, PATH, PROOF) for every (m, n) with 1 <= m <= n <= 300, and with hypothesis
properties over trees of up to 5,000 leaves.
https://www.rfc-editor.org/rfc/rfc9162#section-2.1
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from base64 import b64decode
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_vectors import load_vector_json, vectors_dir

from audit_log.errors import FormatError, VerificationError
from audit_log.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_hash,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

MERKLE_VECTORS = "tlog/transparency-dev-merkle"
REJECTED = (VerificationError, FormatError)


class Tree:
    """A tree grown leaf by leaf with CompactRange, keeping every completed node and every root."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.roots = [EMPTY_ROOT]
        compact = CompactRange()
        for leaf in self.leaves:
            for level, index, value in compact.append(leaf):
                assert (level, index) not in self.nodes, "a node was completed twice"
                self.nodes[(level, index)] = value
            self.roots.append(compact.root())

    def read(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]


def numbered_leaves(count: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


# --- A naive RFC 9162 §2.1 implementation, written from the RFC text only -----------------------


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveRfc9162:
    """MTH, PATH and PROOF exactly as RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 define them."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = leaves  # leaf hashes, i.e. MTH({d(i)})
        self.mth = functools.lru_cache(maxsize=None)(self._mth)

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.leaves[start]
        k = _k(n)
        return hashlib.sha256(b"\x01" + self.mth(start, start + k) + self.mth(start + k, end)).digest()

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        return self._subproof(m, 0, n, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = _k(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self.mth(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.mth(start, start + k)]


# --- transparency-dev/merkle vectors ------------------------------------------------------------


def _probe_files(kind: str) -> list[str]:
    root = vectors_dir()
    return sorted(
        str(p.relative_to(root)) for p in (root / MERKLE_VECTORS / "testdata" / kind).rglob("*.json")
    )


INCLUSION_PROBES = _probe_files("inclusion")
CONSISTENCY_PROBES = _probe_files("consistency")


def _probe_id(relative: str) -> str:
    return str(Path(relative).relative_to(Path(MERKLE_VECTORS) / "testdata").with_suffix(""))


def _hashes(values: list[str] | None) -> list[bytes]:
    return [b64decode(v) for v in values or []]


def _reference() -> dict[str, Any]:
    value = load_vector_json(f"{MERKLE_VECTORS}/rfc6962-reference-tree.json")
    assert isinstance(value, dict)
    return value


REFERENCE = _reference()
REFERENCE_TREE = Tree([leaf_hash(bytes.fromhex(h)) for h in REFERENCE["leaf_inputs_hex"]])


def test_all_196_transparency_dev_probes_are_present() -> None:
    assert len(INCLUSION_PROBES) + len(CONSISTENCY_PROBES) == 196


@pytest.mark.parametrize("relative", INCLUSION_PROBES, ids=_probe_id)
def test_transparency_dev_inclusion_probe(relative: str) -> None:
    probe = load_vector_json(relative)
    assert isinstance(probe, dict)
    args = (
        probe["leafIdx"],
        probe["treeSize"],
        b64decode(probe["leafHash"]),
        _hashes(probe["proof"]),
        b64decode(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(REJECTED):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("relative", CONSISTENCY_PROBES, ids=_probe_id)
def test_transparency_dev_consistency_probe(relative: str) -> None:
    probe = load_vector_json(relative)
    assert isinstance(probe, dict)
    args = (
        probe["size1"],
        probe["size2"],
        b64decode(probe["root1"]),
        b64decode(probe["root2"]),
        _hashes(probe["proof"]),
    )
    if probe["wantErr"]:
        with pytest.raises(REJECTED):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_generated_proofs_equal_transparency_dev_happy_paths() -> None:
    """Our generated proofs over the reference leaves are byte-identical to proofgen's."""
    compared = 0
    for relative in INCLUSION_PROBES + CONSISTENCY_PROBES:
        probe = load_vector_json(relative)
        assert isinstance(probe, dict)
        if probe["wantErr"]:
            continue
        if "leafIdx" in probe:
            size, root = probe["treeSize"], b64decode(probe["root"])
            if 0 < size <= 8 and root == REFERENCE_TREE.roots[size]:
                assert inclusion_proof(probe["leafIdx"], size, REFERENCE_TREE.read) == _hashes(probe["proof"])
                compared += 1
        else:
            old, new = probe["size1"], probe["size2"]
            if 0 < old <= new <= 8 and b64decode(probe["root2"]) == REFERENCE_TREE.roots[new]:
                assert consistency_proof(old, new, REFERENCE_TREE.read) == _hashes(probe["proof"])
                compared += 1
    assert compared >= 8, f"only {compared} happy paths were built over the reference leaves"


def test_reference_tree_roots_at_sizes_0_to_8() -> None:
    expected = [bytes.fromhex(h) for h in REFERENCE["root_hashes_hex_by_size"]]
    assert len(expected) == 9
    assert REFERENCE_TREE.roots == expected
    assert [root_hash(size, REFERENCE_TREE.read) for size in range(9)] == expected


def test_reference_tree_node_hashes_by_level() -> None:
    by_level = REFERENCE["node_hashes_hex_by_level"]
    assert isinstance(by_level, list)
    expected = {
        (level, index): bytes.fromhex(value)
        for level, row in enumerate(by_level)
        for index, value in enumerate(row)
    }
    assert REFERENCE_TREE.nodes == expected


@pytest.mark.parametrize("vector", REFERENCE["hasher_vectors"], ids=lambda v: v["desc"])
def test_rfc6962_hasher_vector(vector: dict[str, str]) -> None:
    want = bytes.fromhex(vector["want_hex"])
    if vector["kind"] == "empty_root":
        assert want == EMPTY_ROOT == root_hash(0, REFERENCE_TREE.read) == CompactRange().root()
    elif vector["kind"] == "leaf":
        assert leaf_hash(bytes.fromhex(vector["input_hex"])) == want
    else:
        assert node_hash(bytes.fromhex(vector["left_hex"]), bytes.fromhex(vector["right_hex"])) == want


# --- Exhaustive round trip against the naive RFC implementation ---------------------------------

EXHAUSTIVE = 300
SMALL_TREE = Tree(numbered_leaves(EXHAUSTIVE))
SMALL_NAIVE = NaiveRfc9162(SMALL_TREE.leaves)


@pytest.mark.parametrize("n", range(1, EXHAUSTIVE + 1), ids=lambda n: f"n={n}")
def test_every_proof_in_a_tree_of_size_n_matches_rfc9162(n: int) -> None:
    tree, naive = SMALL_TREE, SMALL_NAIVE
    root = tree.roots[n]
    assert root == naive.mth(0, n) == root_hash(n, tree.read)
    for index in range(n):
        proof = inclusion_proof(index, n, tree.read)
        assert proof == naive.path(index, 0, n), f"PATH({index}, D[{n}])"
        verify_inclusion(index, n, tree.leaves[index], proof, root)
    for m in range(1, n + 1):
        proof = consistency_proof(m, n, tree.read)
        assert proof == naive.proof(m, n), f"PROOF({m}, D[{n}])"
        verify_consistency(m, n, tree.roots[m], root, proof)


# --- Properties over a 5,000-leaf tree ----------------------------------------------------------

BIG = 5000
BIG_TREE = Tree(numbered_leaves(BIG))
BIG_NAIVE = NaiveRfc9162(BIG_TREE.leaves)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, BIG))
    return size, draw(st.integers(0, size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, BIG))
    return draw(st.integers(1, new)), new


def _flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


@PROPERTY_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_proof_verifies_and_every_bit_flip_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size, index = case
    tree = BIG_TREE
    leaf, root = tree.leaves[index], tree.roots[size]
    proof = inclusion_proof(index, size, tree.read)
    assert len(proof) == len(BIG_NAIVE.path(index, 0, size))
    verify_inclusion(index, size, leaf, proof, root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="hash")
        bit = data.draw(st.integers(0, 255), label="bit")
        tampered = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaf, tampered, root)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, _flip(leaf, data.draw(st.integers(0, 255))), proof, root)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaf, proof, _flip(root, data.draw(st.integers(0, 255))))


@PROPERTY_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_proof_for_another_index_is_rejected(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    other = data.draw(st.integers(-1, size).filter(lambda i: i != index), label="claimed index")
    proof = inclusion_proof(index, size, BIG_TREE.read)
    with pytest.raises(VerificationError):
        verify_inclusion(other, size, BIG_TREE.leaves[index], proof, BIG_TREE.roots[size])


@PROPERTY_SETTINGS
@given(size_and_index(), st.data())
def test_inclusion_proof_against_another_checkpoint_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    """A proof for size n does not verify against the (size, root) of any other checkpoint.

    The claimed size comes with that checkpoint's own root: RFC 9162 uses the size only to shape the
    path, so a verifier always pairs it with the root that was signed for it.
    """
    size, index = case
    other = data.draw(st.integers(0, BIG).filter(lambda s: s != size), label="claimed size")
    proof = inclusion_proof(index, size, BIG_TREE.read)
    with pytest.raises(VerificationError):
        verify_inclusion(index, other, BIG_TREE.leaves[index], proof, BIG_TREE.roots[other])


@PROPERTY_SETTINGS
@given(two_sizes(), st.data())
def test_consistency_proof_verifies_and_tampering_is_rejected(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old, new = sizes
    tree = BIG_TREE
    proof = consistency_proof(old, new, tree.read)
    assert len(proof) == len(BIG_NAIVE.proof(old, new))
    verify_consistency(old, new, tree.roots[old], tree.roots[new], proof)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="hash")
        tampered = [
            *proof[:position],
            _flip(proof[position], data.draw(st.integers(0, 255))),
            *proof[position + 1 :],
        ]
        with pytest.raises(VerificationError):
            verify_consistency(old, new, tree.roots[old], tree.roots[new], tampered)
        with pytest.raises(VerificationError):
            verify_consistency(old, new, tree.roots[old], tree.roots[new], proof[:-1])
    with pytest.raises(VerificationError):
        verify_consistency(old, new, tree.roots[old], tree.roots[new], [*proof, tree.leaves[0]])
    bit = data.draw(st.integers(0, 255), label="root bit")
    with pytest.raises(VerificationError):
        verify_consistency(old, new, _flip(tree.roots[old], bit), tree.roots[new], proof)
    with pytest.raises(VerificationError):
        verify_consistency(old, new, tree.roots[old], _flip(tree.roots[new], bit), proof)


@PROPERTY_SETTINGS
@given(two_sizes(), st.data())
def test_consistency_proof_for_other_sizes_is_rejected(sizes: tuple[int, int], data: st.DataObject) -> None:
    old, new = sizes
    proof = consistency_proof(old, new, BIG_TREE.read)
    other_old = data.draw(st.integers(0, new).filter(lambda s: s != old), label="claimed old size")
    with pytest.raises(VerificationError):
        verify_consistency(other_old, new, BIG_TREE.roots[other_old], BIG_TREE.roots[new], proof)
    other_new = data.draw(st.integers(old, BIG).filter(lambda s: s != new), label="claimed new size")
    with pytest.raises(VerificationError):
        verify_consistency(old, other_new, BIG_TREE.roots[old], BIG_TREE.roots[other_new], proof)


@PROPERTY_SETTINGS
@given(st.lists(st.integers(1, 400), min_size=2, max_size=8))
def test_checkpoints_taken_while_appending_stay_consistent(batches: list[int]) -> None:
    """A log that only appends can prove every earlier checkpoint consistent with every later one."""
    compact = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    checkpoints: list[tuple[int, bytes]] = []
    for batch in batches:
        for i in range(batch):
            leaf = leaf_hash(b"entry %d" % (compact.size + i))
            nodes.update({(level, index): value for level, index, value in compact.append(leaf)})
        checkpoints.append((compact.size, compact.root()))

    def read(level: int, index: int) -> bytes:
        return nodes[(level, index)]

    for (old, old_root), (new, new_root) in itertools.pairwise(checkpoints):
        assert root_hash(old, read) == old_root
        verify_consistency(old, new, old_root, new_root, consistency_proof(old, new, read))
    (first, first_root), (last, last_root) = checkpoints[0], checkpoints[-1]
    verify_consistency(first, last, first_root, last_root, consistency_proof(first, last, read))


def test_compact_range_reports_every_perfect_subtree_once_with_its_mth() -> None:
    expected_count = sum(BIG >> level for level in range(BIG.bit_length()))
    assert len(BIG_TREE.nodes) == expected_count
    for (level, index), value in BIG_TREE.nodes.items():
        assert value == BIG_NAIVE.mth(index << level, (index + 1) << level), f"node ({level}, {index})"


@PROPERTY_SETTINGS
@given(st.integers(0, BIG))
def test_compact_range_root_matches_mth_and_subtree_hash(size: int) -> None:
    assert BIG_TREE.roots[size] == BIG_NAIVE.mth(0, size) == root_hash(size, BIG_TREE.read)


@PROPERTY_SETTINGS
@given(st.integers(1, BIG), st.data())
def test_subtree_hash_of_an_rfc_split_range_matches_mth(size: int, data: st.DataObject) -> None:
    k = 1 << (size.bit_length() - 1)
    start = data.draw(st.integers(0, (BIG - size) // k)) * k
    assert subtree_hash(start, start + size, BIG_TREE.read) == BIG_NAIVE.mth(start, start + size)


def test_compact_range_copy_is_independent() -> None:
    compact = CompactRange()
    compact.append(leaf_hash(b"a"))
    copy = compact.copy()
    copy.append(leaf_hash(b"b"))
    assert (compact.size, copy.size) == (1, 2)
    assert compact.root() == leaf_hash(b"a")


@pytest.mark.parametrize(
    ("size", "peaks"),
    [(1, []), (2, [b"\x00" * 32] * 2), (3, [b"\x00" * 32]), (-1, []), (1, [b"\x00" * 31])],
    ids=["missing-peak", "extra-peak", "too-few-peaks", "negative-size", "short-hash"],
)
def test_compact_range_rejects_state_that_does_not_match_its_size(size: int, peaks: list[bytes]) -> None:
    with pytest.raises(FormatError):
        CompactRange(size, peaks)


def test_compact_range_rejects_a_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(FormatError):
        CompactRange().append(b"short")


def test_empty_tree_has_no_inclusion_proof() -> None:
    with pytest.raises(VerificationError):
        root_from_inclusion_proof(0, 0, leaf_hash(b""), [])


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (6, 5), (-1, 3)])
def test_consistency_from_empty_or_to_a_smaller_tree_is_refused(old: int, new: int) -> None:
    with pytest.raises(VerificationError):
        verify_consistency(old, new, EMPTY_ROOT, EMPTY_ROOT, [])


def test_proof_hashes_of_the_wrong_length_are_a_format_error() -> None:
    proof = inclusion_proof(3, 8, REFERENCE_TREE.read)
    with pytest.raises(FormatError):
        verify_inclusion(
            3, 8, REFERENCE_TREE.leaves[3], [*proof[:-1], proof[-1] + b"\x00"], REFERENCE_TREE.roots[8]
        )
    proof = consistency_proof(3, 8, REFERENCE_TREE.read)
    with pytest.raises(FormatError):
        verify_consistency(
            3, 8, REFERENCE_TREE.roots[3], REFERENCE_TREE.roots[8], [proof[0][:16], *proof[1:]]
        )
