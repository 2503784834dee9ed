"""Azure Policy's Deny and Modify effects, as far as a write through ARM sees them.

ARM evaluates policy before the resource provider sees a request: a Modify assignment rewrites the
request (so a PATCH setting ``disableLocalAuth: false`` can "succeed" and change nothing), a Deny
assignment refuses it with 403 ``RequestDisallowedByPolicy``. Modify runs before Deny.

The twin cannot evaluate real policy definitions, so a rule states its effect directly, in Azure
Policy's own vocabulary: conditions ``{"field", "equals" | "notEquals" | "in" | "notIn" | "exists"}``
on the resource as it would be after the write, and Modify operations
``{"operation": "addOrReplace" | "add" | "remove", "field", "value"}``. Fields are dotted property
paths (``properties.disableLocalAuth``), not policy aliases.

What makes an assignment not apply is modelled, because it is how the product fixes things for
good: the assignment's ``enforcementMode: DoNotEnforce``, its ``notScopes``, and a policy exemption
(``Microsoft.Authorization/policyExemptions``) at a scope containing the resource that names the
assignment and has not expired. All three are read from the twin's live state, so a PUT of an
exemption through ARM takes effect on the next write.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import ids
from .merge import get_path, remove_path, set_path
from .messages import ArmFailure
from .store import ResourceStore

ASSIGNMENT_TYPE = "Microsoft.Authorization/policyAssignments"
EXEMPTION_TYPE = "Microsoft.Authorization/policyExemptions"
_TESTS = ("equals", "notEquals", "in", "notIn", "exists")


@dataclass(frozen=True)
class Condition:
    field: tuple[str, ...]
    test: str
    value: Any

    @classmethod
    def from_json(cls, document: Any) -> Condition:
        if not isinstance(document, dict) or not isinstance(document.get("field"), str):
            raise ValueError(f"a condition is {{'field': 'properties.x', 'equals': value}}, got {document!r}")
        tests = [name for name in _TESTS if name in document]
        if len(tests) != 1 or set(document) != {"field", tests[0]}:
            raise ValueError(f"a condition names its field and exactly one of {', '.join(_TESTS)}: {document!r}")
        value = document[tests[0]]
        if tests[0] in ("in", "notIn") and not isinstance(value, list):
            raise ValueError(f"'{tests[0]}' takes a list: {document!r}")
        return cls(tuple(document["field"].split(".")), tests[0], value)

    def to_json(self) -> dict[str, Any]:
        return {"field": ".".join(self.field), self.test: self.value}

    def holds(self, resource: Any) -> bool:
        actual = get_path(resource, self.field)
        if self.test == "exists":
            return (actual is not None) == bool(self.value)
        if self.test == "equals":
            return _same(actual, self.value)
        if self.test == "notEquals":
            return not _same(actual, self.value)
        found = any(_same(actual, candidate) for candidate in self.value)
        return found if self.test == "in" else not found


def _same(actual: Any, expected: Any) -> bool:
    # Policy compares strings case-insensitively; a boolean is never equal to a number.
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


@dataclass(frozen=True)
class ModifyOperation:
    operation: str
    field: tuple[str, ...]
    value: Any = None

    @classmethod
    def from_json(cls, document: Any) -> ModifyOperation:
        if not isinstance(document, dict) or not isinstance(document.get("field"), str):
            raise ValueError(f"a modify operation is {{'operation', 'field', 'value'}}, got {document!r}")
        operation = document.get("operation", "addOrReplace")
        if operation not in ("addOrReplace", "add", "remove"):
            raise ValueError(f"modify operation must be addOrReplace, add or remove: {document!r}")
        if operation != "remove" and "value" not in document:
            raise ValueError(f"'{operation}' needs a value: {document!r}")
        return cls(operation, tuple(document["field"].split(".")), document.get("value"))

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"operation": self.operation, "field": ".".join(self.field)}
        if self.operation != "remove":
            document["value"] = self.value
        return document

    def apply(self, resource: dict[str, Any]) -> None:
        if self.operation == "remove":
            remove_path(resource, self.field)
        elif self.operation == "addOrReplace" or get_path(resource, self.field) is None:
            set_path(resource, self.field, self.value)


@dataclass(frozen=True)
class PolicyRule:
    effect: str  # "deny" | "modify"
    assignment_id: str
    conditions: tuple[Condition, ...] = ()
    operations: tuple[ModifyOperation, ...] = ()
    definition_id: str | None = None
    display_name: str | None = None

    @property
    def assignment_scope(self) -> str:
        return ids.extension_scope(self.assignment_id)

    @property
    def assignment_name(self) -> str:
        return ids.normalise(self.assignment_id).rsplit("/", 1)[-1]

    def applies_to(self, resource: Any) -> bool:
        return all(condition.holds(resource) for condition in self.conditions)

    def assignment_body(self) -> dict[str, Any]:
        """The assignment as ARM would show it, for a rule whose assignment was not seeded."""
        return {
            "id": self.assignment_id,
            "name": self.assignment_name,
            "type": ASSIGNMENT_TYPE,
            "properties": {
                "displayName": self.display_name or self.assignment_name,
                "policyDefinitionId": self.definition_id or "",
                "scope": self.assignment_scope,
                "notScopes": [],
                "parameters": {},
                "enforcementMode": "Default",
            },
        }


def is_assignment_id(resource_id: str) -> bool:
    parsed = ids.parse(resource_id)
    return parsed is not None and not parsed.collection and (parsed.type or "").casefold() == ASSIGNMENT_TYPE.casefold()


def enforced(store: ResourceStore, rule: PolicyRule, resource_id: str, now: datetime.datetime | None = None) -> bool:
    """Whether the rule's assignment applies to ``resource_id`` right now."""
    if not ids.covers(rule.assignment_scope, resource_id):
        return False
    assignment = store.get(rule.assignment_id)
    properties = assignment.get("properties") if assignment else None
    if isinstance(properties, dict):
        if str(get_path(properties, ["enforcementMode"]) or "Default").casefold() == "donotenforce":
            return False
        not_scopes = get_path(properties, ["notScopes"]) or []
        if any(isinstance(scope, str) and ids.covers(scope, resource_id) for scope in not_scopes):
            return False
    return not _exempted(store, rule.assignment_id, resource_id, now or datetime.datetime.now(datetime.UTC))


