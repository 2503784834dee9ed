"""Azure ML workspaces and registries, and the proof that a resource group is a workspace's managed group.

Foundry Guard's fixes in a managed resource group *loosen* security (keys back on, firewalls
open), so a group's name is never enough: anyone can create a group called
``azureml-rg-<x>_<guid>``. A group is a workspace's managed resource group when an ARM read shows:

* an Azure ML workspace (kind ``Default``, ``Hub`` or ``Project``; ARM leaves ``kind`` out for a
  ``Default`` one) in the **same subscription** whose read-only
  ``properties.serviceProvisionedResourceGroup`` names the group,
* that is encrypted with a **customer-managed key** (``properties.encryption.status`` ``Enabled``)
  the classic, subscription-side way (not ``enableServiceSideCMKEncryption``, whose resources
  live in Microsoft's subscription: such a workspace has no managed group to guard),
* and the group's name fits a form **for that workspace**: ``azureml-rg-<workspace name>_<guid>``
  (Microsoft's concept doc), ``azureml-<workspace name>_<guid>`` (seen in the field), or the
  workspace's own group name followed by a GUID (Microsoft's CMK how-to). The property is
  read-only in ARM, but a tool that loosens must not rest on one field.

Or an operator lists the group in ``GUARD_MANAGED_RESOURCE_GROUPS``. Either way, a group that an
Azure ML **registry** names as its managed group (``properties.managedResourceGroup.resourceId``)
is recognised as such and never loosened: it holds a Storage account and a container registry
that need neither keys nor public access.

The inventory of one subscription costs two ARM list calls (workspaces, registries) and is cached
for a short time (:class:`WorkspaceInventory`), so a burst of events pays for it once.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .arm_json import as_bool, lookup, same_text
from .findings import Guarded
from .resource_ids import InvalidResourceId, parse_resource_id
from .scope import GUID, PLATFORM_FORMS, ScopeDecision, ScopeRules, candidate_form, configured_entry, same_name

if TYPE_CHECKING:
    from .arm import Arm

WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"
REGISTRY_TYPE = "Microsoft.MachineLearningServices/registries"
API_VERSION = "2025-09-01"
# Kinds whose managed resource group holds the resources the remediators guard. ARM omits
# ``kind`` for a plain workspace, which is a Default one.
WORKSPACE_KINDS = ("Default", "Hub", "Project")
OWN_GROUP_FORM = "<workspace resource group><guid>"


@dataclass(frozen=True)
class Workspace:
    """What the proof needs from one workspace body."""

    id: str
    name: str
    subscription: str
    resource_group: str  # the group the workspace itself lives in
    kind: str
    managed_group: str | None  # properties.serviceProvisionedResourceGroup
    customer_managed_key: bool  # properties.encryption.status == Enabled
    service_side_encryption: bool  # properties.enableServiceSideCMKEncryption
    principal_ids: tuple[str, ...] = ()  # its system- and user-assigned identities

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Workspace | None:
        """The workspace an ARM GET (or list item) describes; ``None`` for anything else."""
        parsed = _parsed(lookup(body, "id"), WORKSPACE_TYPE)
        if parsed is None or parsed.resource_group is None or parsed.name is None:
            return None
        properties = lookup(body, "properties")
        kind = lookup(body, "kind")
        managed_group = lookup(properties, "serviceProvisionedResourceGroup")
        return cls(
            id=parsed.text,
            name=parsed.name,
            subscription=parsed.subscription,
            resource_group=parsed.resource_group,
            kind=kind if isinstance(kind, str) and kind.strip() else "Default",
            managed_group=managed_group.strip() if isinstance(managed_group, str) and managed_group.strip() else None,
            customer_managed_key=same_text(lookup(properties, "encryption", "status"), "Enabled"),
            service_side_encryption=as_bool(lookup(properties, "enableServiceSideCMKEncryption")) is True,
            principal_ids=_principal_ids(lookup(body, "identity")),
        )

    def form_of(self, group: str) -> str | None:
        """The form ``group``'s name takes for this workspace, or ``None`` when it fits none."""
        prefixes = (
            (PLATFORM_FORMS[0], f"azureml-rg-{self.name}_"),
            (PLATFORM_FORMS[1], f"azureml-{self.name}_"),
            (OWN_GROUP_FORM, self.resource_group),
        )
        for form, prefix in prefixes:
            if same_name(group[: len(prefix)], prefix) and GUID.match(group[len(prefix) :]):
                return form
        return None

    def why_not_managed(self, group: str) -> str | None:
        """Why this workspace does not prove ``group`` its managed resource group; ``None`` when it does."""
        if not any(same_name(self.kind, kind) for kind in WORKSPACE_KINDS):
            return f"is of kind {self.kind!r}, not {', '.join(WORKSPACE_KINDS)}"
        if self.service_side_encryption:
            return (
                "uses service-side encryption (enableServiceSideCMKEncryption), whose resources live in "
                "Microsoft's subscription: it has no managed resource group here"
            )
        if not self.customer_managed_key:
            return "is not encrypted with a customer-managed key, so the platform made no managed resource group for it"
        if self.managed_group is None or not same_name(self.managed_group, group):
            return "names another group"
        if self.form_of(group) is None:
            return (
                f"the group's name fits none of the forms for it (azureml-rg-{self.name}_<guid>, "
                f"azureml-{self.name}_<guid>, {self.resource_group}<guid>)"
            )
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "managedResourceGroup": self.managed_group,
            "customerManagedKey": self.customer_managed_key,
            "serviceSideEncryption": self.service_side_encryption,
        }


