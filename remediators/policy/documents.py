"""Policy assignments, definitions, initiatives and exemptions, read from their ARM GET bodies.

Shapes: Azure/azure-rest-api-specs, ``Microsoft.Authorization/policy`` (PolicyAssignment.tsp,
PolicyDefinition.tsp, PolicySetDefinition.tsp, PolicyExemption.tsp and their x-ms-examples).
Built-in definitions as Azure/azure-policy publishes them carry no ``type``; a body that has one
must say what it is. Ids compare without regard to case, as ARM compares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..arm_json import MISSING, lookup, same_text
from ..resource_ids import InvalidResourceId, parse_resource_id

AUTHORIZATION = "/providers/Microsoft.Authorization/"
ASSIGNMENT_TYPE = "Microsoft.Authorization/policyAssignments"
DEFINITION_TYPE = "Microsoft.Authorization/policyDefinitions"
SET_DEFINITION_TYPE = "Microsoft.Authorization/policySetDefinitions"
EXEMPTION_TYPE = "Microsoft.Authorization/policyExemptions"


class InvalidPolicyDocument(ValueError):
    """A body that is not the policy document it was given as."""


def same_id(left: str, right: str) -> bool:
    return left.strip().rstrip("/").casefold() == right.strip().rstrip("/").casefold()


def scope_of(resource_id: str) -> str:
    """The scope of an extension resource: its id before ``/providers/Microsoft.Authorization/``
    (empty for a built-in definition, which lives at the tenant root)."""
    at = resource_id.casefold().rfind(AUTHORIZATION.casefold())
    return resource_id[:at] if at >= 0 else ""


@dataclass(frozen=True)
class Definition:
    id: str
    name: str
    display_name: str
    version: str | None  # built-ins carry one ("1.1.0"); custom definitions may not
    rule: Mapping[str, Any]  # policyRule: {"if": ..., "then": ...}
    parameters: Mapping[str, Any]  # declarations: name -> {"type", "defaultValue", "allowedValues", ...}

    @classmethod
    def from_body(cls, body: Any) -> Definition:
        id_, name, properties = _common(body, DEFINITION_TYPE)
        rule = lookup(properties, "policyRule")
        if not isinstance(rule, Mapping) or not isinstance(lookup(rule, "then"), Mapping):
            raise InvalidPolicyDocument(f"policy definition {id_} has no policyRule with a then")
        return cls(id_, name, _text(properties, "displayName", name), _version(properties), rule, _params(properties))


@dataclass(frozen=True)
class MemberReference:
    """One definition of an initiative, as the initiative refers to it."""

    definition_id: str
    reference_id: str  # policyDefinitionReferenceId: what exemptions and overrides name
    definition_version: str | None
    parameters: Mapping[str, Any]  # name -> value, often "[parameters('initiativeParameter')]"


@dataclass(frozen=True)
class SetDefinition:
    id: str
    name: str
    display_name: str
    parameters: Mapping[str, Any]
    members: tuple[MemberReference, ...]

    @classmethod
    def from_body(cls, body: Any) -> SetDefinition:
        id_, name, properties = _common(body, SET_DEFINITION_TYPE)
        raw = lookup(properties, "policyDefinitions")
        if not isinstance(raw, list) or not raw:
            raise InvalidPolicyDocument(f"initiative {id_} has no policyDefinitions")
        members = []
        for index, item in enumerate(raw):
            definition_id = lookup(item, "policyDefinitionId")
            if not isinstance(definition_id, str) or not definition_id:
                raise InvalidPolicyDocument(f"initiative {id_} member {index} has no policyDefinitionId")
            reference_id = lookup(item, "policyDefinitionReferenceId")
            members.append(
                MemberReference(
                    definition_id=definition_id,
                    reference_id=reference_id if isinstance(reference_id, str) else str(index),
                    definition_version=_optional_text(item, "definitionVersion"),
                    parameters=_values(item),
                )
            )
        return cls(id_, name, _text(properties, "displayName", name), _params(properties), tuple(members))


@dataclass(frozen=True)
class EffectOverride:
    """An assignment's ``overrides`` entry of kind ``policyEffect``."""

    effect: str
    reference_ids_in: tuple[str, ...] | None = None  # None: no such selector
    reference_ids_not_in: tuple[str, ...] | None = None
    other_selectors: bool = False  # selectors on location and the like, which only the resource can decide

    def applies_to(self, reference_id: str | None) -> bool | None:
        """Whether it changes the member's effect; ``None`` when that depends on the resource."""
        if self.other_selectors:
            return None
        ref = (reference_id or "").casefold()
        if self.reference_ids_in is not None and ref not in {r.casefold() for r in self.reference_ids_in}:
            return False
        return not (self.reference_ids_not_in is not None and ref in {r.casefold() for r in self.reference_ids_not_in})


