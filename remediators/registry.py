"""Every remediator, registered in this one place.

Adding a resource type: write ``remediators/resources/{name}.py`` declaring ``REMEDIATOR``, a
docs page ``docs/remediators/{name}.md``, and list the module here. ``tests/test_registry.py``
fails until all three agree.
"""

from __future__ import annotations

from typing import Any

from .remediator import Remediator
from .resources import ai_account, ai_search, cosmos_db, storage_account

REMEDIATORS: tuple[Remediator, ...] = (
    cosmos_db.REMEDIATOR,
    ai_search.REMEDIATOR,
    storage_account.REMEDIATOR,
    ai_account.REMEDIATOR,
)


def remediator_for(resource_type: str, kind: Any) -> Remediator | None:
    """The remediator that guards resources of this type (and account kind), if any."""
    return next((r for r in REMEDIATORS if r.handles(resource_type, kind)), None)


def remediators_of_type(resource_type: str) -> tuple[Remediator, ...]:
    """Every remediator for this type, whatever the account kind: what the id alone can tell."""
    return tuple(r for r in REMEDIATORS if r.resource_type.casefold() == resource_type.casefold())


def write_operations() -> list[str]:
    """The ARM write operations whose ``ResourceWriteSuccess`` events can need a fix: the Event Grid
    subscription's ``data.operationName`` filter (``infra/events/operations.json``) is this list."""
    return sorted({f"{r.resource_type}/write" for r in REMEDIATORS}, key=str.casefold)


def guarded_types() -> list[str]:
    """The resource types with a remediator: the Resource Notifications subscription's
    ``data.resourceInfo.type`` filter (``infra/events/resource-types.json``) is this list."""
    return sorted({r.resource_type for r in REMEDIATORS}, key=str.casefold)
