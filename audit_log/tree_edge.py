"""The right edge of a tiled Merkle tree: everything appending needs, kept in memory.

https://c2sp.org/tlog-tiles, https://www.rfc-editor.org/rfc/rfc9162#section-2.1

Growing the tree only ever touches its right edge: the compact range (one root per set bit of the
size) and, at each tile level, the one partial tile still filling up. Full tiles are handed out once,
when they complete, and never recomputed. Every peak of the compact range lies in one of those
partial tiles, so :meth:`TreeEdge.restore` rebuilds the edge from at most eight tile reads, whatever
the size of the log.
"""

from __future__ import annotations

from collections.abc import Callable

from audit_log.errors import FormatError, NotFound
from audit_log.merkle import CompactRange, NodeReader
from audit_log.tiles import (
    MAX_TILE_LEVEL,
    TILE_HEIGHT,
    TILE_WIDTH,
    ExpandedTile,
    TileCoord,
    locate,
    split_hashes,
    tile_width_at,
)

TileData = tuple[TileCoord, bytes]


class TreeEdge:
    """The compact range plus the base row of the partial tile at each tile level."""

    def __init__(self, compact: CompactRange, rows: list[list[bytes]]) -> None:
        if len(rows) != MAX_TILE_LEVEL + 1:
            raise FormatError("a tree edge has one row per tile level")
        for level, row in enumerate(rows):
            if len(row) != (compact.size >> (TILE_HEIGHT * level)) % TILE_WIDTH:
                raise FormatError(f"tile level {level} row does not match tree size {compact.size}")
        self._compact = compact
        self._rows = rows
        self._expanded: dict[int, ExpandedTile] = {}

    @classmethod
    def empty(cls) -> TreeEdge:
        return cls(CompactRange(), [[] for _ in range(MAX_TILE_LEVEL + 1)])

    @classmethod
    def restore(cls, size: int, read_tile: Callable[[TileCoord], bytes]) -> TreeEdge:
        """Rebuild the edge at ``size`` from its partial tiles, read through ``read_tile``."""
        rows: list[list[bytes]] = []
        for level in range(MAX_TILE_LEVEL + 1):
            index, width = divmod(size >> (TILE_HEIGHT * level), TILE_WIDTH)
            if not width:
                rows.append([])
                continue
            coord = TileCoord(level, index, width)
            row = split_hashes(read_tile(coord))
            if len(row) != width:
                raise FormatError(f"edge tile {coord.path()} holds {len(row)} hashes, expected {width}")
            rows.append(row)
        expanded: dict[int, ExpandedTile] = {}
        peaks = []
        for bit in reversed(range(size.bit_length())):
            if size >> bit & 1:
                tile_level, _, sublevel, offset = locate(bit, (size >> bit) - 1)
                if tile_level not in expanded:
                    expanded[tile_level] = _expand(tile_level, size, rows[tile_level])
                peaks.append(expanded[tile_level].node(sublevel, offset))
        return cls(CompactRange(size, peaks), rows)

    @property
    def size(self) -> int:
        return self._compact.size

    def root(self) -> bytes:
        return self._compact.root()

    def copy(self) -> TreeEdge:
        return TreeEdge(self._compact.copy(), [list(row) for row in self._rows])

    def append(self, leaf: bytes) -> list[TileData]:
        """Add a leaf hash; returns the tiles that became full, each exactly once."""
        completed: list[TileData] = []
        self._expanded.clear()
        for level, index, node in self._compact.append(leaf):
            tile_level, sublevel = divmod(level, TILE_HEIGHT)
            if sublevel:
                continue
            row = self._rows[tile_level]
            row.append(node)
            if len(row) == TILE_WIDTH:
                completed.append((TileCoord(tile_level, index // TILE_WIDTH), b"".join(row)))
                row.clear()
        return completed

    def partial_tiles_since(self, old_size: int) -> list[TileData]:
        """The partial tiles whose contents changed since the tree had ``old_size`` leaves."""
        changed: list[TileData] = []
        for level, row in enumerate(self._rows):
            shift = TILE_HEIGHT * level
            if row and self.size >> shift != old_size >> shift:
                index = (self.size >> shift) // TILE_WIDTH
                changed.append((TileCoord(level, index, len(row)), b"".join(row)))
        return changed

    def partial_tile(self, level: int) -> ExpandedTile | None:
        """The expanded partial tile at tile ``level`` (memoised until the next append), if any."""
        if not self._rows[level]:
            return None
        tile = self._expanded.get(level)
        if tile is None:
            tile = self._expanded[level] = _expand(level, self.size, self._rows[level])
        return tile

    def node_reader(self, full_tile: Callable[[int, int], ExpandedTile]) -> NodeReader:
        """Reads any complete node at this size: full tiles through ``full_tile``, edge tiles from here."""
        size = self.size

        def read(level: int, index: int) -> bytes:
            if (index + 1) << level > size:
                raise NotFound(f"node ({level}, {index}) is not complete in the tree of size {size}")
            tile_level, tile_index, sublevel, offset = locate(level, index)
            if tile_width_at(tile_level, tile_index, size) == TILE_WIDTH:
                tile = full_tile(tile_level, tile_index)
            else:
                edge_tile = self.partial_tile(tile_level)
                # A complete node outside the full tiles lies in the edge tile of its level.
                assert edge_tile is not None
                tile = edge_tile
            return tile.node(sublevel, offset)

        return read


def _expand(level: int, size: int, row: list[bytes]) -> ExpandedTile:
    coord = TileCoord(level, (size >> (TILE_HEIGHT * level)) // TILE_WIDTH, len(row))
    return ExpandedTile.expand(coord, b"".join(row))