@dataclass(frozen=True)
class Assignment:
    id: str
    name: str
    display_name: str
    scope: str
    policy_definition_id: str  # a definition or an initiative
    definition_version: str | None
    parameters: Mapping[str, Any]  # name -> value
    not_scopes: tuple[str, ...]
    enforced: bool  # enforcementMode Default; DoNotEnforce runs no effect
    overrides: tuple[EffectOverride, ...] = ()

    @property
    def of_initiative(self) -> bool:
        return "/policysetdefinitions/" in self.policy_definition_id.casefold()

    @classmethod
    def from_body(cls, body: Any) -> Assignment:
        id_, name, properties = _common(body, ASSIGNMENT_TYPE)
        definition_id = lookup(properties, "policyDefinitionId")
        if not isinstance(definition_id, str) or not definition_id:
            raise InvalidPolicyDocument(f"policy assignment {id_} has no policyDefinitionId")
        not_scopes = lookup(properties, "notScopes")
        if not_scopes in (MISSING, None):
            not_scopes = []
        if not isinstance(not_scopes, list) or not all(isinstance(s, str) for s in not_scopes):
            raise InvalidPolicyDocument(f"policy assignment {id_} has notScopes that are not a list of scopes")
        scope = lookup(properties, "scope")
        mode = lookup(properties, "enforcementMode")
        return cls(
            id=id_,
            name=name,
            display_name=_text(properties, "displayName", name),
            scope=scope if isinstance(scope, str) and scope else scope_of(id_),
            policy_definition_id=definition_id,
            definition_version=_optional_text(properties, "definitionVersion"),
            parameters=_values(properties),
            not_scopes=tuple(not_scopes),
            enforced=not (isinstance(mode, str) and mode.casefold() == "donotenforce"),
            overrides=_overrides(lookup(properties, "overrides")),
        )


EXEMPTING_CATEGORIES = ("Waiver", "Mitigated")


@dataclass(frozen=True)
class Exemption:
    id: str
    name: str
    scope: str
    assignment_id: str
    category: str
    reference_ids: tuple[str, ...]  # empty: every member of the assignment's initiative
    expires_on: datetime | None
    resource_selectors: bool = False  # narrowed to some resources by location or type

    @classmethod
    def from_body(cls, body: Any) -> Exemption:
        id_, name, properties = _common(body, EXEMPTION_TYPE)
        assignment_id = lookup(properties, "policyAssignmentId")
        if not isinstance(assignment_id, str) or not assignment_id:
            raise InvalidPolicyDocument(f"policy exemption {id_} has no policyAssignmentId")
        reference_ids = lookup(properties, "policyDefinitionReferenceIds")
        if reference_ids in (MISSING, None):
            reference_ids = []
        if not isinstance(reference_ids, list) or not all(isinstance(r, str) for r in reference_ids):
            raise InvalidPolicyDocument(f"policy exemption {id_} has policyDefinitionReferenceIds that are not strings")
        return cls(
            id=id_,
            name=name,
            scope=scope_of(id_),
            assignment_id=assignment_id,
            category=_text(properties, "exemptionCategory", ""),
            reference_ids=tuple(reference_ids),
            expires_on=_instant(id_, lookup(properties, "expiresOn")),
            resource_selectors=bool(lookup(properties, "resourceSelectors")),
        )

    def in_force(self, now: datetime) -> bool:
        """Waiver and Mitigated both exempt; an exemption past its ``expiresOn`` exempts nothing."""
        exempting = any(self.category.casefold() == c.casefold() for c in EXEMPTING_CATEGORIES)
        return exempting and (self.expires_on is None or now < self.expires_on)

    def covers_member(self, reference_id: str | None) -> bool:
        if not self.reference_ids or reference_id is None:
            return True
        return reference_id.casefold() in {r.casefold() for r in self.reference_ids}


