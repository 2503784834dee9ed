"""How ARM applies a PATCH body to a stored resource.

ARM's PATCH is a JSON merge patch (RFC 7396) as the resource providers implement it: objects
merge recursively, arrays and scalars replace, properties the body does not mention are kept.
Two deviations matter here:

* Property names are matched case-insensitively (RPs deserialise with case-insensitive
  contracts), and the stored casing wins: ``{"properties": {"DisableLocalAuth": false}}`` updates
  ``disableLocalAuth``.
* ``null`` stores ``null`` rather than deleting the property: RPs render a cleared property as
  ``null`` on the next GET (Search's ``"authOptions": null`` in Microsoft's
  SearchUpdateServiceDisableLocalAuth example).

Some providers replace whole sub-objects instead of merging them; the caller passes those paths
(see :mod:`emulator.providers`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

Path = tuple[str, ...]


def merge_patch(target: Any, patch: Any, replace_whole: Iterable[Path] = ()) -> Any:
    """A new value: ``patch`` applied to ``target``; neither argument is modified."""
    whole = {tuple(part.casefold() for part in path) for path in replace_whole}
    return _merge(copy.deepcopy(target), patch, (), whole)


def _merge(target: Any, patch: Any, at: Path, whole: set[Path]) -> Any:
    if not isinstance(patch, dict) or not isinstance(target, dict) or at in whole:
        return copy.deepcopy(patch)
    for name, value in patch.items():
        existing = find_key(target, name)
        key = existing if existing is not None else name
        if existing is None:
            target[key] = copy.deepcopy(value)
        else:
            target[key] = _merge(target[key], value, (*at, name.casefold()), whole)
    return target


def find_key(mapping: dict[str, Any], name: str) -> str | None:
    """The key of ``mapping`` equal to ``name`` ignoring case (exact match preferred)."""
    if name in mapping:
        return name
    folded = name.casefold()
    for key in mapping:
        if key.casefold() == folded:
            return key
    return None


def get_path(document: Any, path: Iterable[str]) -> Any:
    """The value at a property path, matching names case-insensitively; ``None`` when absent."""
    current = document
    for name in path:
        if not isinstance(current, dict):
            return None
        key = find_key(current, name)
        if key is None:
            return None
        current = current[key]
    return current


def set_path(document: dict[str, Any], path: Path, value: Any) -> None:
    """Set a property path, creating objects on the way and keeping existing names' casing."""
    current = document
    for name in path[:-1]:
        key = find_key(current, name)
        if key is None or not isinstance(current[key], dict):
            key = key or name
            current[key] = {}
        current = current[key]
    key = find_key(current, path[-1]) or path[-1]
    current[key] = copy.deepcopy(value)


def remove_path(document: dict[str, Any], path: Path) -> None:
    parent = get_path(document, path[:-1]) if len(path) > 1 else document
    if isinstance(parent, dict):
        key = find_key(parent, path[-1])
        if key is not None:
            del parent[key]