@dataclass(frozen=True)
class Registry:
    """An Azure ML registry and the managed resource group it names."""

    id: str
    managed_group: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Registry | None:
        parsed = _parsed(lookup(body, "id"), REGISTRY_TYPE)
        if parsed is None:
            return None
        named = lookup(body, "properties", "managedResourceGroup", "resourceId")
        group: str | None = None
        if isinstance(named, str) and named.strip():
            try:
                group = parse_resource_id(named.strip()).resource_group
            except InvalidResourceId:
                group = named.strip()  # a bare group name
        return cls(parsed.text, group)


@dataclass(frozen=True)
class Proof:
    """What the inventory says of one resource group: proven managed or not, and why."""

    group: str
    proven: bool
    reason: str
    guarded: Guarded | None  # MANAGED_RG for a candidate worth reporting; None when it is plainly not one
    workspace: Workspace | None = None  # the workspace that proves it
    registry: Registry | None = None  # the registry that owns it

    @property
    def proven_by(self) -> str | None:
        """The workspace id, or the setting, that proves the group; ``None`` when unproven."""
        if not self.proven:
            return None
        return self.workspace.id if self.workspace is not None else "GUARD_MANAGED_RESOURCE_GROUPS"

    def decision(self) -> ScopeDecision:
        return ScopeDecision(self.guarded, self.reason, proven=self.proven)


@dataclass(frozen=True)
class Inventory:
    """The Azure ML workspaces and registries of one subscription, as ARM listed them."""

    subscription: str
    workspaces: tuple[Workspace, ...] = ()
    registries: tuple[Registry, ...] = ()

    @classmethod
    def from_bodies(
        cls, subscription: str, workspaces: Iterable[Mapping[str, Any]], registries: Iterable[Mapping[str, Any]] = ()
    ) -> Inventory:
        """From list items; items of other subscriptions or types are left out (a list never has them)."""
        found = [w for w in map(Workspace.from_body, workspaces) if w is not None]
        owned = [r for r in map(Registry.from_body, registries) if r is not None]
        return cls(
            subscription,
            tuple(w for w in found if same_name(w.subscription, subscription)),
            tuple(r for r in owned if same_name(parse_resource_id(r.id).subscription, subscription)),
        )

    def with_workspace(self, workspace: Workspace) -> Inventory:
        """This inventory with ``workspace`` read afresh (added, or replacing its older copy)."""
        others = tuple(w for w in self.workspaces if not same_name(w.id, workspace.id))
        return Inventory(self.subscription, (*others, workspace), self.registries)

    def prove(self, group: str, rules: ScopeRules) -> Proof:
        """Whether ``group`` (in this subscription) is a workspace's managed resource group."""
        registry = next((r for r in self.registries if r.managed_group and same_name(r.managed_group, group)), None)
        if registry is not None:
            return Proof(
                group,
                False,
                f"resource group {group!r} is the managed resource group of the Azure ML registry {registry.id}; "
                "its Storage account and container registry need neither keys nor public access, so nothing in "
                "it is ever loosened",
                None,
                registry=registry,
            )
        naming = [w for w in self.workspaces if w.managed_group is not None and same_name(w.managed_group, group)]
        objections = []
        for workspace in naming:
            objection = workspace.why_not_managed(group)
            if objection is None:
                return Proof(
                    group,
                    True,
                    f"resource group {group!r} is the managed resource group of workspace {workspace.id} "
                    f"(kind {workspace.kind}, customer-managed key; named {workspace.form_of(group)})",
                    Guarded.MANAGED_RG,
                    workspace=workspace,
                )
            objections.append(f"workspace {workspace.id} names it, but {objection}")
        entry = configured_entry(group, rules)
        if entry is not None:
            return Proof(
                group,
                True,
                f"resource group {group!r} is listed in GUARD_MANAGED_RESOURCE_GROUPS ({entry!r})",
                Guarded.MANAGED_RG,
            )
        if objections:
            return Proof(
                group,
                False,
                f"resource group {group!r} is not proven managed: {'; '.join(objections)}",
                Guarded.MANAGED_RG,
            )
        form = candidate_form(group)
        lookalike = candidate_form(unicodedata.normalize("NFKC", group).casefold())
        if form not in PLATFORM_FORMS and lookalike in PLATFORM_FORMS:
            return Proof(
                group,
                False,
                f"resource group {group!r} is spelled like a workspace's managed resource group ({lookalike}) only "
                "through letters that are not ASCII: made to look like one; nothing is loosened",
                Guarded.MANAGED_RG,
            )
        if form in PLATFORM_FORMS:
            return Proof(
                group,
                False,
                f"resource group {group!r} has the name of a workspace's managed resource group ({form}), but no "
                f"workspace in subscription {self.subscription} names it: left from a deleted workspace, or made "
                "to look like one; nothing is loosened",
                Guarded.MANAGED_RG,
            )
        return Proof(
            group,
            False,
            f"resource group {group!r} is not a workspace's managed resource group (no workspace in subscription "
            f"{self.subscription} names it), so its settings are the owner's choice and are never loosened",
            None,
        )


