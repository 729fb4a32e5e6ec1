"""C2SP tlog-tiles coordinates, paths and bytes (audit_log/tiles.py).

Checked against Tessera's 15-entry test log (../shared/vectors/tlog/tessera-testdata-log) and with
properties: expanded tiles plus :func:`locate` give exactly the nodes a compact range produces, and
paths parse only in their one canonical form. https://c2sp.org/tlog-tiles
"""

from __future__ import annotations

from base64 import b64decode
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_vectors import load_vector_json

from audit_log.errors import FormatError
from audit_log.merkle import EMPTY_ROOT, CompactRange, leaf_hash
from audit_log.tiles import (
    MAX_TILE_LEVEL,
    TILE_WIDTH,
    ExpandedTile,
    TileCoord,
    encode_index,
    locate,
    parse_tile_path,
    split_hashes,
    tile_width_at,
    tiles_for_size,
)

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


def _tessera() -> dict[str, Any]:
    value = load_vector_json("tlog/tessera-testdata-log/log.json")
    assert isinstance(value, dict)
    return value


TESSERA = _tessera()
TESSERA_LEAVES = [leaf_hash(e.encode()) for e in TESSERA["entries_utf8"]]
TESSERA_HASH_TILES = {
    path: b64decode(data)
    for path, data in TESSERA["tiles_base64"].items()
    if not path.startswith("tile/entries/")
}


def test_tessera_publishes_one_level_0_tile_per_size() -> None:
    assert sorted(TESSERA_HASH_TILES) == sorted(f"tile/0/000.p/{w}" for w in range(1, 16))


@pytest.mark.parametrize("path", sorted(TESSERA_HASH_TILES), ids=str)
def test_tessera_level_0_tile_equals_our_tile_bytes(path: str) -> None:
    coord = parse_tile_path(path)
    assert coord == TileCoord(0, 0, coord.width)
    assert coord.path() == path
    assert b"".join(TESSERA_LEAVES[: coord.width]) == TESSERA_HASH_TILES[path]
    assert tiles_for_size(coord.width) == [coord]
    tile = ExpandedTile.expand(coord, TESSERA_HASH_TILES[path])
    assert list(tile.levels[0]) == TESSERA_LEAVES[: coord.width]


def test_tessera_entry_bundle_paths_are_not_hash_tiles() -> None:
    """veritee serves no entry bundles (entries stay sealed in the TEE), so those paths are refused."""
    for path in TESSERA["tiles_base64"]:
        if path.startswith("tile/entries/"):
            with pytest.raises(FormatError):
                parse_tile_path(path)


# --- Canonical paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coord", "path"),
    [
        (TileCoord(0, 0), "tile/0/000"),
        (TileCoord(0, 0, 1), "tile/0/000.p/1"),
        (TileCoord(1, 5, 255), "tile/1/005.p/255"),
        (TileCoord(0, 999), "tile/0/999"),
        (TileCoord(0, 1000), "tile/0/x001/000"),
        (TileCoord(2, 1234067), "tile/2/x001/x234/067"),
        (TileCoord(0, 1234, 5), "tile/0/x001/234.p/5"),
        (TileCoord(MAX_TILE_LEVEL, 0), f"tile/{MAX_TILE_LEVEL}/000"),
    ],
    ids=str,
)
def test_tile_path_examples(coord: TileCoord, path: str) -> None:
    assert coord.path() == path
    assert parse_tile_path(path) == coord


