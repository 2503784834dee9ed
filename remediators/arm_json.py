"""Reading resource JSON the way ARM actually writes it.

ARM is inconsistent: property names differ in case between API versions and event payloads,
enum values differ in case between providers (Search says ``disabled``, Cosmos DB ``Disabled``),
Resource Notifications events deliver booleans as ``1``/``0``, and ``null`` usually means "the
platform default". Every remediator reads properties through these helpers so that each of those
quirks is handled once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .limits import MAX_BODY_BYTES, MAX_JSON_DEPTH


class _Missing:
    """The property is absent (as opposed to present with the value ``null``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


def lookup(document: Any, *path: str) -> Any:
    """The value at ``path``, matching each key case-insensitively; ``MISSING`` if any step is absent.

    An exact-case key wins over a differently-cased one, so a document that holds both
    (which ARM never sends, but arbitrary input may) reads deterministically.
    """
    current = document
    for key in path:
        if not isinstance(current, Mapping):
            return MISSING
        if key in current:
            current = current[key]
            continue
        folded = key.casefold()
        for candidate, value in current.items():
            if isinstance(candidate, str) and candidate.casefold() == folded:
                current = value
                break
        else:
            return MISSING
    return current


def as_bool(value: Any) -> bool | None:
    """ARM's booleans: ``true``/``false``, ``1``/``0`` (Resource Notifications), or their strings.

    ``None`` for null, absent, or anything that is not recognisably a boolean: callers treat that
    as "not known to be set", which never leads to a change.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded in ("true", "1"):
            return True
        if folded in ("false", "0"):
            return False
    return None


def same_text(value: Any, expected: str) -> bool:
    """Case-insensitive equality for enum-like strings; False for anything that is not a string."""
    return isinstance(value, str) and value.strip().casefold() == expected.casefold()


def as_list(value: Any) -> list[Any] | None:
    """A JSON array as a list; ``None`` for null, absent, or any other type."""
    return list(value) if isinstance(value, list) else None


def comma_separated(value: Any) -> list[str]:
    """Items of a comma-separated ARM flag string such as Storage's ``"Logging, Metrics"``."""
    if not isinstance(value, str):
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def public_access_closed(value: Any) -> bool:
    """A ``publicNetworkAccess`` of Disabled or SecuredByPerimeter, in any case.

    Null or absent means the platform default, which is open. Any other value is not understood
    and so never leads to a change.
    """
    return isinstance(value, str) and value.strip().casefold() in _CLOSED_PUBLIC_ACCESS


_CLOSED_PUBLIC_ACCESS = frozenset({"disabled", "securedbyperimeter"})


def replaced(document: Any, key: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` (a JSON object, or nothing) with ``key`` set to ``value``.

    For nested objects that ARM replaces whole on PATCH (Storage ``networkAcls``: sending only
    ``bypass`` drops the IP and VNet rules, Azure/azure-cli#4825): the PATCH carries the object
    as it is, with one property changed, so nothing else in it is lost.
    """
    kept: dict[str, Any] = {}
    if isinstance(document, Mapping):
        kept = {k: v for k, v in document.items() if not (isinstance(k, str) and k.casefold() == key.casefold())}
    kept[key] = value
    return kept


class TooLarge(ValueError):
    """A document over :data:`remediators.limits.MAX_BODY_BYTES` (or the caller's cap)."""


class TooDeep(ValueError):
    """A document nested deeper than :data:`remediators.limits.MAX_JSON_DEPTH`."""


def loads(text: str | bytes, *, max_bytes: int | None = None, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses ``NaN`` and ``Infinity`` (Python accepts them, JSON does not),
    text over ``max_bytes`` (:class:`TooLarge`, before parsing) and nesting deeper than
    ``max_depth`` (:class:`TooDeep`, never a RecursionError). Both are ValueErrors."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if max_bytes is not None and size > max_bytes:
        raise TooLarge(f"{size} bytes is more than the {max_bytes} bytes accepted")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # the parser's own limit, far beyond max_depth
        raise TooDeep(f"nested too deeply (more than {max_depth} levels)") from None
    check_depth(document, max_depth)
    return document


def check_depth(document: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`TooDeep` when ``document`` (decoded JSON) nests deeper than ``max_depth``
    arrays and objects. Walks level by level, without recursion, so any depth is measured safely."""
    level = [document] if isinstance(document, Mapping | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise TooDeep(f"nested too deeply (more than {max_depth} levels)")
        below: list[Any] = []
        for node in level:
            children = node.values() if isinstance(node, Mapping) else node
            below.extend([child for child in children if isinstance(child, Mapping | list)])
        level = below


def check_size(document: Any, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`TooDeep` or :class:`TooLarge` for a decoded document over the caps: for input a
    trigger hands over already decoded (Event Grid event data)."""
    check_depth(document, max_depth)
    size = len(json.dumps(document, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise TooLarge(f"{size} bytes is more than the {max_bytes} bytes accepted")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
