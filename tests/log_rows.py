"""Log Analytics rows built from Microsoft's own sample log records (``tests/fixtures/logs``).

A diagnostic setting writes a resource log record (``time``, ``resourceId``, ``properties``...);
Log Analytics stores it as a row of the table the service names, one column per field. These
helpers do that mapping for the three tables the evidence reads, keeping every value Microsoft's
sample carries and changing only what a test is about: the time, the resource, the status and
who the caller was. Columns are the published ones (``emulator/log_schemas``): the twin refuses
any other.

The credentials a test needs that the samples do not carry are Microsoft's documented examples
too: the ``AuthenticationHash`` values are the ``identity / tokenHash`` examples of the storage
log reference (MicrosoftDocs/azure-docs, ``includes/azure-storage-logs-properties-authentication.md``,
commit 03d697234d3d84e7ddcbc48d64d2bf8f738dad5f); the AI Search row is the example column of the
Search monitoring data reference's resource log schema (MicrosoftDocs/azure-docs,
``articles/search/monitor-azure-cognitive-search-data-reference.md``, commit
05964bda122f8f7c5f2a4650c00ddd78adea6ef8).
"""

from __future__ import annotations

import json
from typing import Any

from tests.payloads import FIXTURES

LOGS = FIXTURES / "logs"

# identity / tokenHash examples: an account key, and a SAS signed with key1.
ACCOUNT_KEY_HASH = "key1(5RTE343A6FEB12342672AFD40072B70D4A91BGH5CDF797EC56BF82B2C3635CE)"
SAS_HASH = (
    "key1(0A0XE8AADA354H19722ED12342443F0DC8FAF3E6GF8C8AD805DE6D563E0E5F8A),"
    "SasSignature(04D64C2B3A704145C9F1664F201123467A74D72DA72751A9137DDAA732FA03CF)"
)
# An address from the documentation range (RFC 5737) and a user agent anyone can send.
INTERNET_ADDRESS = "203.0.113.7"
ANY_USER_AGENT = "curl/8.5.0"


def _record(name: str) -> dict[str, Any]:
    return json.loads((LOGS / name).read_text(encoding="utf-8"))


def cosmos_row(time: str, resource_id: str, status: int, **columns: Any) -> dict[str, Any]:
    """Microsoft's DataPlaneRequests sample as a ``CDBDataPlaneRequests`` row (key PrimaryReadOnlyMasterKey,
    client 10.0.0.24), at ``time`` for ``resource_id`` answered ``status``; ``columns`` override."""
    record = _record("cosmos-dataplanerequests.json")
    properties = record["properties"]
    row: dict[str, Any] = {
        "TimeGenerated": time,
        "_ResourceId": resource_id.lower(),  # Log Analytics writes _ResourceId in lower case
        "OperationName": record["operationName"],
        "ActivityId": properties["activityId"],
        "RequestResourceType": properties["requestResourceType"],
        "RequestResourceId": properties["requestResourceId"],
        "StatusCode": status,
        "DurationMs": float(properties["duration"]),
        "UserAgent": properties["userAgent"],
        "ClientIpAddress": properties["clientIpAddress"],
        "RequestCharge": float(properties["requestCharge"]),
        "RequestLength": float(properties["requestLength"]),
        "ResponseLength": float(properties["responseLength"]),
        "ResourceTokenPermissionId": properties["resourceTokenPermissionId"],
        "ResourceTokenPermissionMode": properties["resourceTokenPermissionMode"],
        "ResourceTokenUserRid": properties["resourceTokenUserRid"],
        "RegionName": properties["region"],
        "PartitionId": properties["partitionId"],
        "KeyType": properties["keyType"],
        "DatabaseName": properties["databaseName"],
        "CollectionName": properties["collectionName"],
        "Type": "CDBDataPlaneRequests",
    }
    return {**row, **columns}


def anonymous_cosmos_row(time: str, resource_id: str, status: int = 403) -> dict[str, Any]:
    """The same request sent by anyone: no key, no principal, an internet address, any user agent."""
    return cosmos_row(time, resource_id, status, KeyType="", ClientIpAddress=INTERNET_ADDRESS, UserAgent=ANY_USER_AGENT)


