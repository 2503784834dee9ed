"""The App Service managed identity endpoint, used by the real azure-identity ManagedIdentityCredential."""

from __future__ import annotations

import io

import pytest
from azure.identity import ManagedIdentityCredential
from azure.mgmt.storage import StorageManagementClient

from emulator import Twin
from emulator.tokens import read_claims

from .seeds import GROUP, SUBSCRIPTION

_OTHER_MANAGED_IDENTITY_VARIABLES = ("IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET")


@pytest.fixture
def app_service_environment(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OTHER_MANAGED_IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", twin.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", twin.identity_header)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", twin.ca_path)


@pytest.mark.usefixtures("app_service_environment")
def test_managed_identity_credential_gets_the_twins_identity_and_writes_as_it(twin: Twin) -> None:
    credential = ManagedIdentityCredential()
    token = credential.get_token(f"{twin.arm}/.default")

    claims = read_claims(token.token)
    assert claims is not None
    assert claims["aud"] == twin.arm
    assert (claims["oid"], claims["appid"], claims["idtyp"]) == (
        twin.identity.object_id,
        twin.identity.client_id,
        "app",
    )
    assert claims["tid"] == twin.identity.tenant_id
    (asked,) = twin.requests(path="/msi/token")
    assert asked.query == {"api-version": "2019-08-01", "resource": twin.arm}
    assert "x-identity-header" not in asked.headers  # a secret: never recorded

    client = StorageManagementClient(
        credential,
        SUBSCRIPTION,
        base_url=twin.arm,
        credential_scopes=[f"{twin.arm}/.default"],
        connection_verify=twin.ca_path,
    )
    client.storage_accounts.update(GROUP, "storagews", io.BytesIO(b'{"properties":{"allowSharedKeyAccess":true}}'))

    event_claims = twin.wait_for_events(1)[0]["data"]["claims"]
    assert event_claims["http://schemas.microsoft.com/identity/claims/objectidentifier"] == twin.identity.object_id
    assert event_claims["appid"] == twin.identity.client_id
    assert event_claims["idtyp"] == "app"
    assert event_claims["xms_mirid"] == twin.identity.resource_id


def test_credential_trusts_the_twin_through_connection_verify(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*_OTHER_MANAGED_IDENTITY_VARIABLES, "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", twin.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", twin.identity_header)
    credential = ManagedIdentityCredential(client_id=twin.identity.client_id, connection_verify=twin.ca_path)
    claims = read_claims(credential.get_token("https://management.azure.com/.default").token)
    assert claims is not None and claims["aud"] == "https://management.azure.com"


def test_the_endpoint_refuses_callers_without_the_header_or_for_another_identity(twin: Twin) -> None:
    query = "?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com"
    no_header = twin.call("GET", "/msi/token" + query, api_version=None)
    assert no_header.status == 401 and no_header.json()["statusCode"] == 401
    header = {"X-IDENTITY-HEADER": twin.identity_header}
    other = twin.call("GET", "/msi/token" + query + "&client_id=someone-else", api_version=None, headers=header)
    assert other.status == 400 and "No User Assigned" in other.json()["message"]
    answer = twin.call("GET", "/msi/token" + query, api_version=None, headers=header).json()
    assert set(answer) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert answer["token_type"] == "Bearer" and answer["resource"] == "https://management.azure.com"
    assert int(answer["expires_on"]) > 0
