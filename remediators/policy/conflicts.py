"""Which assignment would break which managed resource group, and the exemption that would stop it.

Every assignment given is taken to apply at its scope, as ARM's list for a scope returns the
ones inherited from above: an assignment at a management group covers every managed group (the
hierarchy is not in the input). A subscription or resource group scope covers a group when it
contains it by whole path segments, ignoring case (``.../resourceGroups/azureml-rg-ws1`` does not
contain ``.../resourceGroups/azureml-rg-ws1_<guid>``). ``notScopes`` exclude the groups they
contain; a management group in ``notScopes`` is not known to hold the group, so it excludes
nothing. An exemption for the assignment (and the member, for an initiative) at or above the
group, Waiver or Mitigated and not past its ``expiresOn``, stops the conflict; one narrowed by
``resourceSelectors`` is not known to cover the group's resources and stops nothing.
``enforcementMode: DoNotEnforce`` runs no effect: its conflicts are reported as not enforced.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..arm_json import lookup
from .documents import Assignment, Definition, Exemption, PolicyDocuments, same_id
from .effects import Effect, Touch, effect_named, touches
from .guarded import MANAGED_TYPES, guarded_properties, platform_values
from .rules import Facts, Unresolved, evaluate, parameter_values, resolve

# PolicyExemptions is a preview-only resource type; this is the version `az policy exemption` uses.
EXEMPTION_API_VERSION = "2022-07-01-preview"
EXEMPTION_NAME_PREFIX = "foundry-guard-"


@dataclass(frozen=True)
class Member:
    """A definition as one assignment runs it: with its reference id in the initiative (if any),
    its parameters resolved, and the effect those make it take."""

    reference_id: str | None
    definition: Definition
    parameters: Mapping[str, Any]
    effect: Effect | str
    undecided: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExemptionProposal:
    """The exemption that stops an assignment breaking a managed group: a Waiver on the group, for
    the members of an initiative that break it."""

    scope: str  # the managed resource group
    assignment: Assignment
    reference_ids: tuple[str, ...]  # empty for an assignment of a single definition
    breakage: tuple[str, ...]  # "writes disableLocalAuth true on databaseAccounts (local_auth_disabled)"

    @property
    def name(self) -> str:
        # Stable, so proposing twice proposes the same exemption; 14 + 16 characters of the 64 allowed.
        digest = hashlib.sha256(self.assignment.id.casefold().encode("utf-8")).hexdigest()
        return f"{EXEMPTION_NAME_PREFIX}{digest[:16]}"

    @property
    def id(self) -> str:
        return f"{self.scope}/providers/Microsoft.Authorization/policyExemptions/{self.name}"

    @property
    def display_name(self) -> str:
        return f"Foundry Guard: {self.scope.rsplit('/', 1)[-1]} keeps its platform settings"[:128]

    @property
    def description(self) -> str:
        group = self.scope.rsplit("/", 1)[-1]
        return (
            f"{group} is the managed resource group of an Azure ML workspace, which needs the platform "
            f'settings there. Policy assignment "{self.assignment.display_name}" would break it: '
            f"{'; '.join(self.breakage)}."
        )[:1024]

    def body(self) -> dict[str, Any]:
        """The exact PUT body: ``PUT {id}?api-version=2022-07-01-preview``."""
        properties: dict[str, Any] = {
            "policyAssignmentId": self.assignment.id,
            "exemptionCategory": "Waiver",
            "displayName": self.display_name,
            "description": self.description,
            "metadata": {"proposedBy": "Foundry Guard"},
        }
        if self.reference_ids:
            properties["policyDefinitionReferenceIds"] = list(self.reference_ids)
        return {"properties": properties}

    def command(self) -> str:
        """The same exemption made by hand with the Azure CLI."""
        words = ["az", "policy", "exemption", "create", "--name", self.name, "--scope", self.scope]
        words += ["--policy-assignment", self.assignment.id, "--exemption-category", "Waiver"]
        words += ["--display-name", self.display_name, "--description", self.description]
        if self.reference_ids:
            words += ["--policy-definition-reference-ids", *self.reference_ids]
        return shlex.join(words)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "PUT",
            "id": self.id,
            "apiVersion": EXEMPTION_API_VERSION,
            "body": self.body(),
            "command": self.command(),
        }


@dataclass(frozen=True)
class Conflict:
    """One assignment, one managed group, one guarded property its effect writes or refuses."""

    assignment: Assignment
    member: Member
    touch: Touch
    resource_group: str
    exemption: Exemption | None  # the one in force that stops it
    undecided: tuple[str, ...]  # conditions that could not be decided without the resource
    proposal: ExemptionProposal | None = None  # None when exempted or not enforced

    @property
    def breaks(self) -> bool:
        """Whether it breaks the group now: enforced and not exempted."""
        return self.assignment.enforced and self.exemption is None

    def to_json(self) -> dict[str, Any]:
        touch = self.touch
        return {
            "assignmentId": self.assignment.id,
            "assignmentName": self.assignment.name,
            "assignmentDisplayName": self.assignment.display_name,
            "assignmentScope": self.assignment.scope,
            "definitionId": self.member.definition.id,
            "definitionName": self.member.definition.display_name,
            "definitionVersion": self.member.definition.version,
            "definitionReferenceId": self.member.reference_id,
            "effect": str(self.member.effect),
            "action": str(touch.action),
            "resourceType": touch.property.resource_type,
            "property": touch.property.path,
            "value": touch.value,
            "kind": str(touch.kind),
            "resourceGroup": self.resource_group,
            "enforced": self.assignment.enforced,
            "exempted": self.exemption is not None,
            "exemptionId": self.exemption.id if self.exemption else None,
            "undecided": list(self.undecided),
            "proposal": self.proposal.to_json() if self.proposal else None,
        }


@dataclass
class Report:
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be evaluated, one line each


def find_conflicts(documents: PolicyDocuments, managed_groups: Sequence[str], now: datetime) -> Report:
    """Every (assignment, managed group, guarded property) an effect writes or refuses, in input order.

    ``now`` decides which exemptions have expired. Conflicts of assignments that are not enforced
    and of exempted groups are reported too, marked so (:attr:`Conflict.breaks`).
    """
    report = Report(problems=list(documents.problems))
    for assignment in documents.assignments:
        members, problems = assignment_members(assignment, documents)
        report.problems += problems
        for group in managed_groups:
            if covers(assignment, group):
                report.conflicts += _conflicts_in_group(assignment, members, group, documents.exemptions, now)
    return report


def assignment_members(assignment: Assignment, documents: PolicyDocuments) -> tuple[list[Member], list[str]]:
    """The definitions an assignment runs, each with its parameters and effect, and what is missing."""
    if not assignment.of_initiative:
        definition = documents.definition(assignment.policy_definition_id, assignment.definition_version)
        if definition is None:
            missing = f"its definition {assignment.policy_definition_id} is not in the input"
            return [], [f"assignment {assignment.id}: {missing}"]
        parameters = parameter_values(definition.parameters, assignment.parameters)
        return [_member(assignment, None, definition, parameters)], []
    initiative = documents.set_definition(assignment.policy_definition_id)
    if initiative is None:
        return [], [f"assignment {assignment.id}: its initiative {assignment.policy_definition_id} is not in the input"]
    initiative_values = parameter_values(initiative.parameters, assignment.parameters)
    members, problems = [], []
    for reference in initiative.members:
        definition = documents.definition(reference.definition_id, reference.definition_version)
        if definition is None:
            problems.append(
                f"assignment {assignment.id}: member {reference.reference_id} of initiative {initiative.id}: "
                f"its definition {reference.definition_id} is not in the input"
            )
            continue
        supplied = {name: resolve(value, initiative_values) for name, value in reference.parameters.items()}
        parameters = parameter_values(definition.parameters, supplied)
        members.append(_member(assignment, reference.reference_id, definition, parameters))
    return members, problems


def covers(assignment: Assignment, group: str) -> bool:
    """Whether the assignment's scope holds the group and no ``notScopes`` entry takes it out."""
    if not (is_management_group(assignment.scope) or contains(assignment.scope, group)):
        return False
    return not any(contains(scope, group) for scope in assignment.not_scopes if not is_management_group(scope))


