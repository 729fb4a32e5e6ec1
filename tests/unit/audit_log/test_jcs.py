"""RFC 8785 canonical JSON and the strict parser for signed JSON (audit_log/formats/jcs.py).

Expected bytes come from RFC 8785 itself (§3.2.2.3 number examples, §3.2.3 sorting, §3.2.4 the full
example); the traps come from ../shared/INTEROP.md. https://www.rfc-editor.org/rfc/rfc8785
"""

from __future__ import annotations

import json
import math
import struct
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_log.errors import FormatError
from audit_log.formats.jcs import MAX_SAFE_INTEGER, JSONValue, canonicalize, parse, parse_object


def jcs_of(value: object) -> bytes:
    """Canonicalise a value typed as untrusted input, as a caller does after parsing."""
    return canonicalize(cast("JSONValue", value))


def _double(hex_bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(hex_bits))[0]
    return value


# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical ECMAScript text.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), RFC8785_NUMBERS, ids=[e for _, e in RFC8785_NUMBERS])
def test_rfc8785_number_serialisation(bits: str, expected: str) -> None:
    assert canonicalize(_double(bits)) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (-0.0, "0"),
        (4.50, "4.5"),
    ],
    ids=["1e21", "1e20", "1e-7", "1e-6", "minus-zero", "4.50"],
)
def test_number_formatting_thresholds(value: float, expected: str) -> None:
    assert canonicalize(value) == expected.encode()


@pytest.mark.parametrize(
    "bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"], ids=["NaN", "inf", "-inf"]
)
def test_non_finite_numbers_are_refused(bits: str) -> None:
    with pytest.raises(FormatError):
        canonicalize(_double(bits))


