"""Audit entries: exact JCS bytes, strict parsing, and the hash chain that stops splicing and reordering."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_log.entry import (
    GENESIS_PREV,
    MAX_BODY_BYTES,
    AuditEntry,
    ChainState,
    EntryKind,
    canonical_body,
    encode_entry,
)
from audit_log.errors import FormatError, TamperError
from audit_log.formats import jcs
from audit_log.merkle import leaf_hash

SAFE = jcs.MAX_SAFE_INTEGER
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


@given(
    seq=st.integers(0, SAFE),
    time_ms=st.integers(0, SAFE),
    kind=st.sampled_from(list(EntryKind)),
    prev=st.binary(min_size=32, max_size=32),
    body=bodies,
)
def test_spliced_entry_bytes_equal_full_jcs(
    seq: int, time_ms: int, kind: EntryKind, prev: bytes, body: dict
) -> None:
    encoded = encode_entry(seq, time_ms, kind, prev, canonical_body(body))
    expected = jcs.canonicalize(
        {"v": 1, "seq": seq, "time": time_ms, "kind": kind.value, "prev": prev.hex(), "body": body}
    )
    assert encoded == expected
    parsed = AuditEntry.parse(encoded)
    assert (parsed.seq, parsed.time, parsed.kind, parsed.prev) == (seq, time_ms, kind, prev)
    assert parsed.to_bytes() == encoded


def test_entry_bytes_are_pinned() -> None:
    body = canonical_body({"b": 1, "a": "x"})
    encoded = encode_entry(3, 1_700_000_000_123, EntryKind.VERDICT, GENESIS_PREV, body)
    assert encoded == (
        b'{"body":{"a":"x","b":1},"kind":"verdict","prev":"'
        + b"0" * 64
        + b'","seq":3,"time":1700000000123,"v":1}'
    )


@pytest.mark.parametrize(
    "body",
    [
        {"score": float("nan")},
        {"n": 2**53},
        {"n": -(2**53)},
        {1: "non-string key"},
        {"k": "\ud800"},
        {"s": {1, 2}},
        {"b": b"bytes"},
        {"big": "x" * MAX_BODY_BYTES},
        {"float": 1e20},
    ],
    ids=[
        "nan",
        "int-too-big",
        "int-too-small",
        "int-key",
        "lone-surrogate",
        "set",
        "bytes",
        "oversized",
        "float-printed-as-unsafe-int",
    ],
)
def test_body_that_cannot_be_signed_is_refused(body: dict) -> None:
    with pytest.raises(FormatError):
        canonical_body(body)


def test_non_object_body_is_refused() -> None:
    with pytest.raises(FormatError):
        canonical_body(["not", "an", "object"])  # type: ignore[arg-type]


_DROP = object()


def _entry_json(**overrides: object) -> bytes:
    obj: dict[str, object] = {"v": 1, "seq": 0, "time": 5, "kind": "startup", "prev": "00" * 32, "body": {}}
    obj.update(overrides)
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP}).encode()


@pytest.mark.parametrize(
    "data",
    [
        _entry_json(v=2),
        _entry_json(v=True),
        _entry_json(kind="telemetry"),
        _entry_json(prev="AB" * 32),
        _entry_json(prev="zz" * 32),
        _entry_json(prev="00" * 31),
        _entry_json(seq=-1),
        _entry_json(seq=1.0),
        _entry_json(seq=True),
        _entry_json(time=2**53),
        _entry_json(body=[]),
        _entry_json(body=_DROP),
        _entry_json(extra="smuggled"),
        b'{"v":1,"v":1,"seq":0,"time":5,"kind":"startup","prev":"' + b"0" * 64 + b'","body":{}}',
        b"\xff\xfe",
        b"[]",
    ],
    ids=[
        "version",
        "bool-version",
        "unknown-kind",
        "uppercase-prev",
        "non-hex-prev",
        "short-prev",
        "negative-seq",
        "float-seq",
        "bool-seq",
        "unsafe-time",
        "array-body",
        "missing-body",
        "extra-member",
        "duplicate-member",
        "not-utf8",
        "not-object",
    ],
)
def test_malformed_entry_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(FormatError):
        AuditEntry.parse(data)


def _chain(count: int) -> list[tuple[AuditEntry, bytes]]:
    out, prev = [], GENESIS_PREV
    for seq in range(count):
        data = encode_entry(seq, 1000 + seq, EntryKind.VERDICT, prev, canonical_body({"n": seq}))
        prev = leaf_hash(data)
        out.append((AuditEntry.parse(data), prev))
    return out


def test_honest_chain_follows_from_genesis() -> None:
    state = ChainState()
    for entry, leaf in _chain(5):
        state = state.follow(entry, leaf)
    assert state.size == 5


def test_reordered_entry_breaks_the_chain() -> None:
    chain = _chain(3)
    state = ChainState().follow(*chain[0])
    with pytest.raises(TamperError) as caught:
        state.follow(*chain[2])
    assert caught.value.index == 1


def test_spliced_entry_with_wrong_prev_breaks_the_chain() -> None:
    chain = _chain(2)
    forged = AuditEntry(1, 2000, EntryKind.VERDICT, b"\x01" * 32, {"n": 1})
    with pytest.raises(TamperError, match="prev") as caught:
        ChainState().follow(*chain[0]).follow(forged, leaf_hash(forged.to_bytes()))
    assert caught.value.index == 1


def test_backdated_entry_breaks_the_chain() -> None:
    first, leaf = _chain(1)[0]
    backdated = AuditEntry(1, first.time - 1, EntryKind.VERDICT, leaf, {})
    with pytest.raises(TamperError, match="time"):
        ChainState().follow(first, leaf).follow(backdated, leaf_hash(backdated.to_bytes()))


def test_first_entry_must_link_to_genesis() -> None:
    entry = AuditEntry(0, 1, EntryKind.STARTUP, b"\x02" * 32, {})
    with pytest.raises(TamperError):
        ChainState().follow(entry, leaf_hash(entry.to_bytes()))