@dataclass
class PolicyDocuments:
    """The documents one check reads, each list as given (ARM GET bodies), and what could not be read."""

    assignments: list[Assignment] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    set_definitions: list[SetDefinition] = field(default_factory=list)
    exemptions: list[Exemption] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_bodies(
        cls,
        *,
        assignments: Iterable[Any] = (),
        definitions: Iterable[Any] = (),
        set_definitions: Iterable[Any] = (),
        exemptions: Iterable[Any] = (),
    ) -> PolicyDocuments:
        """Parse every body; one that is not what its list says is a problem, and the others still count."""
        documents = cls()
        for bodies, parse, into, what in (
            (assignments, Assignment.from_body, documents.assignments, "assignments"),
            (definitions, Definition.from_body, documents.definitions, "definitions"),
            (set_definitions, SetDefinition.from_body, documents.set_definitions, "setDefinitions"),
            (exemptions, Exemption.from_body, documents.exemptions, "exemptions"),
        ):
            for index, body in enumerate(bodies):
                try:
                    into.append(parse(body))  # type: ignore[arg-type]
                except InvalidPolicyDocument as error:
                    documents.problems.append(f"{what}[{index}]: {error}")
        return documents

    def definition(self, definition_id: str, version: str | None) -> Definition | None:
        """The definition with this id; of several versions given, the newest that ``version``
        (``1.*.*``) allows, else the newest."""
        candidates = [d for d in self.definitions if same_id(d.id, definition_id)]
        matching = [d for d in candidates if version is None or _version_allows(version, d.version)]
        return max(matching or candidates, key=lambda d: _version_key(d.version), default=None)

    def set_definition(self, set_id: str) -> SetDefinition | None:
        return next((s for s in self.set_definitions if same_id(s.id, set_id)), None)


def _common(body: Any, expected_type: str) -> tuple[str, str, Mapping[str, Any]]:
    if not isinstance(body, Mapping):
        raise InvalidPolicyDocument(f"expected a {expected_type} body (a JSON object), not {type(body).__name__}")
    id_ = lookup(body, "id")
    if not isinstance(id_, str) or not id_.startswith("/"):
        raise InvalidPolicyDocument(f"a {expected_type} body needs its ARM id")
    kind = lookup(body, "type")
    if kind is not MISSING and not (isinstance(kind, str) and kind.casefold() == expected_type.casefold()):
        raise InvalidPolicyDocument(f"{id_} is a {kind}, not a {expected_type}")
    properties = lookup(body, "properties")
    if not isinstance(properties, Mapping):
        raise InvalidPolicyDocument(f"{id_} has no properties")
    name = lookup(body, "name")
    return id_, name if isinstance(name, str) and name else id_.rstrip("/").rsplit("/", 1)[-1], properties


def _text(document: Any, key: str, default: str) -> str:
    value = lookup(document, key)
    return value if isinstance(value, str) and value else default


def _optional_text(document: Any, key: str) -> str | None:
    value = lookup(document, key)
    return value if isinstance(value, str) and value else None


def _params(properties: Any) -> Mapping[str, Any]:
    declared = lookup(properties, "parameters")
    return declared if isinstance(declared, Mapping) else {}


def _values(document: Any) -> dict[str, Any]:
    """``{"name": {"value": v}}`` as ``{"name": v}``."""
    supplied = lookup(document, "parameters")
    if not isinstance(supplied, Mapping):
        return {}
    return {name: lookup(entry, "value") for name, entry in supplied.items() if lookup(entry, "value") is not MISSING}


