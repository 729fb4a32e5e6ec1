"""C2SP tlog-tiles coordinates, paths and bytes (hash tiles only).

https://c2sp.org/tlog-tiles

A tile at tile-level ``L`` and index ``N`` holds up to 256 consecutive hashes of tree level ``8·L``
(nodes ``N·256 …``), concatenated. A full tile has width 256 and never changes; the right edge of the
tree is a partial tile ``.p/W``. Paths use C2SP's form without the height: ``tile/0/x001/234.p/5``.
Entry bundles are not served: veritee's entries are sealed and stay inside the TEE.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit_log.errors import FormatError
from audit_log.merkle import HASH_SIZE, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63 // TILE_HEIGHT


@dataclass(frozen=True)
class TileCoord:
    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL or self.index < 0:
            raise FormatError("tile level or index out of range")
        if not 1 <= self.width <= TILE_WIDTH:
            raise FormatError("tile width must be 1..256")

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        suffix = "" if self.is_full else f".p/{self.width}"
        return f"tile/{self.level}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """C2SP tile index: three-digit groups, all but the last prefixed with ``x``."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _is_ascii_decimal(text: str) -> bool:
    # str.isdigit() alone also accepts digits such as "٣" or "²", which int() reads or rejects.
    return text.isascii() and text.isdigit()


def parse_tile_path(path: str) -> TileCoord:
    """Parse ``tile/<L>/<N>[.p/<W>]`` (the part after the log prefix) strictly."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise FormatError("tile path must look like tile/<L>/<N>[.p/<W>]")
    level_text, rest = parts[1], parts[2:]
    if not _is_ascii_decimal(level_text) or (len(level_text) > 1 and level_text[0] == "0"):
        raise FormatError("tile level must be a decimal without leading zeros")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width_text = rest[-1]
        if not _is_ascii_decimal(width_text) or width_text[0] == "0":
            raise FormatError("partial tile width must be a decimal without leading zeros")
        width = int(width_text)
        if width >= TILE_WIDTH:
            raise FormatError("a partial tile has width below 256")
        rest = [*rest[:-2], rest[-2][: -len(".p")]]
    *upper, last = rest
    if any(len(g) != 4 or g[0] != "x" or not _is_ascii_decimal(g[1:]) for g in upper):
        raise FormatError("tile index groups must be x + three digits")
    if len(last) != 3 or not _is_ascii_decimal(last):
        raise FormatError("tile index must end with three digits")
    digits = "".join(g[1:] for g in upper) + last
    if upper and digits.startswith("000"):
        raise FormatError("tile index has a superfluous leading group")
    return TileCoord(int(level_text), int(digits), width)


def tiles_for_size(size: int) -> list[TileCoord]:
    """Every tile that exists at tree ``size``, full and partial, level by level."""
    coords: list[TileCoord] = []
    level, nodes = 0, size
    while nodes > 0 and level <= MAX_TILE_LEVEL:
        full, partial = divmod(nodes, TILE_WIDTH)
        coords.extend(TileCoord(level, i) for i in range(full))
        if partial:
            coords.append(TileCoord(level, full, partial))
        level, nodes = level + 1, nodes >> TILE_HEIGHT
    return coords


def tile_width_at(level: int, index: int, size: int) -> int:
    """Width tile ``(level, index)`` has at tree ``size``; 0 if it does not exist yet."""
    nodes = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, nodes - index * TILE_WIDTH))


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % HASH_SIZE or not 0 < len(data) <= TILE_WIDTH * HASH_SIZE:
        raise FormatError("tile data must be 1..256 hashes of 32 bytes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


@dataclass(frozen=True)
class ExpandedTile:
    """A tile with every interior node it implies: ``levels[h][i]`` is node ``(8L + h, N·2^(8-h) + i)``.

    Expanding costs at most 255 hashes once; afterwards any node under the tile is a list lookup,
    which keeps proof generation at O(log n) lookups.
    """

    coord: TileCoord
    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def expand(cls, coord: TileCoord, data: bytes) -> ExpandedTile:
        row = split_hashes(data)
        if len(row) != coord.width:
            raise FormatError(f"tile {coord.path()} holds {len(row)} hashes, expected {coord.width}")
        levels = [tuple(row)]
        for _ in range(TILE_HEIGHT):
            row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
            levels.append(tuple(row))
        return cls(coord, tuple(levels))

    def node(self, sublevel: int, offset: int) -> bytes:
        """Node at ``sublevel`` (0..8) above the tile's base, ``offset`` from the tile's left edge."""
        row = self.levels[sublevel]
        if not 0 <= offset < len(row):
            raise KeyError((self.coord, sublevel, offset))
        return row[offset]


def locate(level: int, index: int) -> tuple[int, int, int, int]:
    """Which tile holds node ``(level, index)``: ``(tile_level, tile_index, sublevel, offset)``.

    A node at level ``8L + s`` lives ``s`` levels above the base of tile-level ``L``; nodes at levels
    that are multiples of 8 are read from the base row of their own tile.
    """
    tile_level, sublevel = divmod(level, TILE_HEIGHT)
    per_tile = TILE_WIDTH >> sublevel
    tile_index, offset = divmod(index, per_tile)
    return tile_level, tile_index, sublevel, offset
