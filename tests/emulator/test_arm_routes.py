"""ARM's front door and generic behaviour: authentication, api-version, 404s, PUT, PATCH merge, lists."""

from __future__ import annotations

import http.client
import ssl

from emulator import Twin

from .seeds import COSMOS, GROUP, GROUP_ID, SEARCH, STORAGE, SUBSCRIPTION, WORKSPACE

ASSIGNMENT = f"{GROUP_ID}/providers/Microsoft.Authorization/policyAssignments/cosmos-local-auth"
EXEMPTION = f"{GROUP_ID}/providers/Microsoft.Authorization/policyExemptions/foundry-guard"
MG_ASSIGNMENT = (
    "/providers/Microsoft.Management/managementGroups/contoso/providers/Microsoft.Authorization/policyAssignments/a1"
)


def _raw(
    twin: Twin, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", twin.port, context=ssl.create_default_context(cafile=twin.ca_path)
    )
    try:
        connection.request(method, path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read(), dict(answer.getheaders())
    finally:
        connection.close()


def test_serves_https_only_with_its_own_ca(twin: Twin) -> None:
    untrusted = http.client.HTTPSConnection("127.0.0.1", twin.port, context=ssl.create_default_context())
    try:
        untrusted.request("GET", "/_twin")
        raise AssertionError("a client without the twin's CA must not connect")
    except ssl.SSLCertVerificationError:
        pass
    finally:
        untrusted.close()
    status, _, _ = _raw(twin, "GET", "/_twin")
    assert status == 200


def test_refuses_requests_without_a_bearer_token(twin: Twin) -> None:
    status, body, headers = _raw(twin, "GET", f"{COSMOS}?api-version=2024-01-01")
    assert status == 401
    assert b'"code": "AuthenticationFailed"' in body
    assert headers["WWW-Authenticate"].startswith("Bearer ")
    status, _, _ = _raw(twin, "GET", f"{COSMOS}?api-version=2024-01-01", {"Authorization": "Basic abc"})
    assert status == 401


def test_refuses_expired_tokens(twin: Twin) -> None:
    answer = twin.call("GET", COSMOS, claims={"oid": "x", "exp": 1_000_000})
    assert answer.status == 401
    assert answer.json()["error"]["code"] == "ExpiredAuthenticationToken"


def test_requires_api_version(twin: Twin) -> None:
    answer = twin.call("GET", COSMOS, api_version=None)
    assert answer.status == 400
    assert answer.json() == {
        "error": {
            "code": "MissingApiVersionParameter",
            "message": "The api-version query parameter (?api-version=) is required for all requests.",
        }
    }


def test_get_finds_ids_case_insensitively_and_keeps_the_seeded_casing(twin: Twin) -> None:
    answer = twin.call("GET", COSMOS.upper().replace("PROVIDERS", "providers"), token="not-a-jwt")
    assert answer.status == 200
    assert answer.json()["id"] == COSMOS
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["x-ms-request-id"]


def test_unknown_resources_and_groups_answer_arms_404s(twin: Twin) -> None:
    missing = twin.call("GET", COSMOS + "-gone").json()["error"]
    assert missing["code"] == "ResourceNotFound"
    assert f"under resource group '{GROUP}' was not found" in missing["message"]
    no_group = twin.call("GET", COSMOS.replace(GROUP, "nope")).json()["error"]
    assert no_group == {"code": "ResourceGroupNotFound", "message": "Resource group 'nope' could not be found."}
    assert twin.call("PATCH", COSMOS + "-gone", {"tags": {}}).status == 404
    assert twin.call("GET", ASSIGNMENT).json()["error"]["code"] == "PolicyAssignmentNotFound"


def test_groups_of_seeded_resources_exist_and_can_be_read_and_written(twin: Twin) -> None:
    group = twin.call("GET", GROUP_ID).json()
    assert group["type"] == "Microsoft.Resources/resourceGroups"
    assert group["properties"]["provisioningState"] == "Succeeded"
    patched = twin.call("PATCH", GROUP_ID, {"tags": {"owner": "ml"}})
    assert patched.status == 200 and patched.json()["tags"] == {"owner": "ml"}
    created = twin.call("PUT", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-new", {"location": "westus"})
    assert created.status == 201
    assert created.json()["name"] == "rg-new"
    names = [item["name"] for item in twin.call("GET", f"/subscriptions/{SUBSCRIPTION}/resourceGroups").json()["value"]]
    assert sorted(names) == sorted([GROUP, "rg-ai", "rg-new"])


def test_put_creates_in_a_known_group_only(twin: Twin) -> None:
    new_id = STORAGE + "2"
    created = twin.call("PUT", new_id, {"location": "westus", "kind": "StorageV2", "properties": {}})
    assert created.status == 201
    assert created.json()["id"] == new_id and created.json()["name"] == "storagews2"
    assert twin.call("PUT", new_id, {"location": "westus", "properties": {}}).status == 200
    orphan = twin.call("PUT", new_id.replace(GROUP, "nope"), {"location": "westus"})
    assert orphan.json()["error"]["code"] == "ResourceGroupNotFound"


def test_patch_merges_like_arm(twin: Twin) -> None:
    answer = twin.call(
        "PATCH",
        WORKSPACE,
        {
            "id": "/ignored",
            "tags": {"added": "1"},
            "properties": {"PublicNetworkAccess": "Disabled", "newProperty": [1, 2], "description": None},
        },
    )
    assert answer.status == 200
    body = answer.json()
    assert body["id"] == WORKSPACE  # ARM's, not the body's
    properties = body["properties"]
    assert properties["publicNetworkAccess"] == "Disabled"  # matched case-insensitively, stored casing kept
    assert "PublicNetworkAccess" not in properties
    assert properties["newProperty"] == [1, 2]  # unknown properties are kept
    assert properties["description"] is None  # null is stored as null
    assert properties["friendlyName"] == "HelloName"  # untouched properties survive
    assert twin.resource(WORKSPACE) == body


def test_patch_replaces_arrays(twin: Twin) -> None:
    twin.call(
        "PATCH", SEARCH, {"properties": {"networkRuleSet": {"ipRules": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}]}}}
    )
    twin.call("PATCH", SEARCH, {"properties": {"networkRuleSet": {"ipRules": []}}})
    stored = twin.resource(SEARCH)
    assert stored is not None and stored["properties"]["networkRuleSet"]["ipRules"] == []