def test_rfc8785_sorting_example_orders_keys_by_utf16_code_units() -> None:
    """RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33, unlike code point order."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonicalize(value) == expected.encode("utf-8")
    assert sorted(value) != list(json.loads(expected)), "code point order would differ"


def test_rfc8785_full_example() -> None:
    """RFC 8785 §3.2.4: parse the example input, canonicalise, get the published bytes."""
    source = (
        '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
        '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
        '  "literals": [null, true, false]\n}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert jcs_of(parse_object(source)) == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\b\t\n\f\r", '"\\b\\t\\n\\f\\r"'),
        ("\x00\x1f", '"\\u0000\\u001f"'),
        ('"\\/', '"\\"\\\\/"'),
        ("\x7f\u2028", '"\x7f\u2028"'),
    ],
    ids=[
        "short-escapes",
        "other-controls-lowercase-hex",
        "quote-backslash-solidus",
        "del-and-line-separator-raw",
    ],
)
def test_string_escapes(text: str, expected: str) -> None:
    assert canonicalize(text) == expected.encode("utf-8")


# --- INTEROP traps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [MAX_SAFE_INTEGER + 1, -(MAX_SAFE_INTEGER + 1), 2**64], ids=["2^53", "-2^53", "2^64"]
)
def test_integers_beyond_2_pow_53_minus_1_are_refused(value: int) -> None:
    with pytest.raises(FormatError):
        canonicalize({"n": value})


def test_largest_safe_integers_are_accepted() -> None:
    assert canonicalize([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"


@pytest.mark.parametrize(
    "value", [{"\ud800": 1}, {"k": "\udfff"}, ["a\ud83d"]], ids=["key", "value", "array-item"]
)
def test_lone_surrogate_is_a_format_error_not_a_unicode_error(value: object) -> None:
    with pytest.raises(FormatError):
        jcs_of(value)


def test_non_string_keys_and_unknown_types_are_refused() -> None:
    with pytest.raises(FormatError):
        jcs_of({1: "x"})
    with pytest.raises(FormatError):
        jcs_of({"x": object()})


def test_float_that_looks_like_an_integer_does_not_round_trip_its_type() -> None:
    """INTEROP: 1e15 canonicalises to an integer literal, so verifiers must keep the received bytes."""
    assert canonicalize(1e15) == b"1000000000000000"
    assert isinstance(parse(canonicalize(1e15)), int)


def test_integral_float_beyond_2_pow_53_canonicalises_but_does_not_parse_back() -> None:
    """RFC 8785 writes the double 2**53 as 9007199254740992; the strict parser refuses that integer,
    so a signed statement must never carry such a float (it would fail closed at the verifier)."""
    assert canonicalize(2.0**53) == b"9007199254740992"
    with pytest.raises(FormatError):
        parse(canonicalize(2.0**53))


def test_deeply_nested_value_is_a_format_error_not_a_recursion_error() -> None:
    value: list[object] = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(FormatError):
        jcs_of(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: not (f.is_integer() and abs(f) > MAX_SAFE_INTEGER)
    )
    | st.text(alphabet=st.characters(codec="utf-8")),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(codec="utf-8"), max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_canonical_form_is_a_fixed_point(value: object) -> None:
    once = jcs_of(value)
    assert jcs_of(parse(once)) == once
    assert once.decode("utf-8") == once.decode("utf-8").strip()


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
        st.integers(0, 9),
        max_size=8,
    )
)
def test_keys_are_sorted_by_utf16_code_units(value: dict[str, int]) -> None:
    keys = list(parse_object(canonicalize(value)))
    assert keys == sorted(value, key=lambda k: k.encode("utf-16-be"))


# --- The strict parser ----------------------------------------------------------------------------

REFUSED_JSON = {
    "duplicate-key": '{"a":1,"a":2}',
    "duplicate-key-nested": '{"x":{"a":1,"a":1}}',
    "duplicate-key-after-unescape": '{"a":1,"\\u0061":2}',
    "NaN": '{"a":NaN}',
    "Infinity": "[Infinity]",
    "-Infinity": "[-Infinity]",
    "overflow-to-infinity": "[1e400]",
    "negative-overflow": "[-1e400]",
    "integer-beyond-2^53": "[9007199254740993]",
    "negative-integer-beyond-2^53": "[-9007199254740992]",
    "integer-5000-digits": "[" + "9" * 5000 + "]",
    "lone-surrogate-escape": '["\\ud800"]',
    "lone-surrogate-key": '{"\\udfff":1}',
    "not-utf8": b'{"a":"\xff"}',
    "utf8-bom": b'\xef\xbb\xbf{"a":1}',
    "trailing-garbage": '{"a":1} x',
    "single-quotes": "{'a':1}",
    "trailing-comma": '{"a":1,}',
    "empty": "",
    "deep-nesting": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("data", REFUSED_JSON.values(), ids=REFUSED_JSON.keys())
def test_strict_parser_refuses(data: str | bytes) -> None:
    with pytest.raises(FormatError):
        parse(data)


def test_strict_parser_accepts_ordinary_json_and_valid_pairs() -> None:
    assert parse('{"a":[1,2.5,"\\ud83d\\ude00",null,true]}') == {"a": [1, 2.5, "\U0001f600", None, True]}
    assert parse("[9007199254740991, -9007199254740991, 1e308]") == [
        MAX_SAFE_INTEGER,
        -MAX_SAFE_INTEGER,
        1e308,
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}":,0123456789.eE-+tfrulnas\\ud8\u00e9 ', max_size=40))
def test_whatever_parses_can_be_canonicalised(text: str) -> None:
    """The parser accepts exactly the I-JSON values that RFC 8785 can write again."""
    try:
        value = parse(text)
    except FormatError:
        return
    jcs_of(value)


def test_parse_object_refuses_non_objects() -> None:
    for data in ("[]", "1", '"s"', "null"):
        with pytest.raises(FormatError):
            parse_object(data)


def test_parsed_floats_are_finite() -> None:
    value = parse("[1.7976931348623157e308, 5e-324]")
    assert isinstance(value, list)
    assert all(math.isfinite(v) for v in value)