def _exempted(store: ResourceStore, assignment_id: str, resource_id: str, now: datetime.datetime) -> bool:
    wanted = ids.key_of(assignment_id)
    for body in store:
        parsed = ids.parse(body["id"])
        if parsed is None or (parsed.type or "").casefold() != EXEMPTION_TYPE.casefold():
            continue
        named = get_path(body, ["properties", "policyAssignmentId"])
        if not isinstance(named, str) or ids.key_of(named) != wanted:
            continue
        if not ids.covers(ids.extension_scope(body["id"]), resource_id):
            continue
        if not _expired(get_path(body, ["properties", "expiresOn"]), now):
            return True
    return False


def _expired(expires_on: Any, now: datetime.datetime) -> bool:
    if not isinstance(expires_on, str) or not expires_on:
        return False
    try:
        moment = datetime.datetime.fromisoformat(expires_on.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment <= now


def deny(rule: PolicyRule, store: ResourceStore, resource_id: str) -> ArmFailure:
    """ARM's refusal, naming the assignment in the message and in ``additionalInfo``."""
    assignment = store.get(rule.assignment_id) or rule.assignment_body()
    found = assignment.get("properties")
    properties: dict[str, Any] = found if isinstance(found, dict) else {}
    display = str(properties.get("displayName") or rule.display_name or rule.assignment_name)
    definition = str(properties.get("policyDefinitionId") or rule.definition_id or "")
    resource_name = ids.normalise(resource_id).rsplit("/", 1)[-1]
    identifiers = [
        {
            "policyAssignment": {"name": display, "id": assignment.get("id", rule.assignment_id)},
            "policyDefinition": {"name": definition.rsplit("/", 1)[-1], "id": definition},
        }
    ]
    message = (
        f"Resource '{resource_name}' was disallowed by policy. "
        f"Policy identifiers: '{json.dumps(identifiers, separators=(',', ':'))}'."
    )
    info = {
        "type": "PolicyViolation",
        "info": {
            "policyDefinitionId": definition,
            "policyDefinitionName": definition.rsplit("/", 1)[-1],
            "policyDefinitionEffect": "deny",
            "policyAssignmentId": assignment.get("id", rule.assignment_id),
            "policyAssignmentName": rule.assignment_name,
            "policyAssignmentDisplayName": display,
            "policyAssignmentScope": rule.assignment_scope,
        },
    }
    return ArmFailure(403, "RequestDisallowedByPolicy", message, target=resource_name, additional_info=[info])


def parse_conditions(documents: Iterable[Any]) -> tuple[Condition, ...]:
    return tuple(Condition.from_json(document) for document in documents)


def parse_operations(documents: Iterable[Any]) -> tuple[ModifyOperation, ...]:
    return tuple(ModifyOperation.from_json(document) for document in documents)


def rule_to_json(rule: PolicyRule) -> Mapping[str, Any]:
    document: dict[str, Any] = {"policyAssignmentId": rule.assignment_id}
    if rule.conditions:
        document["if"] = [condition.to_json() for condition in rule.conditions]
    if rule.operations:
        document["operations"] = [operation.to_json() for operation in rule.operations]
    if rule.definition_id:
        document["policyDefinitionId"] = rule.definition_id
    if rule.display_name:
        document["displayName"] = rule.display_name
    return document