@PROPERTY_SETTINGS
@given(st.integers(0, MAX_TILE_LEVEL), st.integers(0, 2**64 // TILE_WIDTH), st.integers(1, TILE_WIDTH))
def test_tile_path_round_trip(level: int, index: int, width: int) -> None:
    coord = TileCoord(level, index, width)
    assert parse_tile_path(coord.path()) == coord


NON_CANONICAL_PATHS = {
    "level-leading-zero": "tile/00/000",
    "level-leading-zero-partial": "tile/01/000.p/5",
    "level-not-decimal": "tile/a/000",
    "level-arabic-indic-digit": "tile/\u0663/000",
    "level-superscript-digit": "tile/\u00b2/000",
    "level-fullwidth-digit": "tile/\uff11/000",
    "level-too-high": f"tile/{MAX_TILE_LEVEL + 1}/000",
    "level-signed": "tile/+1/000",
    "level-empty": "tile//000",
    "index-two-digits": "tile/0/00",
    "index-four-digits": "tile/0/0000",
    "index-unprefixed-upper-group": "tile/0/001/000",
    "index-prefixed-last-group": "tile/0/x000",
    "index-group-two-digits": "tile/0/x01/000",
    "index-superfluous-zero-group": "tile/0/x000/001",
    "index-non-ascii-digits": "tile/0/\u0660\u0660\u0661",
    "index-superscript-digits": "tile/0/\u00b9\u00b2\u00b3",
    "index-uppercase-x": "tile/0/X001/000",
    "index-negative": "tile/0/-01",
    "width-zero": "tile/0/000.p/0",
    "width-256": "tile/0/000.p/256",
    "width-leading-zero": "tile/0/000.p/05",
    "width-empty": "tile/0/000.p/",
    "width-missing": "tile/0/000.p",
    "width-non-ascii": "tile/0/000.p/\u0665",
    "width-superscript": "tile/0/000.p/\u00b2",
    "partial-on-upper-group": "tile/0/x001.p/5/000",
    "trailing-slash": "tile/0/000/",
    "no-tile-prefix": "0/000",
    "wrong-prefix": "tiles/0/000",
    "leading-slash": "/tile/0/000",
    "too-short": "tile/0",
    "entries": "tile/entries/000",
    "go-sumdb-height": "tile/8/0/000",
}


@pytest.mark.parametrize("path", NON_CANONICAL_PATHS.values(), ids=NON_CANONICAL_PATHS.keys())
def test_non_canonical_tile_path_is_rejected(path: str) -> None:
    with pytest.raises(FormatError):
        parse_tile_path(path)


@PROPERTY_SETTINGS
@given(st.text(alphabet=st.sampled_from("tile/0123456789xp.\u0663\u00b2"), max_size=24))
def test_any_parsed_tile_path_is_canonical(path: str) -> None:
    """Parsing only succeeds on the exact string the coordinate formats back to."""
    try:
        coord = parse_tile_path(path)
    except FormatError:
        return
    assert coord.path() == path


@pytest.mark.parametrize(
    ("level", "index", "width"),
    [(-1, 0, 1), (MAX_TILE_LEVEL + 1, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, TILE_WIDTH + 1)],
)
def test_tile_coord_rejects_impossible_coordinates(level: int, index: int, width: int) -> None:
    with pytest.raises(FormatError):
        TileCoord(level, index, width)


def test_encode_index_groups() -> None:
    assert [encode_index(i) for i in (0, 7, 999, 1000, 1234067)] == [
        "000",
        "007",
        "999",
        "x001/000",
        "x001/x234/067",
    ]


# --- Which tiles exist --------------------------------------------------------------------------


def test_tiles_for_size_matches_the_c2sp_example() -> None:
    """tlog-tiles: size 70,000 is 273 full level-0 tiles, one of width 112, a full and a width-17
    level-1 tile and a width-1 level-2 tile; size 256 is one full tile and a width-1 level-1 tile."""
    tiles = tiles_for_size(70_000)
    assert [t for t in tiles if t.level == 0] == [
        *(TileCoord(0, i) for i in range(273)),
        TileCoord(0, 273, 112),
    ]
    assert [t for t in tiles if t.level > 0] == [TileCoord(1, 0), TileCoord(1, 1, 17), TileCoord(2, 0, 1)]
    assert tiles_for_size(256) == [TileCoord(0, 0), TileCoord(1, 0, 1)]
    assert tiles_for_size(0) == []


@PROPERTY_SETTINGS
@given(st.integers(0, 300_000))
def test_tile_width_at_agrees_with_tiles_for_size(size: int) -> None:
    for coord in tiles_for_size(size):
        assert tile_width_at(coord.level, coord.index, size) == coord.width
    last = tiles_for_size(size)
    if last:
        tail = last[-1]
        assert tile_width_at(tail.level, tail.index + 1, size) == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 31, b"\x00" * 33, b"\x00" * 32 * (TILE_WIDTH + 1)],
    ids=["empty", "short", "ragged", "too-wide"],
)
def test_tile_bytes_that_are_not_whole_hashes_are_rejected(data: bytes) -> None:
    with pytest.raises(FormatError):
        split_hashes(data)


def test_tile_with_the_wrong_width_for_its_path_is_rejected() -> None:
    with pytest.raises(FormatError):
        ExpandedTile.expand(TileCoord(0, 0, 3), b"".join(TESSERA_LEAVES[:4]))


# --- Expanded tiles + locate give the tree's nodes ----------------------------------------------

TREE_SIZE = 70_000


def _grow(size: int) -> tuple[dict[tuple[int, int], bytes], dict[TileCoord, ExpandedTile]]:
    compact = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for i in range(size):
        nodes.update({(lv, ix): h for lv, ix, h in compact.append(leaf_hash(i.to_bytes(4, "big")))})
    tiles = {}
    for coord in tiles_for_size(size):
        base = coord.level * 8
        row = [nodes[(base, coord.index * TILE_WIDTH + i)] for i in range(coord.width)]
        tiles[coord] = ExpandedTile.expand(coord, b"".join(row))
    return nodes, tiles


NODES, TILES = _grow(TREE_SIZE)


def _tile_node(level: int, index: int) -> bytes:
    tile_level, tile_index, sublevel, offset = locate(level, index)
    width = tile_width_at(tile_level, tile_index, TREE_SIZE)
    return TILES[TileCoord(tile_level, tile_index, width)].node(sublevel, offset)


def test_every_node_of_a_70000_leaf_tree_is_found_in_its_tile() -> None:
    for (level, index), value in NODES.items():
        assert _tile_node(level, index) == value, f"node ({level}, {index})"


@PROPERTY_SETTINGS
@given(st.integers(0, 16), st.integers(0, TREE_SIZE))
def test_locate_finds_no_node_that_the_tree_lacks(level: int, index: int) -> None:
    if (level, index) in NODES:
        assert _tile_node(level, index) == NODES[(level, index)]
        return
    tile_level, tile_index, sublevel, offset = locate(level, index)
    width = tile_width_at(tile_level, tile_index, TREE_SIZE)
    if width:
        with pytest.raises(KeyError):
            TILES[TileCoord(tile_level, tile_index, width)].node(sublevel, offset)


def test_full_tile_top_is_the_next_tile_levels_base_hash() -> None:
    for coord, tile in TILES.items():
        if coord.is_full:
            assert tile.node(8, 0) == NODES[(coord.level * 8 + 8, coord.index)]


def test_root_of_a_tiled_tree_is_reachable_from_tiles() -> None:
    compact = CompactRange()
    for i in range(TREE_SIZE):
        compact.append(NODES[(0, i)])
    assert compact.root() != EMPTY_ROOT
    assert compact.root() == _root_from_tiles(TREE_SIZE)


def _root_from_tiles(size: int) -> bytes:
    from audit_log.merkle import root_hash

    return root_hash(size, _tile_node)