def test_patch_refuses_bodies_that_are_not_json_objects(twin: Twin) -> None:
    assert twin.call("PATCH", WORKSPACE, b"{not json").json()["error"]["code"] == "InvalidRequestContent"
    assert twin.call("PATCH", WORKSPACE, [1]).json()["error"]["code"] == "InvalidRequestContent"


def test_policy_assignments_and_exemptions_at_any_scope(twin: Twin) -> None:
    assignment = {"properties": {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/x"}}
    assert twin.call("PUT", ASSIGNMENT, assignment).status == 201
    exemption = {"properties": {"policyAssignmentId": ASSIGNMENT, "exemptionCategory": "Waiver"}}
    assert twin.call("PUT", EXEMPTION, exemption).status == 201
    assert twin.call("GET", EXEMPTION).json()["type"] == "Microsoft.Authorization/policyExemptions"
    on_resource = f"{COSMOS}/providers/Microsoft.Authorization/policyExemptions/one"
    assert twin.call("PUT", on_resource, exemption).status == 201
    assert twin.call("PUT", MG_ASSIGNMENT, assignment).status == 201
    assert twin.call("PATCH", MG_ASSIGNMENT, {"properties": {"notScopes": ["/x"]}}).json()["properties"][
        "notScopes"
    ] == ["/x"]
    listed = twin.call("GET", f"{GROUP_ID}/providers/Microsoft.Authorization/policyExemptions").json()["value"]
    assert [item["id"] for item in listed] == [EXEMPTION]


def test_lists_by_subscription_and_by_group(twin: Twin) -> None:
    everywhere = twin.call("GET", f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Storage/storageAccounts").json()
    assert [item["id"] for item in everywhere["value"]] == [STORAGE]
    in_group = twin.call("GET", f"{GROUP_ID}/providers/Microsoft.Search/searchServices").json()
    assert [item["id"] for item in in_group["value"]] == [SEARCH]
    elsewhere = twin.call(
        "GET", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.Search/searchServices"
    )
    assert elsewhere.json() == {"value": []}
