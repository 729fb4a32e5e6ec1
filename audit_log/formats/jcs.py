"""RFC 8785 JSON Canonicalization Scheme, plus a strict parser for signed JSON.

https://www.rfc-editor.org/rfc/rfc8785

Every hashed or signed JSON object goes through :func:`canonicalize`. Verifiers parse the exact bytes
they received with :func:`parse` and never re-encode before checking a signature (a float such as
``1e20`` canonicalises to an integer literal, so a round trip can change types).
"""

from __future__ import annotations

import json
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
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, TypeError, ValueError) as exc:
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


def parse(data: bytes | str) -> object:
    """Parse JSON strictly: UTF-8 only, no duplicate keys, no NaN/Infinity.

    The result is ``object`` on purpose: callers validate its shape before they use it.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except FormatError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"not valid JSON: {type(exc).__name__}") from exc


def parse_object(data: bytes | str) -> dict[str, object]:
    """Parse strict JSON whose top level must be an object."""
    value = parse(data)
    if not isinstance(value, dict):
        raise FormatError("expected a JSON object at the top level")
    return value