def read_inventory(arm: Arm, subscription: str) -> Inventory:
    """List the subscription's workspaces and registries (two ARM calls, and one per further page)."""
    scope = f"/subscriptions/{subscription}/providers"
    workspaces = arm.list_raw(f"{scope}/{WORKSPACE_TYPE}", API_VERSION)
    registries = arm.list_raw(f"{scope}/{REGISTRY_TYPE}", API_VERSION)
    return Inventory.from_bodies(subscription, workspaces, registries)


class WorkspaceInventory:
    """Each subscription's :class:`Inventory`, read on first need and kept ``ttl_seconds``.

    A workspace's managed group changes only when a workspace is created or deleted, so a few
    minutes' staleness costs at most a few minutes' delay before a new workspace's group is
    guarded, and a deleted one's is dropped. The cache is bounded (least recently used first
    out) and safe to share between the threads of a Functions host.
    """

    def __init__(
        self,
        arm: Arm,
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_subscriptions: int = 256,
    ) -> None:
        self.arm = arm
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max = max_subscriptions
        self._cached: OrderedDict[str, tuple[float, Inventory]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, subscription: str) -> tuple[Inventory, list[str]]:
        """The subscription's inventory, and the ARM calls reading it took now (none when cached).

        Raises :class:`remediators.arm.ArmError` when ARM cannot list them.
        """
        key = subscription.casefold()
        with self._lock:
            cached = self._cached.get(key)
            if cached is not None and self._clock() - cached[0] < self.ttl_seconds:
                self._cached.move_to_end(key)
                return cached[1], []
        return self.refresh(subscription), [f"LIST {WORKSPACE_TYPE}", f"LIST {REGISTRY_TYPE}"]

    def refresh(self, subscription: str) -> Inventory:
        """Read the subscription's inventory now, whatever is cached."""
        inventory = read_inventory(self.arm, subscription)
        self.remember(inventory)
        return inventory

    def remember(self, inventory: Inventory) -> None:
        with self._lock:
            self._cached[inventory.subscription.casefold()] = (self._clock(), inventory)
            self._cached.move_to_end(inventory.subscription.casefold())
            while len(self._cached) > self._max:
                self._cached.popitem(last=False)


def _parsed(raw_id: Any, resource_type: str) -> Any:
    try:
        parsed = parse_resource_id(raw_id)
    except InvalidResourceId:
        return None
    return parsed if parsed.is_type(resource_type) else None


def _principal_ids(identity: Any) -> tuple[str, ...]:
    ids = [lookup(identity, "principalId")]
    assigned = lookup(identity, "userAssignedIdentities")
    if isinstance(assigned, Mapping):
        ids += [lookup(value, "principalId") for value in assigned.values()]
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i.strip()))