def _overrides(raw: Any) -> tuple[EffectOverride, ...]:
    overrides = []
    for item in raw if isinstance(raw, list) else []:
        effect = lookup(item, "value")
        if not (same_text(lookup(item, "kind"), "policyEffect") and isinstance(effect, str)):
            continue
        found: dict[str, Any] = {}
        other = False
        for selector in _list(lookup(item, "selectors")):
            if same_text(lookup(selector, "kind"), "policyDefinitionReferenceId"):
                for key in ("in", "notIn"):
                    values = lookup(selector, key)
                    if isinstance(values, list):
                        found[key] = tuple(str(v) for v in values)
            else:
                other = True
        overrides.append(EffectOverride(effect, found.get("in"), found.get("notIn"), other))
    return tuple(overrides)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _instant(id_: str, value: Any) -> datetime | None:
    if value in (MISSING, None):
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidPolicyDocument(f"policy exemption {id_} has an expiresOn that is not a date and time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # ARM's times are UTC


_VERSION_PART = re.compile(r"^\d+$")


def _version(properties: Any) -> str | None:
    version = lookup(properties, "version")
    return version if isinstance(version, str) and version else None


def _version_key(version: str | None) -> tuple[int, ...]:
    if version is None:
        return ()
    return tuple(int(p) if _VERSION_PART.match(p) else -1 for p in version.split("-")[0].split("."))


def _version_allows(pattern: str, version: str | None) -> bool:
    """Whether ``1.*.*`` (or ``2.*.*-preview``) allows ``version``; a definition without one is allowed."""
    if version is None:
        return True
    wanted, actual = pattern.split("-")[0].split("."), version.split("-")[0].split(".")
    return all(w == "*" or w == a for w, a in zip(wanted, actual, strict=False))


CHECK_INPUT_KEYS = ("assignments", "definitions", "setDefinitions", "exemptions", "managedResourceGroups")


class InvalidCheckInput(ValueError):
    """The input of ``policy check`` is not the object it takes."""


def read_check_input(document: Any) -> tuple[PolicyDocuments, list[str]]:
    """``{"assignments", "definitions", "setDefinitions", "exemptions": [ARM GET bodies],
    "managedResourceGroups": [group ids]}`` as documents and the groups to check.

    Raises :class:`InvalidCheckInput` for anything but that object; a body that is not what its
    list says is a problem in the documents, and the others still count.
    """
    if not isinstance(document, Mapping):
        raise InvalidCheckInput(f"expected a JSON object with {', '.join(CHECK_INPUT_KEYS)}")
    unknown = [key for key in document if not any(same_text(key, known) for known in CHECK_INPUT_KEYS)]
    if unknown:
        raise InvalidCheckInput(f"unknown key {unknown[0]!r}: expected {', '.join(CHECK_INPUT_KEYS)}")
    lists: dict[str, list[Any]] = {}
    for key in CHECK_INPUT_KEYS:
        value = lookup(document, key)
        if value is MISSING and key == "managedResourceGroups":
            raise InvalidCheckInput("managedResourceGroups is missing: the ids of the groups to check")
        if value is MISSING:
            value = []
        if not isinstance(value, list):
            raise InvalidCheckInput(f"{key} must be a list")
        lists[key] = value
    groups = []
    for group in lists["managedResourceGroups"]:
        try:
            parsed = parse_resource_id(group)
        except InvalidResourceId as error:
            raise InvalidCheckInput(f"managedResourceGroups: {error}") from None
        if parsed.resource_group is None or parsed.resource_type is not None:
            raise InvalidCheckInput(f"managedResourceGroups: {group!r} is not a resource group's id")
        groups.append(parsed.text)
    documents = PolicyDocuments.from_bodies(
        assignments=lists["assignments"],
        definitions=lists["definitions"],
        set_definitions=lists["setDefinitions"],
        exemptions=lists["exemptions"],
    )
    return documents, groups
