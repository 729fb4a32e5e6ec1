"""RFC 9162 Merkle tree hashing, compact ranges, and inclusion / consistency proofs.

https://www.rfc-editor.org/rfc/rfc9162#section-2.1

Leaves hash as SHA-256(0x00 ‖ data), interior nodes as SHA-256(0x01 ‖ left ‖ right); the empty tree's
root is SHA-256 of the empty string. A *node* ``(level, index)`` is the root of the perfect subtree over
leaves ``[index·2^level, (index+1)·2^level)``; every proof is built from O(log n) such nodes, which a
:class:`NodeReader` supplies (the tile store in production, a list in tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from audit_log.errors import FormatError, VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Returns the hash of the perfect subtree node ``(level, index)``.
NodeReader = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two strictly smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, read: NodeReader) -> bytes:
    """MTH(D[start:end]) for a range that RFC 9162's recursion can produce.

    ``start`` must be a multiple of the largest power of two not above ``end - start``; every range
    visited by the proof algorithms is. A perfect aligned range is one node read; otherwise the range
    splits as RFC 9162 §2.1.1 does, so at most log2(n) nodes are read.
    """
    size = end - start
    if size <= 0:
        raise ValueError("empty range has no subtree hash")
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return read(level, start >> level)
    k = _largest_power_of_two_below(size)
    return node_hash(subtree_hash(start, start + k, read), subtree_hash(start + k, end, read))


def root_hash(size: int, read: NodeReader) -> bytes:
    """The tree head at ``size``; SHA-256("") for the empty tree."""
    if size < 0:
        raise ValueError("negative tree size")
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, read)


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), ordered from the leaf's sibling up."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, collecting the sibling subtree at each split; reverse at the end.
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            proof.append(subtree_hash(start + k, end, read))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, read))
            start += k
    proof.reverse()
    return proof


def consistency_proof(old_size: int, new_size: int, read: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]), ordered from the leaves up."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    proof: list[bytes] = []
    # Unrolled SUBPROOF(m, D[start:end], b): outer hashes are collected first, then reversed.
    start, end, old_is_root = 0, new_size, True
    while True:
        size, m = end - start, old_size - start
        if m == size:
            if not old_is_root:
                proof.append(subtree_hash(start, end, read))
            break
        k = _largest_power_of_two_below(size)
        if m <= k:
            proof.append(subtree_hash(start + k, end, read))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, read))
            start, old_is_root = start + k, False
    proof.reverse()
    return proof


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise FormatError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root that ``proof`` implies for ``leaf`` at ``index`` of ``size``."""
    if not 0 <= index < size:
        raise VerificationError(f"inclusion proof index {index} is outside tree size {size}")
    _check_hash(leaf, "leaf hash")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        _check_hash(sibling, "inclusion proof hash")
        if sn == 0:
            raise VerificationError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("inclusion proof is too short")
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`VerificationError` unless ``proof`` shows ``leaf`` at ``index`` under ``root``."""
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise VerificationError(f"inclusion proof for index {index} does not match the root of size {size}")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2. Raise :class:`VerificationError` unless the trees are consistent.

    A proof from size 0 is an error, as in RFC 9162 and transparency-dev: an empty tree needs no
    proof, and a caller that has nothing to check should not call this.
    """
    if old_size <= 0 or new_size < old_size:
        raise VerificationError(f"no consistency proof exists from size {old_size} to {new_size}")
    if old_size == new_size:
        if proof:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError(f"different roots for the same tree size {old_size}")
        return
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    for item in proof:
        _check_hash(item, "consistency proof hash")
    path = list(proof)
    # Step 1: if old_size is a power of two, the old root is the first node of the path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        raise VerificationError("consistency proof is empty")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if fr != old_root:
        raise VerificationError(f"consistency proof does not reproduce the old root of size {old_size}")
    if sr != new_root:
        raise VerificationError(f"consistency proof does not reproduce the new root of size {new_size}")


@dataclass
class CompactRange:
    """The right border of a growing tree: one perfect-subtree root per set bit of ``size``.

    Appending is amortised O(1) hashes and never rereads old leaves; :meth:`append` reports every
    node it completes so a tile store can persist it.
    """

    size: int = 0
    peaks: list[bytes] = field(default_factory=list)  # left to right, largest subtree first

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.peaks) != self.size.bit_count():
            raise FormatError("compact range does not match its size")
        for peak in self.peaks:
            _check_hash(peak, "compact range hash")

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the completed nodes ``(level, index, hash)``, the leaf first."""
        _check_hash(leaf, "leaf hash")
        completed = [(0, self.size, leaf)]
        node, level, index = leaf, 0, self.size
        while (self.size >> level) & 1:
            node = node_hash(self.peaks.pop(), node)
            level, index = level + 1, index >> 1
            completed.append((level, index, node))
        self.peaks.append(node)
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        result = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            result = node_hash(peak, result)
        return result

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.peaks))
