"""Which resources Foundry Guard guards, and why.

Two populations, with opposite fixes:

* resources in a workspace's **managed resource group**, whose fixes restore the platform's
  (looser) defaults, so recognising one wrongly would weaken a customer's own resource;
* **AI accounts** (Cognitive Services accounts of kind OpenAI or AIServices), whose fixes tighten.

A managed resource group is recognised by the platform's naming forms only when they are
unambiguous (``azureml-rg-<workspace>_<guid>``, ``azureml-<workspace>_<guid>``). The form in
Microsoft's how-to, ``<workspace resource group><guid>``, looks like any customer group that
happens to end in a GUID, so it is guarded only when named in ``GUARD_MANAGED_RESOURCE_GROUPS``.
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

_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Workspace (and hub) names: letters, digits, hyphens and underscores, starting with a letter or digit.
_WORKSPACE = r"(?P<workspace>[0-9a-z][0-9a-z_-]*)"
# Checked in order: a name of the first form also matches the second.
MANAGED_RG_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("azureml-rg-<workspace>_<guid>", re.compile(rf"^azureml-rg-{_WORKSPACE}_{_GUID}$", re.IGNORECASE)),
    ("azureml-<workspace>_<guid>", re.compile(rf"^azureml-{_WORKSPACE}_{_GUID}$", re.IGNORECASE)),
)

OPT_OUT_VALUE = "off"


class InvalidScopePattern(ValueError):
    """A configured include/exclude scope is not of the form /subscriptions/{id}[/resourceGroups/{name}...]."""


@dataclass(frozen=True)
class ScopePattern:
    """An ARM scope whose segments may hold ``*`` and ``?`` globs, matched case-insensitively.

    ``/subscriptions/*/resourceGroups/prod-*`` matches every resource in a group starting with
    ``prod-`` in any subscription; a pattern matches the resources *under* it, as ARM scopes do.
    """

    text: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ScopePattern:
        stripped = text.strip()
        segments = tuple(stripped.strip("/").casefold().split("/"))
        if not stripped.startswith("/") or len(segments) < 2 or segments[0] != "subscriptions" or "" in segments:
            raise InvalidScopePattern(
                f"{text!r} is not a scope pattern: "
                "expected /subscriptions/{id or glob}[/resourceGroups/{name or glob}]"
            )
        return cls(stripped, segments)

    def matches(self, resource_id: ResourceId) -> bool:
        target = resource_id.text.strip("/").casefold().split("/")
        if len(target) < len(self.segments):
            return False
        return all(fnmatchcase(actual, wanted) for actual, wanted in zip(target, self.segments, strict=False))


@dataclass(frozen=True)
class ScopeRules:
    """Scope as data: which groups are managed, which scopes are in or out, and the opt-out tag."""

    managed_resource_groups: tuple[str, ...] = ()  # names or globs, case-insensitive
    include: tuple[ScopePattern, ...] = ()  # empty: everything
    exclude: tuple[ScopePattern, ...] = ()  # exclude wins over include
    opt_out_tag: str = "foundry-guard"


@dataclass(frozen=True)
class ScopeDecision:
    guarded: Guarded | None
    reason: str  # why it is guarded, or why not; shown to on-call and recorded


def managed_resource_group_form(resource_group: str, rules: ScopeRules) -> str | None:
    """Which rule makes ``resource_group`` a managed resource group, or ``None``."""
    for form, pattern in MANAGED_RG_FORMS:
        if pattern.match(resource_group):
            return form
    for configured in rules.managed_resource_groups:
        if fnmatchcase(resource_group.casefold(), configured.casefold()):
            return f"GUARD_MANAGED_RESOURCE_GROUPS entry {configured!r}"
    return None


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
    form = managed_resource_group_form(group, rules) if group else None
    if form is None:
        return ScopeDecision(
            None,
            f"resource group {group!r} is not a workspace's managed resource group, so its settings are "
            "the owner's choice and are never loosened",
        )
    return ScopeDecision(
        Guarded.MANAGED_RG, f"resource group {group!r} is a workspace's managed resource group ({form})"
    )


def decide_scope(
    resource: Mapping[str, Any],
    resource_id: ResourceId,
    resource_type: str,
    guards: Guarded | None,
    rules: ScopeRules,
    *,
    treat_as_managed: bool = False,
) -> ScopeDecision:
    """Whether a resource of a type that ``guards`` one population is in it, and the reason either way.

    ``treat_as_managed`` (the CLI's ``--managed``) overrides only the group's name test: the
    exclude list and the opt-out tag still win.
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
    return decision


def parse_scope_patterns(text: str) -> tuple[ScopePattern, ...]:
    return tuple(ScopePattern.parse(item) for item in text.split(",") if item.strip())
