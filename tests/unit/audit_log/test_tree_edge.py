"""TreeEdge: incremental tiles equal the reference tree, full tiles are emitted once, restart is exact."""

from __future__ import annotations

import hashlib

import pytest

from audit_log.errors import FormatError, NotFound
from audit_log.merkle import leaf_hash, node_hash, root_hash
from audit_log.tile_cache import TileCache
from audit_log.tiles import TILE_WIDTH, ExpandedTile, TileCoord, tiles_for_size
from audit_log.tree_edge import TreeEdge


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(count)]


def _reference_levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        row = levels[-1]
        levels.append([node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)])
    return levels


def _reference_tile(levels: list[list[bytes]], coord: TileCoord) -> bytes:
    row = levels[8 * coord.level]
    return b"".join(row[coord.index * TILE_WIDTH : coord.index * TILE_WIDTH + coord.width])


def _grow(leaves: list[bytes]) -> tuple[TreeEdge, dict[TileCoord, bytes]]:
    edge, full = TreeEdge.empty(), {}
    for leaf in leaves:
        for coord, data in edge.append(leaf):
            assert coord not in full, "a full tile is handed out exactly once"
            full[coord] = data
    return edge, full


@pytest.mark.parametrize("size", [0, 1, 2, 3, 255, 256, 257, 511, 512, 1000, 65535, 65536, 65537])
def test_incremental_tiles_match_the_reference_tree(size: int) -> None:
    leaves = _leaves(size)
    levels = _reference_levels(leaves) if leaves else []
    edge, full = _grow(leaves)
    assert edge.size == size
    assert edge.root() == root_hash(size, lambda lv, i: levels[lv][i])
    stored = {**full, **dict(edge.partial_tiles_since(0))}
    assert set(stored) == set(tiles_for_size(size))
    for coord, data in stored.items():
        assert data == _reference_tile(levels, coord)


@pytest.mark.parametrize("size", [1, 255, 256, 257, 300, 65537])
def test_restore_from_edge_tiles_continues_identically(size: int) -> None:
    leaves = _leaves(size + 300)
    edge, _ = _grow(leaves[:size])
    partial = dict(edge.partial_tiles_since(0))
    reads: list[TileCoord] = []

    def read(coord: TileCoord) -> bytes:
        reads.append(coord)
        return partial[coord]

    restored = TreeEdge.restore(size, read)
    assert len(reads) <= 8, "restart reads only the right edge"
    assert restored.root() == edge.root()
    for leaf in leaves[size:]:
        assert restored.append(leaf) == edge.append(leaf)
        assert restored.root() == edge.root()


def test_partial_tiles_since_names_only_changed_tiles() -> None:
    edge, _ = _grow(_leaves(300))
    for leaf in _leaves(3):
        edge.append(leaf)
    changed = [coord for coord, _ in edge.partial_tiles_since(300)]
    assert changed == [TileCoord(0, 1, 303 - 256)]


def test_copy_is_independent_of_the_original() -> None:
    edge, _ = _grow(_leaves(10))
    clone = edge.copy()
    clone.append(_leaves(11)[10])
    assert edge.size == 10
    assert clone.size == 11
    assert edge.root() != clone.root()


def test_node_reader_serves_every_complete_node() -> None:
    size = 700
    leaves = _leaves(size)
    levels = _reference_levels(leaves)
    edge, full = _grow(leaves)
    cache = TileCache(lambda level, index: full.get(TileCoord(level, index)))
    read = edge.node_reader(cache.full_tile)
    for level, row in enumerate(levels):
        for index, expected in enumerate(row):
            assert read(level, index) == expected
    with pytest.raises(NotFound):
        read(0, size)


def test_mismatched_rows_are_rejected() -> None:
    with pytest.raises(FormatError):
        TreeEdge.restore(5, lambda coord: b"\x00" * 32 * 4)


def test_tile_cache_evicts_least_recently_used() -> None:
    fetched: list[tuple[int, int]] = []
    data = b"\x07" * 32 * TILE_WIDTH

    def fetch(level: int, index: int) -> bytes:
        fetched.append((level, index))
        return data

    cache = TileCache(fetch, capacity=2)
    for index in (0, 1, 0, 2, 0, 1):
        assert isinstance(cache.full_tile(0, index), ExpandedTile)
    assert fetched == [(0, 0), (0, 1), (0, 2), (0, 1)]
