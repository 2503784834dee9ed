"""Policy payloads for tests: Microsoft's built-in definitions and initiatives, read where they are
kept beside the project (../shared/policy-builtins, verbatim, provenance in its SOURCES.md), and
assignments and exemptions derived from the REST spec's x-ms-examples (tests/fixtures/arm/policy).

The built-ins are never copied into the project: tests that need them are marked
:data:`needs_builtins` and skip, saying why, where the folder is absent.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.payloads import MANAGED_RG, example

BUILTINS = Path(__file__).resolve().parent.parent.parent / "shared" / "policy-builtins"
needs_builtins = pytest.mark.skipif(
    not BUILTINS.is_dir(),
    reason=f"Microsoft's built-in policy definitions are not at {BUILTINS} (../shared/policy-builtins beside "
    "the project, present in CI); they are read from there, never copied into the project",
)

SUBSCRIPTION = "/subscriptions/ae640e6b-ba3e-4256-9d62-2993eecfa6f2"
GROUP = f"{SUBSCRIPTION}/resourceGroups/{MANAGED_RG}"
OTHER_GROUP = f"{SUBSCRIPTION}/resourceGroups/rg-contoso-prod"
MANAGEMENT_GROUP = "/providers/Microsoft.Management/managementGroups/contoso"

# Built-ins by what they do (names are the definitions' GUIDs, as Azure/azure-policy names them).
COSMOS_DISABLE_LOCAL_AUTH_MODIFY = "dc2d41d1-4ab1-4666-a3e1-3d51c43e0049"
COSMOS_LOCAL_AUTH_DENY = "5450f5bd-9c72-4390-a9c4-a7aba4edfdd2"
COSMOS_PUBLIC_ACCESS_MODIFY = "da69ba51-aaf1-41e5-8651-607cd0b37088"
COSMOS_PUBLIC_ACCESS_DENY = "797b37f7-06b8-444c-b1ad-fc62867f335a"
COSMOS_FIREWALL_RULES_DENY = "862e97cf-49fc-4a5c-9de4-40d4e2e7c8eb"
SEARCH_DISABLE_LOCAL_AUTH_MODIFY = "4eb216f2-9dba-4979-86e6-5d7e63ce3b75"
SEARCH_LOCAL_AUTH_DENY = "6300012e-e9a4-4649-b41f-a85f5c43be91"
SEARCH_PUBLIC_ACCESS_MODIFY = "9cee519f-d9c1-4fd9-9f79-24ec3449ed30"
SEARCH_PUBLIC_ACCESS_DENY = "ee980b6d-0eca-4501-8d54-f6290fd512c3"
STORAGE_SHARED_KEY_DENY = "8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54"
STORAGE_PUBLIC_ACCESS_MODIFY = "a06d0189-92e8-4dba-b0c4-08d7669fce7d"
STORAGE_PUBLIC_ACCESS_DENY = "b2982f36-99f2-4db5-8eff-283140c09693"
STORAGE_NETWORK_ACLS_DENY = "34c877ad-507e-4c82-993e-3452a6e0ad3c"
STORAGE_CMK_AUDIT = "6fac406b-40ca-413b-bf8e-0bf964659c25"
COGNITIVE_SERVICES_DISABLE_LOCAL_AUTH_MODIFY = "14de9e63-1b31-492e-a5a3-c3f7fd57f555"
ALLOWED_LOCATIONS = "e56962a6-4747-49cd-b67b-bf8b01975c4c"
RESOURCE_GROUP_TAG_DENY = "96670d01-0a4d-4649-9c89-2d3abc0a5025"

MCSB = "1f3afdf9-d0c9-4c3d-847f-89da613e70a8"  # Microsoft cloud security benchmark
COSMOS_MISSION_PLATFORMS = "8827e48e-f234-408b-9c00-22f6b54c8b79"
ALZ_COSMOS_GUARDRAILS = "Enforce-Guardrails-CosmosDb"  # Azure Landing Zones library form: no id


def definition_id(name: str) -> str:
    return f"/providers/Microsoft.Authorization/policyDefinitions/{name}"


def set_definition_id(name: str) -> str:
    if name == ALZ_COSMOS_GUARDRAILS:  # as the landing zone deploys it, at its management group
        return f"{MANAGEMENT_GROUP}/providers/Microsoft.Authorization/policySetDefinitions/{name}"
    return f"/providers/Microsoft.Authorization/policySetDefinitions/{name}"


def builtin_definition(name: str, version: str | None = None) -> dict[str, Any]:
    file = f"{name}@{version}.json" if version else f"{name}.json"
    path = BUILTINS / "definitions" / file
    if not path.exists():
        path = BUILTINS / "definitions" / "members" / file
    return _read(path)


def builtin_initiative(name: str) -> dict[str, Any]:
    body = _read(BUILTINS / "setDefinitions" / f"{name}.json")
    body.setdefault("id", set_definition_id(name))
    return body


def every_builtin_definition() -> list[dict[str, Any]]:
    return [_read(path) for path in sorted((BUILTINS / "definitions").rglob("*.json"))]


def every_builtin_initiative() -> list[dict[str, Any]]:
    return [builtin_initiative(path.stem) for path in sorted((BUILTINS / "setDefinitions").glob("*.json"))]


def assignment(
    policy_definition_id: str,
    *,
    name: str = "guardrails",
    scope: str = SUBSCRIPTION,
    parameters: dict[str, Any] | None = None,
    not_scopes: list[str] | None = None,
    enforcement_mode: str = "Default",
    definition_version: str = "1.*.*",
    overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Microsoft's example assignment (PolicyAssignments_Get), assigning another definition elsewhere."""
    body = example("policy/getPolicyAssignment.json")
    body["id"] = f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}"
    body["name"] = name
    properties = body["properties"]
    properties.update(
        policyDefinitionId=policy_definition_id,
        scope=scope,
        parameters={key: {"value": value} for key, value in (parameters or {}).items()},
        notScopes=not_scopes or [],
        enforcementMode=enforcement_mode,
        definitionVersion=definition_version,
    )
    if overrides is not None:
        properties["overrides"] = overrides
    return body


def exemption(
    assignment_id: str,
    *,
    name: str = "keep-keys",
    scope: str = GROUP,
    category: str = "Waiver",
    reference_ids: list[str] | None = None,
    expires_on: str | None = None,
) -> dict[str, Any]:
    """Microsoft's example exemption (PolicyExemptions_Get), for another assignment and scope."""
    body = example("policy/getPolicyExemption.json")
    body["id"] = f"{scope}/providers/Microsoft.Authorization/policyExemptions/{name}"
    body["name"] = name
    properties = body["properties"]
    properties.update(policyAssignmentId=assignment_id, exemptionCategory=category)
    if reference_ids is None:
        del properties["policyDefinitionReferenceIds"]
    else:
        properties["policyDefinitionReferenceIds"] = reference_ids
    if expires_on is not None:
        properties["expiresOn"] = expires_on
    return body


def _read(path: Path) -> dict[str, Any]:
    return copy.deepcopy(_parsed(path))


@functools.cache
def _parsed(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document