def contains(outer: str, inner: str) -> bool:
    """Whether scope ``outer`` is ``inner`` or above it, by whole path segments, ignoring case."""
    above, below = _segments(outer), _segments(inner)
    return len(above) <= len(below) and below[: len(above)] == above


def is_management_group(scope: str) -> bool:
    return _segments(scope)[:3] == ["providers", "microsoft.management", "managementgroups"]


def exemption_for(
    exemptions: Iterable[Exemption], assignment: Assignment, reference_id: str | None, group: str, now: datetime
) -> Exemption | None:
    """The exemption in force that takes ``group`` out of the assignment (or of one of its members)."""
    for exemption in exemptions:
        if (
            same_id(exemption.assignment_id, assignment.id)
            and exemption.in_force(now)
            and exemption.covers_member(reference_id)
            and not exemption.resource_selectors
            and (is_management_group(exemption.scope) or contains(exemption.scope, group))
        ):
            return exemption
    return None


def _member(assignment: Assignment, reference_id: str | None, definition: Definition, parameters: Any) -> Member:
    """The effect as the definition's ``then`` names it, with the assignment's ``overrides`` applied."""
    effect = resolve(lookup(definition.rule, "then", "effect"), parameters)
    undecided: tuple[str, ...] = ()
    for override in assignment.overrides:
        applies = override.applies_to(reference_id)
        if applies is None:
            # Selectors on location and the like: err toward "at risk", taking it only if it breaks.
            undecided += (f"an override to {override.effect} whose selectors depend on the resource",)
            applies = isinstance(effect_named(override.effect), Effect)
        if applies:
            effect = override.effect
    if isinstance(effect, Unresolved):
        # Err toward "at risk": the effect its details are written for.
        undecided += (f"the effect: {effect.why}",)
        return Member(reference_id, definition, parameters, _effect_by_details(definition), undecided)
    return Member(reference_id, definition, parameters, effect_named(effect), undecided)


