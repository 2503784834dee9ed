"""The twin's resources: ARM GET bodies addressed by id, compared case-insensitively.

Resource groups are tracked because ARM answers ``ResourceGroupNotFound`` for anything in an
unknown group. A group exists when it was seeded or created with PUT, or when any seeded resource
lives in it (then the twin writes the group's body, as ARM would show it, on first sight).

Not thread-safe on its own: :class:`emulator.app.TwinApp` holds one lock around every use.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from . import ids


class SeedError(ValueError):
    """A seed file or a resource body the twin cannot address."""


class ResourceStore:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}

    def get(self, resource_id: str) -> dict[str, Any] | None:
        """The stored body itself (callers copy before handing it out)."""
        return self._items.get(ids.key_of(resource_id))

    def copy_of(self, resource_id: str) -> dict[str, Any] | None:
        found = self.get(resource_id)
        return copy.deepcopy(found) if found is not None else None

    def put(self, body: dict[str, Any]) -> None:
        resource_id = body.get("id")
        if not isinstance(resource_id, str) or not resource_id.startswith("/"):
            raise SeedError(f"a resource needs an ARM id starting with '/', got {resource_id!r}")
        self._items[ids.key_of(resource_id)] = body
        self._ensure_group_of(body)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def group_exists(self, subscription: str, resource_group: str) -> bool:
        return ids.key_of(ids.group_id(subscription, resource_group)) in self._items

    def children(self, parent: str, resource_type: str) -> list[dict[str, Any]]:
        """Resources of ``resource_type`` directly under ``parent`` (a subscription lists its groups' too)."""
        wanted_type = resource_type.casefold()
        found = []
        for body in self._items.values():
            parsed = ids.parse(body["id"])
            if parsed is None or parsed.collection or (parsed.type or "").casefold() != wanted_type:
                continue
            if _lists_under(parent, parsed):
                found.append(body)
        return found

    def _ensure_group_of(self, body: dict[str, Any]) -> None:
        parsed = ids.parse(body["id"])
        if parsed is None or parsed.subscription is None or parsed.resource_group is None:
            return
        if self.group_exists(parsed.subscription, parsed.resource_group):
            return  # includes the case where ``body`` is the group itself
        group = ids.group_id(parsed.subscription, parsed.resource_group)
        self._items[ids.key_of(group)] = {
            "id": group,
            "name": parsed.resource_group,
            "type": ids.RESOURCE_GROUP_TYPE,
            "location": body.get("location") or "eastus",
            "properties": {"provisioningState": "Succeeded"},
        }


def _lists_under(parent: str, parsed: ids.ArmPath) -> bool:
    # A list at a subscription returns every resource of the type in it (list_by_subscription),
    # a list at a resource group or a parent resource only its direct children.
    if ids.key_of(parsed.parent) == ids.key_of(parent):
        return True
    parent_parsed = ids.parse(parent)
    return (
        parent_parsed is not None
        and parent_parsed.type == ids.SUBSCRIPTION_TYPE
        and parsed.subscription is not None
        and parsed.subscription.casefold() == (parent_parsed.subscription or "").casefold()
        and ids.covers(parent, parsed.path)
    )
