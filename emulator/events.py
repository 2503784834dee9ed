"""The ``Microsoft.Resources.ResourceWriteSuccess`` event a subscription topic sends after a write.

Shape taken from Microsoft's sample in "Azure subscription as an Event Grid source"
(MicrosoftDocs/azure-docs, articles/event-grid/event-schema-subscriptions.md, commit
0076a623dc066a91d0839fed41aae9fe9870d745), field for field:

* top level: ``subject`` (the resource id), ``eventType``, ``eventTime`` (7 fractional digits),
  ``id``, ``data``, ``dataVersion`` "2", ``metadataVersion`` "1", ``topic`` ``/subscriptions/{id}``;
* ``data``: ``authorization`` {scope, action, evidence}, ``claims``, ``correlationId``,
  ``httpRequest`` {clientRequestId, clientIpAddress, method, url}, ``resourceProvider``,
  ``resourceUri``, ``operationName``, ``status`` "Succeeded", ``subscriptionId``, ``tenantId``.
  The page says ``httpRequest`` "is only included when updating an existing resource or deleting
  a resource", so a create has none.

``claims`` are the writer's token claims as ARM renders them: every value a string (lists joined
with commas: ``"rsa,mfa"``), and the well-known JWT claim names replaced by the long claim-type
URIs of .NET's inbound claim map, exactly as the sample shows (``oid`` ->
``http://schemas.microsoft.com/identity/claims/objectidentifier``, ``upn`` ->
``http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn``...). Claims the map does not name
(``appid``, ``idtyp``, ``name``, ``iss``...) keep their names. :func:`arm_claims` does that renaming.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .ids import ArmPath

EVENT_TYPE = "Microsoft.Resources.ResourceWriteSuccess"
CONTRIBUTOR_ROLE_DEFINITION = "b24988ac618042a0ab8820f7382dd24c"

# JWT claim name -> the claim type ARM puts in the event (.NET JwtSecurityTokenHandler's inbound map;
# each of the first eleven appears in the sample).
CLAIM_TYPES = {
    "acr": "http://schemas.microsoft.com/claims/authnclassreference",
    "amr": "http://schemas.microsoft.com/claims/authnmethodsreferences",
    "deviceid": "http://schemas.microsoft.com/2012/01/devicecontext/claims/identifier",
    "family_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "given_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "idp": "http://schemas.microsoft.com/identity/claims/identityprovider",
    "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "scp": "http://schemas.microsoft.com/identity/claims/scope",
    "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
    "unique_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "upn": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "roles": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
}


def arm_claims(token_claims: Mapping[str, Any]) -> dict[str, str]:
    """A token's claims as a ResourceWriteSuccess event carries them."""
    return {CLAIM_TYPES.get(name, name): _claim_text(value) for name, value in token_claims.items()}


def _claim_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_claim_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class Writer:
    """Who wrote, and the HTTP request they wrote with."""

    claims: Mapping[str, Any] = field(default_factory=dict)  # the bearer JWT's payload; empty if not a JWT
    method: str = "PATCH"
    url: str = ""
    client_ip: str = "127.0.0.1"
    client_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def resource_write_success(
    resource_id: str,
    parsed: ArmPath,
    writer: Writer,
    tenant_id: str,
    *,
    existed: bool,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    subscription = parsed.subscription or ""
    moment = now or datetime.datetime.now(datetime.UTC)
    data: dict[str, Any] = {
        "authorization": {
            "scope": resource_id,
            "action": parsed.operation_name,
            "evidence": _evidence(subscription, writer.claims),
        },
        "claims": arm_claims(writer.claims),
        "correlationId": writer.correlation_id,
    }
    if existed:
        data["httpRequest"] = {
            "clientRequestId": writer.client_request_id,
            "clientIpAddress": writer.client_ip,
            "method": writer.method,
            "url": writer.url,
        }
    data.update(
        {
            "resourceProvider": parsed.namespace,
            "resourceUri": resource_id,
            "operationName": parsed.operation_name,
            "status": "Succeeded",
            "subscriptionId": subscription,
            "tenantId": tenant_id,
        }
    )
    return {
        "subject": resource_id,
        "eventType": EVENT_TYPE,
        "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
        "id": str(uuid.uuid4()),
        "data": data,
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{subscription}",
    }


def _evidence(subscription: str, claims: Mapping[str, Any]) -> dict[str, str]:
    # The role assignment that allowed the write, in the ResourceActionSuccess sample's shape on the
    # same page. The twin does no RBAC: every writer holds Contributor on the subscription.
    principal_type = "User" if ("upn" in claims or "unique_name" in claims) else "ServicePrincipal"
    return {
        "role": "Contributor",
        "roleAssignmentScope": f"/subscriptions/{subscription}",
        "roleAssignmentId": uuid.uuid5(uuid.NAMESPACE_URL, f"{subscription}/{claims.get('oid', '')}").hex,
        "roleDefinitionId": CONTRIBUTOR_ROLE_DEFINITION,
        "principalId": _claim_text(claims.get("oid", "")),
        "principalType": principal_type,
    }
