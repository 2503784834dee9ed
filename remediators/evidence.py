"""Diagnostic-log evidence: requests to a guarded resource that its service refused (401 / 403).

A closed firewall on a managed Cosmos DB or Storage account *may* be harmless (a workspace with a
private endpoint keeps working), so that finding stays *suspected* until the resource's own
diagnostic logs show requests being refused; :class:`LogEvidence` asks Log Analytics for those
rows and summarises them into a few :class:`Denial` lines, which the caller passes to
``classify(..., access_denials=[d.describe() for d in denials])``.

One signature per resource type (DESIGN.md section 7), each checked against Microsoft's pages:

* Cosmos DB, ``CDBDataPlaneRequests`` (resource-specific diagnostic setting, category
  DataPlaneRequests): ``StatusCode`` 401 or 403, ``SubStatusCode``, ``AuthTokenType`` ("the
  authorization type (System Read/Write key) for this request"), ``_ResourceId``; table reference
  https://learn.microsoft.com/azure/azure-monitor/reference/tables/cdbdataplanerequests. The
  substatus codes are the service's own table, ``SubStatusCodes`` in Azure/azure-cosmos-dotnet-v3
  ``Microsoft.Azure.Cosmos/src/direct/StatusCodes.cs``: 401 ``LocalAuthDisabled = 5202``,
  ``AadAuthDisabled = 5002``, ``SasTokenAuthDisabled = 5012``; 403 ``5300``-``5306`` and ``5400``
  (RBAC). The firewall's 403 is documented without a substatus (0), saying "Request originated from
  client IP ... through public internet" (https://learn.microsoft.com/azure/cosmos-db/troubleshoot-forbidden);
  403s that are quotas or failover redirects, not refusals (1014 partition key full, 3 write
  forbidden, ...), are left out.
* AI Search, ``AzureDiagnostics`` (Search logs only in Azure Diagnostics mode) with
  ``Category == "OperationLogs"``, ``ResultSignature`` "the HTTP response status of the operation",
  ``OperationName`` such as ``Query.Search``
  (https://learn.microsoft.com/azure/search/monitor-azure-cognitive-search-data-reference).
  AzureDiagnostics upper-cases ``ResourceId``, so it is compared with ``=~``.
* Storage, ``StorageBlobLogs`` (diagnostic setting on the account's ``blobServices/default``):
  ``StatusCode`` ("The HTTP status code for the request", typed *string*: it can read
  ``Unknown``), ``StatusText`` ("The status of the requested operation", the error code such as
  ``KeyBasedAuthenticationNotPermitted`` or ``AuthorizationFailure``), ``AuthenticationType``
  (https://learn.microsoft.com/azure/azure-monitor/reference/tables/storagebloblogs; error codes:
  https://learn.microsoft.com/troubleshoot/azure/azure-storage/blobs/authentication/storage-troubleshoot-403-errors).

Status columns are compared as text (``tostring(StatusCode) in ("401", "403")``): Microsoft's
pages disagree on their types (the Search page says ``ResultSignature`` is an int, the
AzureDiagnostics table says string; StorageBlobLogs' is a string), and KQL refuses to compare a
string column with a number. Resource ids are quoted as KQL string literals, so no id can end the
literal and add its own operators.

The query runs through ``azure-monitor-query``'s ``LogsQueryClient`` (imported on first use), with
no retries: evidence is a best-effort read, and without it a finding only stays *suspected*,
which is the safe direction.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .resources.ai_search import RESOURCE_TYPE as SEARCH
from .resources.cosmos_db import RESOURCE_TYPE as COSMOS_DB
from .resources.storage_account import RESOURCE_TYPE as STORAGE

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger("foundry_guard.evidence")

DEFAULT_ENDPOINT = "https://api.loganalytics.io"
# The token audience of the public cloud's Log Analytics API. LogsQueryClient defaults the
# audience to the endpoint, which is wrong when the endpoint is the twin or a proxy.
PUBLIC_AUDIENCE = "https://api.loganalytics.io"
REFUSED = (401, 403)

# Cosmos DB substatus codes, from SubStatusCodes in azure-cosmos-dotnet-v3 (see the module doc).
_COSMOS_MEANING: dict[tuple[int, int], str] = {
    (401, 5000): "no authorization header",
    (401, 5001): "malformed authorization header",
    (401, 5002): "Entra ID auth disabled",
    **{(401, code): "Entra ID token rejected" for code in (*range(5003, 5012), 5200, 5201)},
    (401, 5012): "SAS token auth disabled",
    (401, 5202): "local auth disabled",
    (403, 0): "firewall or network rules",
    **{(403, code): "RBAC: not authorized" for code in (*range(5300, 5307), 5400)},
}
# 403s that are not a refusal of the caller: quotas, capacity, failover (the same table).
_COSMOS_NOT_REFUSALS = frozenset({3, 1005, 1008, 1009, 1010, 1011, 1014, 1019, 1020, 1021, 1028, 1029})
_STORAGE_MEANING = {
    "KeyBasedAuthenticationNotPermitted": "shared key access disallowed",
    "AuthorizationFailure": "not authorized: firewall or network rules",
    "AuthorizationPermissionMismatch": "the role or SAS lacks the permission",
    "AuthorizationSourceIPMismatch": "SAS source IP not allowed",
    "AuthenticationFailed": "signature or token rejected",
}


@dataclass(frozen=True)
class Denial:
    """One summarised group of refused requests."""

    table: str
    status: int
    detail: str  # e.g. "SubStatusCode 5202 (local auth disabled), AuthTokenType PrimaryMasterKey"
    count: int
    last_seen: str | None  # ISO 8601 UTC of the latest row, when the rows carry a time

    def describe(self) -> str:
        """One line for ``Context.access_denials`` and notifications."""
        requests = "1 request" if self.count == 1 else f"{self.count} requests"
        last_seen = self.last_seen or "unknown"
        return f"{self.table}: {requests} refused {self.status}, {self.detail}; last seen {last_seen}"


def _status_in(column: str) -> str:
    # The codes are numbers, quoted as text: see the module doc for why statuses compare as text.
    codes = ", ".join(f'"{code}"' for code in REFUSED)
    return f"tostring({column}) in ({codes})"


@dataclass(frozen=True)
class _Signature:
    table: str
    status_column: str
    where: Callable[[str], list[str]]  # resource id -> the `where` stages naming it and the refusals
    group: Callable[[Mapping[str, Any], int], str | None]  # row, status -> detail, or None: not a refusal
    anywhere: tuple[str, ...]  # the `where` stages finding refusals by any resource of the type (alerts)


def _cosmos_where(resource_id: str) -> list[str]:
    return [f"_ResourceId =~ {kql_string(resource_id)}", _status_in("StatusCode")]


def _cosmos_group(row: Mapping[str, Any], status: int) -> str | None:
    substatus = _as_int(row.get("SubStatusCode"))
    if status == 403 and substatus in _COSMOS_NOT_REFUSALS:
        return None
    if substatus is None:
        parts = ["no SubStatusCode"]
    else:
        meaning = _COSMOS_MEANING.get((status, substatus))
        parts = [f"SubStatusCode {substatus}" + (f" ({meaning})" if meaning else "")]
    token = _text(row.get("AuthTokenType"))
    if token:
        parts.append(f"AuthTokenType {token}")
    return ", ".join(parts)


def _search_where(resource_id: str) -> list[str]:
    return [
        f"ResourceId =~ {kql_string(resource_id)}",
        f'Category == "OperationLogs" and {_status_in("ResultSignature")}',
    ]


def _search_group(row: Mapping[str, Any], status: int) -> str | None:
    operation = _text(row.get("OperationName"))
    return f"OperationName {operation}" if operation else "no OperationName"


def _storage_where(resource_id: str) -> list[str]:
    # The blob service's logs name the account's blobServices/default sub-resource.
    ids = ", ".join(kql_string(text) for text in (resource_id, f"{resource_id}/blobServices/default"))
    return [f"_ResourceId in~ ({ids})", _status_in("StatusCode")]


def _storage_group(row: Mapping[str, Any], status: int) -> str | None:
    status_text = _text(row.get("StatusText"))
    parts = []
    if status_text:
        meaning = _STORAGE_MEANING.get(status_text)
        parts.append(f"StatusText {status_text}" + (f" ({meaning})" if meaning else ""))
    else:
        parts.append("no StatusText")
    authentication = _text(row.get("AuthenticationType"))
    if authentication:
        parts.append(f"AuthenticationType {authentication}")
    return ", ".join(parts)


_SIGNATURES = {
    COSMOS_DB.casefold(): _Signature(
        "CDBDataPlaneRequests",
        "StatusCode",
        _cosmos_where,
        _cosmos_group,
        anywhere=(
            _status_in("StatusCode"),
            # the 403s _cosmos_group leaves out: quotas and failover redirects, not refusals
            f'not(tostring(StatusCode) == "403" and toint(SubStatusCode) in '
            f"({', '.join(str(code) for code in sorted(_COSMOS_NOT_REFUSALS))}))",
        ),
    ),
    SEARCH.casefold(): _Signature(
        "AzureDiagnostics",
        "ResultSignature",
        _search_where,
        _search_group,
        anywhere=(
            f'ResourceProvider =~ "{SEARCH.split("/")[0]}"',  # AzureDiagnostics holds every service's logs
            f'Category == "OperationLogs" and {_status_in("ResultSignature")}',
        ),
    ),
    STORAGE.casefold(): _Signature(
        "StorageBlobLogs", "StatusCode", _storage_where, _storage_group, anywhere=(_status_in("StatusCode"),)
    ),
}


def denial_query(resource_id: str, resource_type: str, lookback_minutes: int) -> tuple[str, str] | None:
    """(table, KQL) finding the resource's refused requests of the last ``lookback_minutes``.

    None for a type without a signature. Raises ValueError for a resource id holding control
    characters (no ARM id does) or a lookback that is not a positive whole number of minutes.
    """
    signature = _SIGNATURES.get(resource_type.casefold())
    if signature is None:
        return None
    if isinstance(lookback_minutes, bool) or not isinstance(lookback_minutes, int) or lookback_minutes < 1:
        raise ValueError(f"lookback_minutes must be a positive whole number, got {lookback_minutes!r}")
    stages = [f"TimeGenerated >= ago({lookback_minutes}m)", *signature.where(resource_id)]
    return signature.table, "\n".join([signature.table, *(f"| where {stage}" for stage in stages)])


def alert_query(resource_type: str) -> tuple[str, str] | None:
    """(table, KQL) for a log search alert over the whole workspace: the type's refused requests,
    counted per ``_ResourceId``.

    The same table and refusals as :func:`denial_query` (the alert rule's window stands for the
    lookback), so an alert fires on what the evidence then confirms. The rule splits by the
    ``_ResourceId`` column, and each alert names one resource to ``POST /api/alerts``; a storage
    account's rows name its ``blobServices/default``, which the alert parser lifts to the account.
    ``infra/alerts/*.kql`` are this output, committed, and the Bicep loads them.
    """
    signature = _SIGNATURES.get(resource_type.casefold())
    if signature is None:
        return None
    stages = [*(f"| where {stage}" for stage in signature.anywhere), "| summarize Refused = count() by _ResourceId"]
    return signature.table, "\n".join([signature.table, *stages])


def kql_string(text: str) -> str:
    """``text`` as a double-quoted KQL string literal: backslash and quote escaped, nothing else special."""
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in text):
        raise ValueError(f"refusing to quote text with control characters: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def summarise(resource_type: str, rows: Iterable[Mapping[str, Any]]) -> list[Denial]:
    """Group the type's refused rows by status and what its signature says of them; most frequent first.

    A storm of thousands of rows becomes a line per (status, substatus or error code, credential).
    """
    signature = _SIGNATURES.get(resource_type.casefold())
    if signature is None:
        return []
    counts: dict[tuple[int, str], int] = {}
    latest: dict[tuple[int, str], datetime.datetime] = {}
    for row in rows:
        status = _as_int(row.get(signature.status_column))
        if status not in REFUSED:
            continue
        detail = signature.group(row, status)
        if detail is None:
            continue
        key = (status, detail)
        counts[key] = counts.get(key, 0) + 1
        moment = _moment(row.get("TimeGenerated"))
        if moment is not None and (key not in latest or moment > latest[key]):
            latest[key] = moment
    denials = [
        Denial(signature.table, status, detail, count, _iso(latest.get((status, detail))))
        for (status, detail), count in counts.items()
    ]
    return sorted(denials, key=lambda denial: (-denial.count, denial.status, denial.detail))


class LogEvidence:
    """Refused requests to a resource, read from a Log Analytics workspace."""

    def __init__(
        self,
        workspace_id: str,
        credential: TokenCredential,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        lookback_minutes: int = 60,
        connection_verify: str | bool | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        if not isinstance(workspace_id, str) or not workspace_id.strip():
            raise ValueError("workspace_id must name a Log Analytics workspace (its workspace id, a GUID)")
        if isinstance(lookback_minutes, bool) or not isinstance(lookback_minutes, int) or lookback_minutes < 1:
            raise ValueError(f"lookback_minutes must be a positive whole number, got {lookback_minutes!r}")
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds!r}")
        self.workspace_id = workspace_id.strip()
        self.endpoint = endpoint.rstrip("/")
        self.lookback_minutes = lookback_minutes
        self.timeout_seconds = timeout_seconds
        self.last_error: str | None = None  # why the last denials() call failed or was partial
        self._credential = credential
        self._connection_verify = connection_verify
        self._client: Any = None

    def denials(self, resource_id: str, resource_type: str) -> list[Denial]:
        """The resource's refused requests, summarised. Never raises: a failure returns [] and sets ``last_error``."""
        self.last_error = None
        try:
            query = denial_query(resource_id, resource_type, self.lookback_minutes)
        except ValueError as error:
            return self._failed(resource_id, str(error))
        if query is None:
            return []
        table, kql = query
        try:
            rows = self._rows(kql)
        except Exception as error:  # a failed query is evidence of nothing, whatever the reason
            return self._failed(resource_id, f"{table} query failed: {_one_line(error)}")
        return summarise(resource_type, rows)

    def _failed(self, resource_id: str, reason: str) -> list[Denial]:
        self.last_error = reason
        log.warning("no log evidence for %s: %s", resource_id, reason)
        return []

    def _rows(self, kql: str) -> list[dict[str, Any]]:
        from azure.monitor.query import LogsQueryPartialResult

        result = self._logs_client().query_workspace(
            self.workspace_id,
            kql,
            timespan=datetime.timedelta(minutes=self.lookback_minutes),  # the same window as the KQL's ago()
            server_timeout=max(1, round(self.timeout_seconds)),
            timeout=self.timeout_seconds,
        )
        if isinstance(result, LogsQueryPartialResult):
            # The rows that did come back are still refusals; say that some may be missing.
            self.last_error = f"partial result: {_one_line(result.partial_error)}"
            tables = result.partial_data
        else:
            tables = result.tables
        return [dict(zip(table.columns, row, strict=False)) for table in tables for row in table.rows]

    def _logs_client(self) -> Any:
        if self._client is None:
            from azure.monitor.query import LogsQueryClient

            options: dict[str, Any] = {}
            if self._connection_verify is not None:
                options["connection_verify"] = self._connection_verify
            self._client = LogsQueryClient(
                self._credential,
                endpoint=self.endpoint,
                audience=audience_for(self.endpoint),
                retry_total=0,
                connection_timeout=self.timeout_seconds,
                read_timeout=self.timeout_seconds,
                **options,
            )
        return self._client


def audience_for(endpoint: str) -> str:
    """The token audience for ``endpoint``: a cloud's own ``api.loganalytics.*`` host is its own
    audience (Azure Government, Azure China); anything else (the twin, a proxy) stands in for the
    public cloud's API."""
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    host = (parts.hostname or "").casefold()
    if host.startswith("api.loganalytics."):
        return f"https://{host}"
    return PUBLIC_AUDIENCE


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _moment(value: Any) -> datetime.datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _one_line(error: Any) -> str:
    """The error in one line; for the query API's answers, the status, code and innermost message."""
    name = type(error).__name__
    response = getattr(error, "response", None)
    detail = _innermost_message(response)
    if detail is not None:
        return f"{name} {getattr(response, 'status_code', '')}: {detail}"[:400]
    text = " ".join(str(getattr(error, "message", None) or error).split())
    return f"{name}: {text}"[:400] if text else name


def _innermost_message(response: Any) -> str | None:
    """``{"error": {"code", "message", "innererror": {...}}}`` -> "code: the deepest message"."""
    try:
        body = response.json()
    except Exception:  # no response, or not JSON
        return None
    node = body.get("error") if isinstance(body, dict) else None
    if not isinstance(node, dict):
        return None
    code = node.get("code")
    while isinstance(node.get("innererror"), dict):
        node = node["innererror"]
    message = " ".join(str(node.get("message") or "").split())
    return f"{code}: {message}" if code else message or None