def _effect_by_details(definition: Definition) -> Effect:
    details = lookup(definition.rule, "then", "details")
    if isinstance(details, list):
        return Effect.APPEND
    if isinstance(lookup(details, "operations"), list):
        return Effect.MODIFY
    if isinstance(lookup(details, "deployment"), Mapping):
        return Effect.DEPLOY_IF_NOT_EXISTS
    return Effect.DENY


def _conflicts_in_group(
    assignment: Assignment, members: list[Member], group: str, exemptions: list[Exemption], now: datetime
) -> list[Conflict]:
    found: list[Conflict] = []
    for member in members:
        if not isinstance(member.effect, Effect):
            continue  # Audit, Disabled and the like change and refuse nothing
        exemption = exemption_for(exemptions, assignment, member.reference_id, group, now)
        for resource_type in MANAGED_TYPES:
            facts = Facts(resource_type, platform_values(resource_type), member.parameters)
            decision = evaluate(lookup(member.definition.rule, "if"), facts)
            if not decision.may_hold:
                continue
            api_version = guarded_properties(resource_type)[0].remediator.api_version
            for touch in touches(member.definition.rule, member.effect, facts, api_version):
                undecided = tuple(dict.fromkeys((*member.undecided, *decision.undecided, *touch.undecided)))
                found.append(Conflict(assignment, member, touch, group, exemption, undecided))
    breaking = [c for c in found if c.breaks]
    if not breaking:
        return found
    proposal = ExemptionProposal(
        scope=group,
        assignment=assignment,
        reference_ids=tuple(dict.fromkeys(c.member.reference_id for c in breaking if c.member.reference_id)),
        breakage=tuple(dict.fromkeys(_breakage(c.touch) for c in breaking)),
    )
    return [replace(c, proposal=proposal) if c.breaks else c for c in found]


def _breakage(touch: Touch) -> str:
    value = json.dumps(touch.value, separators=(",", ":"))
    type_name = touch.property.resource_type.rsplit("/", 1)[-1]
    return f"{touch.action} {touch.property.path} {value} on {type_name} ({touch.kind})"


def _segments(scope: str) -> list[str]:
    return [segment.casefold() for segment in scope.strip().split("/") if segment]
