"""RFC 8785 JSON Canonicalization Scheme, plus a strict parser for signed JSON.

https://www.rfc-editor.org/rfc/rfc8785

Every hashed or signed JSON object goes through :func:`canonicalize`. Verifiers parse the exact bytes
they received with :func:`parse` and never re-encode before checking a signature (a float such as
``1e20`` canonicalises to an integer literal, so a round trip can change types).

The gateway canonicalises a few objects per request, so the common shapes take a fast path: exact
``dict``/``list``/``tuple``/``str``/``bool``/``None``, integers within ±(2**53 - 1), integral floats
in that range and floats with a fraction and a magnitude >= 1e-4 (where Python's shortest repr is
already the ECMAScript form), strings through the C JSON string encoder (which escapes exactly
``"``, ``\\`` and U+0000-U+001F, as §3.2.2.2 asks). Anything else (subclasses, tiny or huge floats,
lone surrogates, non-string keys) goes to the ``rfc8785`` package, which canonicalises it or says
why it cannot; ``tests/unit/audit_log/test_jcs_fast_path.py`` checks that both always agree.
"""

from __future__ import annotations

import json
import json.encoder
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias, cast

import rfc8785

from audit_log.errors import FormatError

JSONValue: TypeAlias = bool | int | float | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, "JSONValue"]

#: RFC 8785 (via I-JSON) only guarantees integers in this range round-trip exactly.
MAX_SAFE_INTEGER = 2**53 - 1


#: The smallest magnitude at which ``float.__repr__`` writes plain decimals, as ECMAScript does.
_PLAIN_FLOAT_MIN = 1e-4
_encode_string: Callable[[str], str] = json.encoder.encode_basestring


class _NotPlain(Exception):
    """A value the fast path leaves to ``rfc8785``."""


def _plain(value: object, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_encode_string(cast(str, value)))
    elif kind is dict:
        mapping = cast(dict[object, object], value)
        if not all(type(key) is str for key in mapping):
            raise _NotPlain
        keys = cast(list[str], list(mapping))
        # RFC 8785 §3.2.3 orders keys by UTF-16 code units; for ASCII keys that is plain string order.
        keys.sort(key=None if all(key.isascii() for key in keys) else _utf16)
        out.append("{")
        for position, key in enumerate(keys):
            if position:
                out.append(",")
            out.append(_encode_string(key))
            out.append(":")
            _plain(mapping[key], out)
        out.append("}")
    elif kind is list or kind is tuple:
        out.append("[")
        for position, item in enumerate(cast(Sequence[object], value)):
            if position:
                out.append(",")
            _plain(item, out)
        out.append("]")
    elif kind is int:
        if not -MAX_SAFE_INTEGER <= cast(int, value) <= MAX_SAFE_INTEGER:
            raise _NotPlain
        out.append(int.__repr__(cast(int, value)))
    elif kind is float:
        number = cast(float, value)
        if number.is_integer() and -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            out.append(int.__repr__(int(number)))  # ECMAScript writes 5.0 as 5 and -0.0 as 0
        elif math.isfinite(number) and not number.is_integer() and abs(number) >= _PLAIN_FLOAT_MIN:
            out.append(float.__repr__(number))  # below 2**52 (it has a fraction): never an exponent
        else:
            raise _NotPlain
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    else:
        raise _NotPlain


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be")


def _fast(value: object) -> bytes | None:
    """The canonical bytes through the fast path, or None where ``rfc8785`` must decide."""
    out: list[str] = []
    try:
        _plain(value, out)
        return "".join(out).encode("utf-8")
    except (_NotPlain, UnicodeEncodeError, RecursionError):
        return None


def _slow(value: JSONValue) -> bytes:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, TypeError, ValueError, RecursionError) as exc:
        raise FormatError(f"value cannot be canonicalised as RFC 8785 JSON: {type(exc).__name__}") from exc


def canonicalize(value: JSONValue) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises :class:`FormatError` for values JCS cannot represent: integers beyond ±(2**53 - 1),
    NaN or infinities, non-string keys, lone surrogates.
    """
    fast = _fast(value)
    return fast if fast is not None else _slow(value)


def canonicalize_parseable(value: JSONValue) -> bytes:
    """:func:`canonicalize`, and :class:`FormatError` unless :func:`parse` reads the bytes back.

    A float such as ``1e20`` canonicalises to an integer literal beyond 2^53 that the strict parser
    refuses. The fast path writes only safe integers, plain decimals and valid UTF-8, so only what
    ``rfc8785`` canonicalised is parsed again.
    """
    fast = _fast(value)
    if fast is not None:
        return fast
    encoded = _slow(value)
    parse(encoded)
    return encoded


def _reject_constant(name: str) -> None:
    raise FormatError(f"JSON constant {name} is not allowed")


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj: dict[str, object] = {}
    for key, value in pairs:
        if key in obj:
            raise FormatError("JSON object has a duplicate key")
        obj[key] = value
    return obj


def _safe_integer(text: str) -> int:
    # Length first: int() of more than 4,300 digits raises a bare ValueError, and no integer with
    # more digits than MAX_SAFE_INTEGER is in range anyway.
    if len(text.lstrip("-")) > len(str(MAX_SAFE_INTEGER)) or abs(int(text)) > MAX_SAFE_INTEGER:
        raise FormatError("JSON integer beyond ±(2**53 - 1)")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FormatError("JSON number does not fit in a double")
    return value


def _reject_lone_surrogates(value: object) -> None:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise FormatError("JSON string holds a lone surrogate") from exc
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def parse(data: bytes | str) -> object:
    """Parse JSON strictly: UTF-8 only, I-JSON (RFC 7493) values, no duplicate keys, no NaN/Infinity.

    Integers must lie within ±(2**53 - 1), numbers must fit a double and strings must be Unicode (no
    lone surrogates), so whatever parses can be canonicalised again (RFC 8785 §3.1). The result is
    ``object`` on purpose: callers validate its shape before they use it.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(
            text,
            object_pairs_hook=_unique_object,
            parse_constant=_reject_constant,
            parse_int=_safe_integer,
            parse_float=_finite_float,
        )
    except FormatError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"not valid JSON: {type(exc).__name__}") from exc
    _reject_lone_surrogates(value)
    return value


def parse_object(data: bytes | str) -> dict[str, object]:
    """Parse strict JSON whose top level must be an object."""
    value = parse(data)
    if not isinstance(value, dict):
        raise FormatError("expected a JSON object at the top level")
    return value