def storage_row(time: str, resource_id: str, status: str, status_text: str, **columns: Any) -> dict[str, Any]:
    """Microsoft's blob log sample (operation, OAuth identity and service fields) as a ``StorageBlobLogs``
    row at ``time`` for ``resource_id`` (the account or its blobServices/default), answered
    ``status`` (a string column) ``status_text``; ``columns`` override."""
    operation = _record("storage-blob-operation.json")
    identity = _record("storage-blob-identity.json")["identity"]
    service = _record("storage-blob-service.json")["properties"]
    requester = identity["requester"]
    row: dict[str, Any] = {
        "TimeGenerated": time,
        "_ResourceId": resource_id.lower(),
        "Category": operation["category"],
        "OperationName": operation["operationName"],
        "OperationVersion": operation["operationVersion"],
        "SchemaVersion": operation["schemaVersion"],
        "StatusCode": status,
        "StatusText": status_text,
        "DurationMs": float(operation["durationMs"]),
        "CallerIpAddress": operation["callerIpAddress"],
        "CorrelationId": operation["correlationId"],
        "Location": operation["location"],
        "Uri": operation["uri"],
        "AuthenticationType": identity["type"],
        "AuthorizationDetails": identity["authorization"],
        "RequesterAppId": requester["appId"],
        "RequesterAudience": requester["audience"],
        "RequesterObjectId": requester["objectId"],
        "RequesterTenantId": requester["tenantId"],
        "RequesterTokenIssuer": requester["tokenIssuer"],
        "AccountName": service["accountName"],
        "UserAgentHeader": service["userAgentHeader"],
        "ReferrerHeader": service["referrerHeader"],
        "ClientRequestId": service["clientRequestId"],
        "Etag": service["etag"],
        "ServerLatencyMs": float(service["serverLatencyMs"]),
        "ServiceType": service["serviceType"],
        "OperationCount": service["operationCount"],
        "RequestHeaderSize": service["requestHeaderSize"],
        "RequestBodySize": service["requestBodySize"],
        "ResponseHeaderSize": service["responseHeaderSize"],
        "ResponseBodySize": service["responseBodySize"],
        "ContentLengthHeader": service["contentLengthHeader"],
        "RequestMd5": service["requestMd5"],
        "ResponseMd5": service["serverMd5"],
        "LastModifiedTime": service["lastModifiedTime"] or None,  # empty for this operation: a null datetime
        "ConditionsUsed": service["conditionsUsed"],
        "Type": "StorageBlobLogs",
    }
    return {**row, **columns}


def account_key(**columns: Any) -> dict[str, Any]:
    """The columns of a request signed with the account's key1 (instead of the sample's OAuth token)."""
    return {"AuthenticationType": "AccountKey", "AuthenticationHash": ACCOUNT_KEY_HASH, **_no_requester(), **columns}


def sas_from_account_key(**columns: Any) -> dict[str, Any]:
    """The columns of a request with a SAS signed by the account's key1."""
    return {"AuthenticationType": "SAS", "AuthenticationHash": SAS_HASH, **_no_requester(), **columns}


def anonymous(**columns: Any) -> dict[str, Any]:
    """The columns of a request with no credential at all, from the internet."""
    return {
        "AuthenticationType": "Anonymous",
        "CallerIpAddress": f"{INTERNET_ADDRESS}:50123",
        "UserAgentHeader": ANY_USER_AGENT,
        "AuthorizationDetails": None,
        **_no_requester(),
        **columns,
    }


def _no_requester() -> dict[str, Any]:
    return {
        "RequesterAppId": None,
        "RequesterAudience": None,
        "RequesterObjectId": None,
        "RequesterTenantId": None,
        "RequesterTokenIssuer": None,
    }


def search_row(time: str, resource_id: str, status: int, **columns: Any) -> dict[str, Any]:
    """The Search reference's example operation (Query.Search on index 'content') as an ``AzureDiagnostics``
    row at ``time`` for ``resource_id``, answered ``status`` (``resultSignature_d``, a real)."""
    row: dict[str, Any] = {
        "TimeGenerated": time,
        "_ResourceId": resource_id.lower(),
        "Resource": resource_id.rsplit("/", 1)[-1].upper(),
        "ResourceProvider": "MICROSOFT.SEARCH",
        "ResourceType": "SEARCHSERVICES",
        "Category": "OperationLogs",
        "OperationName": "Query.Search",
        "OperationVersion": "2020-06-30",
        "ResultType": "Success" if status < 400 else "Failure",
        "resultSignature_d": float(status),
        "Description_s": "GET /indexes('content')/docs",
        "Query_s": "?search=beach access&$count=true&api-version=2020-06-30",
        "IndexName_s": "content",
        "Type": "AzureDiagnostics",
    }
    return {**row, **columns}


LOG_ANALYTICS_WORKSPACE = "5f0b3c2a-1111-4a4a-9b9b-00000000e71d"  # the workspace id the tests query


def service_evidence(twin: Any) -> Any:
    """The pipeline's evidence callable as the function app builds it (``remediators.service._evidence``),
    reading the twin's Log Analytics API."""
    from remediators.arm import credential
    from remediators.service import _evidence

    options = {
        "log_analytics_workspace": LOG_ANALYTICS_WORKSPACE,
        "log_analytics_endpoint": f"{twin.arm}/v1",
        "evidence_lookback_minutes": 60,
    }
    refused = _evidence(options, credential(None))
    assert refused is not None
    return refused
