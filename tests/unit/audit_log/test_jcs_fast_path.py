"""The JCS fast path writes exactly what the rfc8785 package writes, or leaves the value to it.

A fast path that disagreed with RFC 8785 even once would make a verdict's signature or an entry's
leaf hash unverifiable by any other implementation, so it is compared with ``rfc8785.dumps`` on
every shape of JSON value, including the ones it must hand over (lone surrogates, non-string keys,
integers and floats outside the plain ranges, subclasses of dict and str).
"""

from __future__ import annotations

import collections
import enum
import sys
from typing import cast

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit_log.errors import FormatError
from audit_log.formats.jcs import JSONValue, _fast, canonicalize, canonicalize_parseable, parse

# Surrogates included: JSON text can carry them, UTF-8 cannot.
ANY_CHARACTER = st.characters(codec=None, categories=None)
STRINGS = st.text(ANY_CHARACTER, max_size=12) | st.sampled_from(["", "a", "\u2028", "\x7f", "\ud800", "😀"])
NUMBERS = (
    st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 1e-4, 9.999e-5, 1e-7, 5e-324, 1e16, 1e21, 2.0**53, 2.0**53 - 1, 0.1, 1.5])
)
SCALARS = st.none() | st.booleans() | NUMBERS | STRINGS
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(STRINGS, children, max_size=4)
    ),
    max_leaves=20,
)


def reference(value: object) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(cast(JSONValue, value))
    except Exception as exc:
        return type(exc)


@given(VALUES)
def test_fast_path_writes_what_rfc8785_writes_or_hands_the_value_over(value: object) -> None:
    fast = _fast(value)
    if fast is not None:
        assert fast == reference(value)


@given(VALUES)
def test_canonicalize_agrees_with_rfc8785_on_bytes_and_on_refusals(value: object) -> None:
    expected = reference(value)
    if isinstance(expected, bytes):
        assert canonicalize(cast(JSONValue, value)) == expected
    else:
        with pytest.raises(FormatError):
            canonicalize(cast(JSONValue, value))


@given(VALUES)
def test_canonicalize_parseable_refuses_what_the_strict_parser_cannot_read_back(value: object) -> None:
    expected = reference(value)
    readable = isinstance(expected, bytes)
    if readable:
        try:
            parse(cast(bytes, expected))
        except FormatError:
            readable = False
    if readable:
        assert canonicalize_parseable(cast(JSONValue, value)) == expected
    else:
        with pytest.raises(FormatError):
            canonicalize_parseable(cast(JSONValue, value))


class Tag(enum.StrEnum):
    A = "a"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    "value",
    [
        collections.OrderedDict([("b", 1), ("a", 2)]),
        {"k": Tag.A},
        {"k": Level.HIGH},
        {1: "non-string key"},
        {"\ud800": 1},
        {"\ue000": 1, "😀": 2},
        [2**53],
        [1e-5, 1e21, float("nan")],
    ],
)
def test_unusual_values_go_to_rfc8785(value: object) -> None:
    expected = reference(value)
    if isinstance(expected, bytes):
        assert canonicalize(cast(JSONValue, value)) == expected
    else:
        with pytest.raises(FormatError):
            canonicalize(cast(JSONValue, value))


def test_nesting_beyond_the_recursion_limit_is_refused_not_crashed() -> None:
    value: object = []
    for _ in range(sys.getrecursionlimit() + 10):
        value = [value]
    with pytest.raises(FormatError):
        canonicalize(cast(JSONValue, value))
