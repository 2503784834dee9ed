"""Which resources Foundry Guard guards, and why.

Two populations, with opposite fixes:

* resources in a workspace's **managed resource group**, whose fixes restore the platform's
  (looser) defaults, so recognising one wrongly would weaken a customer's own resource;
* **AI accounts** (Cognitive Services accounts of kind OpenAI or AIServices), whose fixes tighten.

A group's name only *nominates* it (:data:`CANDIDATE_FORMS`, ASCII letters only, so a look-alike
such as ``azureml-rg-w\u017f_...`` or one spelled with the Kelvin sign is no candidate of ``ws``). A
candidate becomes a managed resource group when an ARM read proves it
(:mod:`remediators.workspaces`): a customer-managed-key workspace of the same subscription names it
in ``serviceProvisionedResourceGroup`` and the name fits a form for that workspace; or an
operator lists it in ``GUARD_MANAGED_RESOURCE_GROUPS``. Names are compared ignoring the case of
ASCII letters only: ``str.casefold`` would equate U+017F (long s) with ``s`` and ``K`` (U+212A) with ``k``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .arm_json import lookup, same_text
from .findings import Guarded
from .resource_ids import ResourceId

_GUID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})"
# ASCII only: under re.IGNORECASE alone, [a-z] also matches U+017F (long s) and the Kelvin sign (U+212A).
_ASCII_IGNORING_CASE = re.ASCII | re.IGNORECASE
GUID = re.compile(rf"^{_GUID}$", _ASCII_IGNORING_CASE)
# Workspace (and hub) names: letters, digits, hyphens and underscores, starting with a letter or digit.
_WORKSPACE = r"(?P<workspace>[0-9a-z][0-9a-z_-]*)"
# The forms a managed resource group's name takes: azureml-rg-<workspace>_<guid> (Microsoft's
# concept doc), azureml-<workspace>_<guid> (seen in the field) and <workspace resource
# group><guid> (Microsoft's CMK how-to). Checked in order: a name of an earlier form also fits a later.
PLATFORM_FORMS = ("azureml-rg-<workspace>_<guid>", "azureml-<workspace>_<guid>")
CANDIDATE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (PLATFORM_FORMS[0], re.compile(rf"^azureml-rg-{_WORKSPACE}_{_GUID}$", _ASCII_IGNORING_CASE)),
    (PLATFORM_FORMS[1], re.compile(rf"^azureml-{_WORKSPACE}_{_GUID}$", _ASCII_IGNORING_CASE)),
    ("<workspace resource group><guid>", re.compile(rf"^(?P<group>.+?){_GUID}$", _ASCII_IGNORING_CASE)),
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_fold(text: str) -> str:
    """``text`` with ASCII capitals lowered and nothing else changed: how names are compared here."""
    return text.translate(_ASCII_LOWER)


def same_name(left: str, right: str) -> bool:
    return ascii_fold(left) == ascii_fold(right)


OPT_OUT_VALUE = "off"


class InvalidScopePattern(ValueError):
    """A configured include/exclude scope is not of the form /subscriptions/{id}[/resourceGroups/{name}...]."""


@dataclass(frozen=True)
class ScopePattern:
    """An ARM scope whose segments may hold ``*`` and ``?`` globs, matched ignoring ASCII case.

    ``/subscriptions/*/resourceGroups/prod-*`` matches every resource in a group starting with
    ``prod-`` in any subscription; a pattern matches the resources *under* it, as ARM scopes do.
    """

    text: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ScopePattern:
        stripped = text.strip()
        segments = tuple(ascii_fold(stripped.strip("/")).split("/"))
        if not stripped.startswith("/") or len(segments) < 2 or segments[0] != "subscriptions" or "" in segments:
            raise InvalidScopePattern(
                f"{text!r} is not a scope pattern: "
                "expected /subscriptions/{id or glob}[/resourceGroups/{name or glob}]"
            )
        return cls(stripped, segments)

    def matches(self, resource_id: ResourceId) -> bool:
        target = ascii_fold(resource_id.text.strip("/")).split("/")
        if len(target) < len(self.segments):
            return False
        return all(fnmatchcase(actual, wanted) for actual, wanted in zip(target, self.segments, strict=False))


@dataclass(frozen=True)
class ScopeRules:
    """Scope as data: which groups are managed, which scopes are in or out, and the opt-out tag."""

    managed_resource_groups: tuple[str, ...] = ()  # names or globs, ignoring ASCII case
    include: tuple[ScopePattern, ...] = ()  # empty: everything
    exclude: tuple[ScopePattern, ...] = ()  # exclude wins over include
    opt_out_tag: str = "foundry-guard"


@dataclass(frozen=True)
class ScopeDecision:
    guarded: Guarded | None
    reason: str  # why it is guarded, or why not; shown to on-call and recorded
    # False for a managed-group candidate its name alone nominates: its findings are reported,
    # but nothing is loosened until a workspace proves the group (remediators.workspaces).
    proven: bool = True


def candidate_form(resource_group: str) -> str | None:
    """The naming form that nominates ``resource_group`` as a managed resource group, or ``None``.

    A nomination only: :meth:`remediators.workspaces.Inventory.prove` decides.
    """
    for form, pattern in CANDIDATE_FORMS:
        if pattern.match(resource_group):
            return form
    return None


def configured_entry(resource_group: str, rules: ScopeRules) -> str | None:
    """The ``GUARD_MANAGED_RESOURCE_GROUPS`` entry naming ``resource_group``, or ``None``."""
    folded = ascii_fold(resource_group)
    return next((entry for entry in rules.managed_resource_groups if fnmatchcase(folded, ascii_fold(entry))), None)


def scope_by_id(
    resource_id: ResourceId,
    resource_type: str,
    guards: Guarded | None,
    rules: ScopeRules,
    *,
    treat_as_managed: bool = False,
) -> ScopeDecision:
    """What the id alone decides: the type, include/exclude, and the managed group's name.

    Lets the pipeline drop an event without reading the resource. A guarded answer here still
    depends on the body (the opt-out tag, an account's kind): see :func:`decide_scope`.
    """
    if guards is None:
        return ScopeDecision(None, f"resource type {resource_type} is not guarded")
    for pattern in rules.exclude:
        if pattern.matches(resource_id):
            return ScopeDecision(None, f"excluded by GUARD_EXCLUDE_SCOPES entry {pattern.text!r}")
    if rules.include and not any(pattern.matches(resource_id) for pattern in rules.include):
        return ScopeDecision(None, "outside every GUARD_INCLUDE_SCOPES entry")
    if guards is Guarded.AI_ACCOUNT:
        return ScopeDecision(Guarded.AI_ACCOUNT, f"{resource_type} may be an AI account")
    group = resource_id.resource_group
    if treat_as_managed:
        return ScopeDecision(Guarded.MANAGED_RG, f"resource group {group!r} treated as managed (--managed)")
    entry = configured_entry(group, rules) if group else None
    if entry is not None:
        return ScopeDecision(
            Guarded.MANAGED_RG, f"resource group {group!r} is listed in GUARD_MANAGED_RESOURCE_GROUPS ({entry!r})"
        )
    form = candidate_form(group) if group else None
    if form is None:
        return ScopeDecision(
            None,
            f"resource group {group!r} is not a workspace's managed resource group, so its settings are "
            "the owner's choice and are never loosened",
        )
    return ScopeDecision(
        Guarded.MANAGED_RG,
        f"resource group {group!r} has the name of a workspace's managed resource group ({form}); "
        "nothing is loosened until a customer-managed-key workspace is shown to name it",
        proven=False,
    )


def decide_scope(
    resource: Mapping[str, Any],
    resource_id: ResourceId,
    resource_type: str,
    guards: Guarded | None,
    rules: ScopeRules,
    *,
    treat_as_managed: bool = False,
    proof: ScopeDecision | None = None,
) -> ScopeDecision:
    """Whether a resource of a type that ``guards`` one population is in it, and the reason either way.

    ``treat_as_managed`` (the CLI's ``--managed``) overrides only the group's name test: the
    exclude list and the opt-out tag still win. ``proof`` is what an ARM read of the workspace
    inventory decided about the resource's group (:meth:`remediators.workspaces.Inventory.prove`);
    it replaces the name's nomination for a managed-group type.
    """
    if guards is None:
        return ScopeDecision(None, f"resource type {resource_type} (kind {lookup(resource, 'kind')!r}) is not guarded")
    decision = scope_by_id(resource_id, resource_type, guards, rules, treat_as_managed=treat_as_managed)
    if decision.guarded is None:
        return decision
    if same_text(lookup(resource, "tags", rules.opt_out_tag), OPT_OUT_VALUE):
        return ScopeDecision(None, f"opted out by tag {rules.opt_out_tag}={OPT_OUT_VALUE}")
    if guards is Guarded.AI_ACCOUNT:
        return ScopeDecision(Guarded.AI_ACCOUNT, f"{resource_type} of kind {lookup(resource, 'kind')} is an AI account")
    if proof is not None and not treat_as_managed:
        return proof
    return decision


def parse_scope_patterns(text: str) -> tuple[ScopePattern, ...]:
    return tuple(ScopePattern.parse(item) for item in text.split(",") if item.strip())
