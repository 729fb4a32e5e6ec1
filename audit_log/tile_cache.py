"""A bounded LRU of expanded full tiles, so proofs cost O(log n) list lookups and few reads.

https://c2sp.org/tlog-tiles

Full tiles never change once written, so a cached expansion never goes stale; the partial tiles at the
right edge are served from memory by :class:`~audit_log.tree_edge.TreeEdge` instead. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from audit_log.errors import TamperError
from audit_log.merkle import HASH_SIZE
from audit_log.tiles import TILE_WIDTH, ExpandedTile, TileCoord

#: Reads the stored bytes of tile ``(level, index)``, or None if there is no such row.
TileFetcher = Callable[[int, int], bytes | None]


class TileCache:
    def __init__(self, fetch: TileFetcher, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("tile cache capacity must be at least 1")
        self._fetch = fetch
        self._capacity = capacity
        self._tiles: OrderedDict[tuple[int, int], ExpandedTile] = OrderedDict()
        self._lock = threading.Lock()

    def full_tile(self, level: int, index: int) -> ExpandedTile:
        """The full tile ``(level, index)``; :class:`TamperError` if the store lacks it or it is short."""
        key = (level, index)
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
                return tile
        coord = TileCoord(level, index)
        data = self._fetch(level, index)
        if data is None or len(data) != TILE_WIDTH * HASH_SIZE:
            raise TamperError(f"full tile {coord.path()} is missing or not full in the store")
        tile = ExpandedTile.expand(coord, data)
        with self._lock:
            self._tiles[key] = tile
            if len(self._tiles) > self._capacity:
                self._tiles.popitem(last=False)
        return tile
