"""Reading ARM resource ids and request paths.

An ARM id is ``{scope}/providers/{Namespace}/{type}/{name}[/{childType}/{childName}...]`` where the
scope is ``/subscriptions/{s}``, ``/subscriptions/{s}/resourceGroups/{rg}``, another resource's id
(extension resources such as policy assignments on a resource), a management group, or empty (the
tenant). Resource groups and subscriptions have no ``providers`` segment. ARM compares every part
case-insensitively, so do we; callers keep the caller's casing for display.
"""

from __future__ import annotations

from dataclasses import dataclass

RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"
SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions"


@dataclass(frozen=True)
class ArmPath:
    path: str  # normalised: leading slash, no trailing slash
    subscription: str | None
    resource_group: str | None
    namespace: str | None  # "Microsoft.DocumentDB"; "Microsoft.Resources" for groups and subscriptions
    type: str | None  # "Microsoft.DocumentDB/databaseAccounts", child types joined with "/"
    name: str | None  # None for a collection
    collection: bool  # the path names a list of resources of ``type``, not one resource
    parent: str  # what the resource or collection hangs off: the scope, or the parent resource

    @property
    def key(self) -> str:
        return key_of(self.path)

    @property
    def operation_name(self) -> str:
        """The RBAC action of a write, as Activity Log and Event Grid name it."""
        if self.type is not None and self.type.casefold() == RESOURCE_GROUP_TYPE.casefold():
            return "Microsoft.Resources/subscriptions/resourceGroups/write"
        return f"{self.type}/write"


def normalise(path: str) -> str:
    return "/" + path.strip("/")


def key_of(resource_id: str) -> str:
    """The case-insensitive identity of an id (ARM ids are case-insensitive)."""
    return normalise(resource_id).casefold()


def parse(path: str) -> ArmPath | None:
    """Parse a resource id or a collection path; ``None`` when it is neither."""
    normal = normalise(path)
    segments = [segment for segment in normal.split("/") if segment]
    if not segments:
        return None
    subscription = resource_group = None
    if segments[0].casefold() == "subscriptions" and len(segments) >= 2:
        subscription = segments[1]
        if len(segments) >= 4 and segments[2].casefold() == "resourcegroups":
            resource_group = segments[3]
    providers_at = _last_providers_index(segments)
    if providers_at is None:
        return _parse_container(normal, segments, subscription, resource_group)
    rest = segments[providers_at + 1 :]
    if len(rest) < 2:
        return None
    namespace, type_and_names = rest[0], rest[1:]
    types = type_and_names[0::2]
    names = type_and_names[1::2]
    collection = len(type_and_names) % 2 == 1
    scope = "/" + "/".join(segments[:providers_at])
    # A child resource or collection hangs off its parent resource, e.g. .../databaseAccounts/a
    parent = scope if len(types) == 1 else "/" + "/".join(segments[:-1] if collection else segments[:-2])
    return ArmPath(
        path=normal,
        subscription=subscription,
        resource_group=resource_group,
        namespace=namespace,
        type=f"{namespace}/{'/'.join(types)}",
        name=None if collection else names[-1],
        collection=collection,
        parent=parent,
    )


def _parse_container(
    normal: str, segments: list[str], subscription: str | None, resource_group: str | None
) -> ArmPath | None:
    if subscription is None:
        return None
    if len(segments) == 2:
        return ArmPath(normal, subscription, None, "Microsoft.Resources", SUBSCRIPTION_TYPE, subscription, False, "/")
    subscription_scope = f"/subscriptions/{subscription}"
    if len(segments) == 3 and segments[2].casefold() == "resourcegroups":
        return ArmPath(
            normal, subscription, None, "Microsoft.Resources", RESOURCE_GROUP_TYPE, None, True, subscription_scope
        )
    if len(segments) == 4 and resource_group is not None:
        return ArmPath(
            normal, subscription, resource_group, "Microsoft.Resources", RESOURCE_GROUP_TYPE, resource_group, False,
            subscription_scope,
        )  # fmt: skip
    return None


def _last_providers_index(segments: list[str]) -> int | None:
    # The last "providers" segment starts the innermost type: an extension resource such as a policy
    # assignment on a resource group has two.
    for index in range(len(segments) - 1, -1, -1):
        if segments[index].casefold() == "providers":
            return index
    return None


def covers(scope: str, resource_id: str) -> bool:
    """Whether ``scope`` contains ``resource_id`` (a scope contains itself and everything below it)."""
    scope_key = key_of(scope)
    target = key_of(resource_id)
    if scope_key == "/":
        return True
    return target == scope_key or target.startswith(scope_key + "/")


def group_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def extension_scope(resource_id: str) -> str:
    """The scope an extension resource (policy assignment, exemption) is attached to."""
    segments = normalise(resource_id).split("/")
    index = _last_providers_index(segments)
    if index is None:
        return "/"
    return "/".join(segments[:index]) or "/"
