"""What a policy's effect does to the guarded properties of a managed resource.

- **Modify** rewrites the request: each of ``details.operations`` (``addOrReplace``, ``add``,
  ``remove``) on a guarded alias is a write, when its ``condition`` (an api-version test) lets it
  act on the guard's own PATCH.
- **Append** adds ``details`` (``[{"field", "value"}]``) to the request: a write.
- **DeployIfNotExists** deploys a template: each resource of the type in it that sets a guarded
  property is a write.
- **Deny** refuses a request its ``if`` matches: each guarded alias its ``if`` reads is refused at
  the value the guard's fix restores.
- Audit, AuditIfNotExists, Disabled, Manual and DenyAction (which only refuses deletes) change and
  refuse nothing here.

A write counts only when the value written breaks the workspace (:meth:`GuardedProperty.kind_caused`);
a value that cannot be known (an expression) is taken to break it, and says so.
Effects and their details: Microsoft's "Azure Policy definitions effect basics" pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..arm_json import MISSING, lookup
from ..findings import BreakageKind
from .guarded import GuardedProperty, guarded_property
from .rules import Facts, Unresolved, fields_supporting, resolve


class Effect(StrEnum):
    MODIFY = "Modify"
    DENY = "Deny"
    APPEND = "Append"
    DEPLOY_IF_NOT_EXISTS = "DeployIfNotExists"


HARMLESS_EFFECTS = ("Audit", "AuditIfNotExists", "Disabled", "Manual", "DenyAction")


class Action(StrEnum):
    WRITES = "writes"  # the effect sets the property to ``value``
    REFUSES = "refuses"  # the effect refuses a request that leaves the property at ``value``


@dataclass(frozen=True)
class Touch:
    """What one effect does to one guarded property."""

    property: GuardedProperty
    action: Action
    value: Any  # the value written, or the value refused
    kind: BreakageKind
    undecided: tuple[str, ...] = ()


def effect_named(name: Any) -> Effect | str:
    """The effect a name means, whatever its case (built-ins say ``deny`` and ``Deny``); the name
    itself when it is one that breaks nothing or is unknown."""
    if isinstance(name, str):
        for effect in Effect:
            if effect.value.casefold() == name.casefold():
                return effect
        return next((h for h in HARMLESS_EFFECTS if h.casefold() == name.casefold()), name)
    return str(name)


def touches(rule: Mapping[str, Any], effect: Effect, facts: Facts, api_version: str) -> list[Touch]:
    """What ``effect`` (resolved from the rule's ``then``) does to the guarded properties of the
    managed resource ``facts`` describe, for a request sent at ``api_version`` (the guard's own PATCH)."""
    resource_type, parameters = facts.resource_type, facts.parameters
    details = lookup(lookup(rule, "then"), "details")
    if effect is Effect.DENY:
        return _refused(lookup(rule, "if"), facts)
    if effect is Effect.MODIFY:
        found = []
        for operation in _list(lookup(details, "operations")):
            applies = _operation_applies(lookup(operation, "condition"), api_version)
            if applies is False:
                continue
            kind = lookup(operation, "operation")
            value = MISSING if isinstance(kind, str) and kind.casefold() == "remove" else lookup(operation, "value")
            undecided = () if applies else (f"the operation's condition {lookup(operation, 'condition')}",)
            found += _written(lookup(operation, "field"), value, resource_type, parameters, undecided)
        return found
    if effect is Effect.APPEND:
        return [
            touch
            for item in _list(details)
            for touch in _written(lookup(item, "field"), lookup(item, "value"), resource_type, parameters)
        ]
    return _deployed(details, resource_type, parameters)


def _refused(condition: Any, facts: Facts) -> list[Touch]:
    found: dict[str, Touch] = {}
    for alias in fields_supporting(condition, facts):
        guarded = guarded_property(alias)
        if guarded and guarded.resource_type.casefold() == facts.resource_type.casefold() and guarded.path not in found:
            found[guarded.path] = Touch(guarded, Action.REFUSES, guarded.platform_value, guarded.kind)
    return list(found.values())


def _written(
    alias: Any,
    value: Any,
    resource_type: str,
    parameters: Mapping[str, Any],
    undecided: tuple[str, ...] = (),
) -> list[Touch]:
    if not isinstance(alias, str):
        return []
    guarded = guarded_property(alias)
    if guarded is None or guarded.resource_type.casefold() != resource_type.casefold():
        return []
    written = resolve(value, parameters)
    if isinstance(written, Unresolved):  # taken to break it: the check errs toward "at risk"
        return [Touch(guarded, Action.WRITES, value, guarded.kind, (*undecided, f"the value written: {written.why}"))]
    value = written
    if alias.rstrip().endswith("[*]") and value is not MISSING:  # one element added to the array
        value = value if isinstance(value, list) else [value]
    elif "[*]" in alias:  # a property of every element: the array is no longer empty only if it was
        return []
    kind = guarded.kind_caused(value)
    if kind is None:
        return []
    return [Touch(guarded, Action.WRITES, None if value is MISSING else value, kind, undecided)]


_API_VERSION_AT_LEAST = re.compile(
    r"^\[\s*greaterOrEquals\(\s*requestContext\(\)\.apiVersion\s*,\s*'([^']+)'\s*\)\s*\]$", re.IGNORECASE
)


def _operation_applies(condition: Any, api_version: str) -> bool | None:
    """Whether a Modify operation's ``condition`` lets it act on a request at ``api_version``.

    Built-ins guard their operations with ``[greaterOrEquals(requestContext().apiVersion, '...')]``
    (the alias is writable from that api-version on); anything else is undecided.
    """
    if condition in (MISSING, None, True, "true"):
        return True
    match = _API_VERSION_AT_LEAST.match(condition) if isinstance(condition, str) else None
    if match is None:
        return None
    return api_version.casefold() >= match.group(1).casefold()  # ISO dates compare as text


def _deployed(details: Any, resource_type: str, parameters: Mapping[str, Any]) -> list[Touch]:
    """The guarded properties the template of a DeployIfNotExists sets on resources of the type."""
    deployment = lookup(details, "deployment", "properties")
    template_parameters = lookup(deployment, "parameters")
    found = []
    for resource in _list(lookup(deployment, "template", "resources")):
        kind = lookup(resource, "type")
        if not (isinstance(kind, str) and kind.casefold() == resource_type.casefold()):
            continue
        for path, written in _leaves(lookup(resource, "properties")):
            found += _written(
                f"{resource_type}/{path}", _template_value(written, template_parameters), resource_type, parameters
            )
    return found


def _template_value(value: Any, template_parameters: Any) -> Any:
    """A template's ``[parameters('x')]`` read from the deployment's parameters (whose values are
    often the policy's own ``[parameters('y')]``, resolved next by the caller)."""
    if isinstance(value, str):
        name = re.match(r"^\[\s*parameters\(\s*'([^']*)'\s*\)\s*\]$", value, re.IGNORECASE)
        if name:
            given = lookup(template_parameters, name.group(1), "value")
            return given if given is not MISSING else value
    return value


def _leaves(properties: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every ``(dotted path, value)`` in a template resource's properties, objects included, so a
    guarded object (``authOptions``) and a guarded leaf (``networkAcls.bypass``) are both found."""
    if not isinstance(properties, Mapping):
        return []
    found = []
    for key, value in properties.items():
        path = f"{prefix}{key}"
        found.append((path, value))
        found += _leaves(value, f"{path}.")
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
