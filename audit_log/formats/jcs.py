"""RFC 8785 JSON Canonicalization Scheme, plus a strict parser for signed JSON.

https://www.rfc-editor.org/rfc/rfc8785

Every hashed or signed JSON object goes through :func:`canonicalize`. Verifiers parse the exact bytes
they received with :func:`parse` and never re-encode before checking a signature (a float such as
``1e20`` canonicalises to an integer literal, so a round trip can change types).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TypeAlias

import rfc8785

from audit_log.errors import FormatError

JSONValue: TypeAlias = bool | int | float | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, "JSONValue"]

#: RFC 8785 (via I-JSON) only guarantees integers in this range round-trip exactly.
MAX_SAFE_INTEGER = 2**53 - 1


def canonicalize(value: JSONValue) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises :class:`FormatError` for values JCS cannot represent: integers beyond ±(2**53 - 1),
    NaN or infinities, non-string keys, lone surrogates.
    """
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, TypeError, ValueError, RecursionError) as exc:
        raise FormatError(f"value cannot be canonicalised as RFC 8785 JSON: {type(exc).__name__}") from exc


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
