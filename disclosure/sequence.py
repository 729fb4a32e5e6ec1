"""The authority's view of a per-authority sequence: notice replays, reordering and gaps.

docs/adr/0003-disclosure-sealing.md ("Sequence numbers").

The TEE numbers each authority's disclosures 1, 2, 3, … (the number is signed inside the statement).
The opener remembers the highest number opened and the numbers it was told are missing:

* ``seq`` already opened (not higher, not missing): :class:`ReplayedDisclosure`;
* ``seq == highest + 1``, or a number recorded as missing: accepted;
* ``seq > highest + 1``: :class:`SequenceGap`, unless the authority explicitly accepts the gap, in
  which case the skipped numbers are remembered as missing and can still be opened when they come.

The state file is JSON ``{"v": 1, "streams": {"<log key id> <authority>": {"highest": n,
"missing": [..]}}}``: one stream per TEE log key and authority.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audit_log.formats import jcs
from disclosure.errors import DisclosureFormatError, ReplayedDisclosure, SequenceGap
from disclosure.statement import check_uint

STATE_VERSION = 1
#: An accepted gap is remembered number by number; beyond this many the state would be unbounded.
MAX_MISSING = 10_000


@dataclass(frozen=True)
class SequenceState:
    highest: int = 0
    missing: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        check_uint(self.highest, "highest sequence number")
        if len(self.missing) > MAX_MISSING or any(not 1 <= m < self.highest for m in self.missing):
            raise DisclosureFormatError("missing sequence numbers must lie below the highest one")

    def accept(self, seq: int, *, allow_gap: bool = False) -> SequenceState:
        """The state after opening ``seq``; raises if ``seq`` is a replay or (unless allowed) a gap."""
        if seq in self.missing:
            return SequenceState(self.highest, self.missing - {seq})
        if seq <= self.highest:
            raise ReplayedDisclosure(
                f"sequence number {seq} was already opened (highest opened: {self.highest}): "
                "a replay or an out-of-order delivery"
            )
        skipped = seq - self.highest - 1
        if skipped and not allow_gap:
            raise SequenceGap(
                f"sequence number {seq} skips {skipped} disclosure(s) after {self.highest} "
                f"({self.highest + 1}..{seq - 1}): they were withheld or lost"
            )
        if len(self.missing) + skipped > MAX_MISSING:
            raise SequenceGap(f"sequence number {seq} leaves more than {MAX_MISSING} disclosures missing")
        return SequenceState(seq, self.missing | frozenset(range(self.highest + 1, seq)))


def stream_id(log_key_id: str, authority: str) -> str:
    return f"{log_key_id} {authority}"


def parse_state(data: bytes) -> dict[str, SequenceState]:
    obj = jcs.parse_object(data)
    streams = obj.get("streams")
    if obj.get("v") != STATE_VERSION or set(obj) != {"v", "streams"} or not isinstance(streams, dict):
        raise DisclosureFormatError(f"sequence state must be {{'v': {STATE_VERSION}, 'streams': {{...}}}}")
    states = {}
    for name, stream in streams.items():
        if not isinstance(stream, dict) or set(stream) != {"highest", "missing"}:
            raise DisclosureFormatError("each sequence stream needs highest and missing")
        missing = stream["missing"]
        if not isinstance(missing, list):
            raise DisclosureFormatError("missing sequence numbers must be a list")
        states[name] = SequenceState(
            check_uint(stream["highest"], "highest"),
            frozenset(check_uint(m, "missing sequence number", minimum=1) for m in missing),
        )
    return states


def format_state(states: Mapping[str, SequenceState]) -> bytes:
    return jcs.canonicalize(
        {
            "v": STATE_VERSION,
            "streams": {
                name: {"highest": s.highest, "missing": sorted(s.missing)} for name, s in states.items()
            },
        }
    )
