"""Offline verification of a whole audit log store: every entry, tile, checkpoint and the tree state.

https://www.rfc-editor.org/rfc/rfc9162, https://c2sp.org/tlog-checkpoint, https://c2sp.org/tlog-tiles

The store lives on an untrusted host, so nothing in it is believed: :func:`verify_store` re-derives the
whole tree from the sealed entries, in one consistent snapshot, streaming (memory does not grow with
the log), and compares every stored byte against it. Trusted checkpoints kept outside the store (by an
officer or a witness) catch a store rolled back to an older, self-consistent copy. The first problem
raises :class:`TamperError` naming the first bad entry index where there is one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass

from audit_log.checkpoint import Checkpoint, CheckpointPolicy
from audit_log.entry import AuditEntry, ChainState
from audit_log.errors import AuditLogError, FormatError, KeyStoreError, TamperError
from audit_log.formats.note import NoteVerifier
from audit_log.keystore import KeyStore
from audit_log.merkle import EMPTY_ROOT, consistency_proof, leaf_hash, verify_consistency
from audit_log.sealing import EntrySealer
from audit_log.store.base import LogStore, StoreReader
from audit_log.tile_cache import TileCache
from audit_log.tiles import TILE_HEIGHT, TILE_WIDTH, TileCoord, tiles_for_size
from audit_log.tree_edge import TreeEdge

#: Called with (entries checked, entries in the store) while the entries stream by.
Progress = Callable[[int, int], None]
_PROGRESS_EVERY = 4096


@dataclass(frozen=True)
class FsckReport:
    """What a successful verification covered."""

    origin: str
    size: int
    root: bytes
    tiles: int
    checkpoints: int
    trusted_checkpoints: int


@dataclass(frozen=True)
class _Expectation:
    """A root some checkpoint claims for a tree size."""

    label: str
    size: int
    root: bytes


def _first_leaf(coord: TileCoord) -> int:
    return coord.index * TILE_WIDTH << (TILE_HEIGHT * coord.level)


def _check_tile(reader: StoreReader, coord: TileCoord, data: bytes) -> None:
    stored = reader.tile(coord.level, coord.index)
    if stored != data:
        raise TamperError(f"stored tile {coord.path()} does not match the entries", _first_leaf(coord))


def _stored_checkpoints(reader: StoreReader, policy: CheckpointPolicy, size: int) -> list[_Expectation]:
    """Step 2: every stored checkpoint is signed by a log key, in order, and not beyond the store."""
    found: list[_Expectation] = []
    with closing(reader.checkpoints()) as checkpoints:
        for stored in checkpoints:
            label = f"stored checkpoint #{stored.id}"
            try:
                checkpoint = policy.verify(stored.note)
            except AuditLogError as exc:
                raise TamperError(f"{label} does not verify: {exc}") from exc
            if checkpoint.size != stored.size:
                raise TamperError(f"{label} says size {checkpoint.size} but is filed under {stored.size}")
            if found and checkpoint.size < found[-1].size:
                raise TamperError(f"{label} goes back from size {found[-1].size} to {checkpoint.size}")
            if checkpoint.size > size:
                raise TamperError(
                    f"{label} covers {checkpoint.size} entries but the store holds {size}", size
                )
            found.append(_Expectation(label, checkpoint.size, checkpoint.root))
    return found


def _trusted_checkpoints(notes: Sequence[bytes], policy: CheckpointPolicy, size: int) -> list[_Expectation]:
    """Step 3: trusted checkpoints verify, and the store is not older than any of them (rollback)."""
    found = []
    for number, note in enumerate(notes, 1):
        checkpoint: Checkpoint = policy.verify(note)
        if checkpoint.size > size:
            raise TamperError(
                f"the store was rolled back: it holds {size} entries, trusted checkpoint {number} "
                f"covers {checkpoint.size}",
                size,
            )
        found.append(_Expectation(f"trusted checkpoint {number}", checkpoint.size, checkpoint.root))
    return found


def verify_store(
    store: LogStore,
    keys: KeyStore,
    *,
    vkeys: Sequence[NoteVerifier] = (),
    trusted_checkpoints: Sequence[bytes] = (),
    progress: Progress | None = None,
) -> FsckReport:
    """Verify everything in ``store`` with the log's ``keys``; return a report or raise.

    Checkpoints may be signed by the key store's log key or by any of ``vkeys`` (earlier log keys).

    Raises :class:`TamperError` (naming the first bad index where one exists) when the store contradicts
    itself or a trusted checkpoint, :class:`VerificationError` / :class:`FormatError` for a trusted
    checkpoint that does not verify or parse, :class:`KeyStoreError` for a storage key that is not the
    store's, and :class:`StoreError` when the store cannot be read.
    """
    with store.reading() as reader:
        # Step 1: the tree state names the log and the storage key its entries are sealed with.
        state = reader.state()
        if state is None:
            raise TamperError(f"{store.description} has no tree state")
        sealer = EntrySealer(keys.storage_key(), state.origin)
        if state.storage_key_id != sealer.key_id:
            raise KeyStoreError(f"the storage key is not the one {store.description} was sealed with")
        policy = CheckpointPolicy.of(
            state.origin, [NoteVerifier(state.origin, keys.log_key().public_key), *vkeys]
        )
        stored = _stored_checkpoints(reader, policy, state.size)  # Step 2.
        expectations = stored + _trusted_checkpoints(trusted_checkpoints, policy, state.size)  # Step 3.
        by_size: dict[int, list[_Expectation]] = {}
        for expectation in expectations:
            by_size.setdefault(expectation.size, []).append(expectation)

        # Step 4: stream the entries in seq order, rebuilding the chain, the tree and every full tile.
        edge, chain = _replay_entries(reader, sealer, state.size, by_size, progress)

        # Step 5: the right-edge tiles, no tile beyond the tree, and the tree state itself.
        for coord, tile in edge.partial_tiles_since(0):
            _check_tile(reader, coord, tile)
        expected_tiles = Counter(coord.level for coord in tiles_for_size(state.size))
        stored_tiles = reader.tile_counts()
        for level in sorted(set(expected_tiles) | set(stored_tiles)):
            if stored_tiles.get(level, 0) != expected_tiles.get(level, 0):
                raise TamperError(
                    f"the store holds {stored_tiles.get(level, 0)} tiles at level {level}, "
                    f"the tree has {expected_tiles.get(level, 0)}"
                )
        if (state.root, state.last_leaf, state.last_time) != (edge.root(), chain.last_leaf, chain.last_time):
            raise TamperError(f"the stored tree state at size {state.size} does not match the entries")

        # Step 6: consecutive stored checkpoints are consistent (RFC 9162 §2.1.4) through the stored tiles.
        read = edge.node_reader(TileCache(reader.tile).full_tile)
        previous = None
        for current in stored:
            if previous is not None and 0 < previous.size < current.size:
                proof = consistency_proof(previous.size, current.size, read)
                verify_consistency(previous.size, current.size, previous.root, current.root, proof)
            previous = current
    return FsckReport(
        state.origin,
        state.size,
        state.root,
        sum(expected_tiles.values()),
        len(stored),
        len(trusted_checkpoints),
    )


def _replay_entries(
    reader: StoreReader,
    sealer: EntrySealer,
    size: int,
    by_size: dict[int, list[_Expectation]],
    progress: Progress | None,
) -> tuple[TreeEdge, ChainState]:
    """Open, parse and chain every entry; check each full tile as it completes and each claimed root."""
    edge, chain = TreeEdge.empty(), ChainState()
    _check_roots(by_size.get(0, []), EMPTY_ROOT)
    with closing(reader.entries()) as rows:
        for row in rows:
            seq = chain.size
            if row.seq != seq:
                raise TamperError("entry is missing from the store", seq)
            if seq >= size:
                raise TamperError(f"entry lies beyond the tree size {size}", seq)
            data = sealer.open(seq, row.sealed)
            leaf = leaf_hash(data)
            if leaf != row.leaf_hash:
                raise TamperError("stored leaf hash does not match the entry", seq)
            try:
                entry = AuditEntry.parse(data)
            except FormatError as exc:
                raise TamperError(f"entry bytes are not a valid audit entry: {exc}", seq) from exc
            chain = chain.follow(entry, leaf)
            for coord, tile in edge.append(leaf):
                _check_tile(reader, coord, tile)
            _check_roots(by_size.get(chain.size, []), edge.root())
            if progress is not None and chain.size % _PROGRESS_EVERY == 0:
                progress(chain.size, size)
    if chain.size != size:
        raise TamperError(f"the store holds {chain.size} entries, its tree state says {size}", chain.size)
    if progress is not None:
        progress(chain.size, size)
    return edge, chain


def _check_roots(expectations: list[_Expectation], root: bytes) -> None:
    for expectation in expectations:
        if expectation.root != root:
            raise TamperError(
                f"{expectation.label} at size {expectation.size} has a root that the entries do not "
                "produce (a fork)"
            )
