"""Diagnostic-log evidence: requests to a guarded resource that its service refused (401 / 403), and who sent them.

A closed firewall on a managed Cosmos DB or Storage account *may* be harmless (a workspace with a
private endpoint keeps working), so that finding stays *suspected* until the resource's own
diagnostic logs show **the workspace's own** requests being refused. :class:`LogEvidence` asks Log
Analytics for the refused rows and summarises them into a few :class:`Denial` lines, each saying
whether the refused caller was the workspace (``workspace_traffic``) and why. Anyone on the
internet can make a request fail with 403, so an anonymous or unknown caller's refusal is kept as
context and never confirms anything (``remediators/service.py`` passes only the workspace's 403s
as confirming lines, :class:`remediators.remediator.ConfirmingDenial`).

What proves a refused request was the workspace's, per table, from the columns Microsoft publishes
(the twin holds the same lists, ``emulator/log_schemas/``, and refuses a query naming any other):

* Cosmos DB, ``CDBDataPlaneRequests`` (resource-specific, category DataPlaneRequests;
  https://learn.microsoft.com/azure/azure-monitor/reference/tables/cdbdataplanerequests):
  ``AuthTokenType`` "the authorization type (System Read/Write key) for this request" (gateway
  mode, REST) or ``KeyType`` "(Primary/Secondary Read/Write key)" (direct mode) naming one of the
  account's keys (``PrimaryMasterKey``, ``SecondaryMasterKey``, ``PrimaryReadOnlyMasterKey``,
  ``SecondaryReadOnlyMasterKey``: Microsoft's sample DataPlaneRequests row reads
  ``"keyType": "PrimaryReadOnlyMasterKey"``): the service can only name the key whose signature
  matched, so the caller held the key. Or ``AadPrincipalId`` "the AAD Principal ID of the caller"
  being one of the workspace's identities. The table has **no** ``SubStatusCode``: the 401
  substatus 5202 "Local Authorization is disabled" is in the response to the client (Microsoft's
  container copy page quotes it), not in the log; a 401 with a named key is that refusal when the
  account's ``disableLocalAuth`` is true, which the property itself already proves.
* Storage, ``StorageBlobLogs`` (diagnostic setting on ``blobServices/default``;
  https://learn.microsoft.com/azure/azure-monitor/reference/tables/storagebloblogs):
  ``AuthenticationType`` ``AccountKey`` or ``SAS`` (the values Microsoft's shared-key query
  filters) with ``AuthenticationHash`` naming ``key1(...)`` or ``key2(...)``: Microsoft's log
  reference says the hash is "key1 | key2 (SHA256 hash of the key)" for an account key and the same
  plus ``SasSignature(...)`` for a SAS, so it names the account key that signed the request. Or
  ``AuthenticationType`` ``OAuth`` with ``RequesterObjectId`` "the OAuth object ID of the
  requester" being one of the workspace's identities. ``StatusCode`` is a *string* ("it can read
  Unknown"), ``StatusText`` the error code (``KeyBasedAuthenticationNotPermitted``,
  ``AuthorizationFailure``, ...; error codes:
  https://learn.microsoft.com/troubleshoot/azure/azure-storage/blobs/authentication/storage-troubleshoot-403-errors).
  ``AuthenticationFailed`` means the credential itself was rejected: it proves nothing.
* AI Search, ``AzureDiagnostics`` (Search logs only in Azure Diagnostics mode) with
  ``Category == "OperationLogs"``; the status is ``resultSignature_d``, the column Microsoft's own
  Search queries read (``AzureDiagnostics`` already has a string ``ResultSignature``, so Search's
  numeric "HTTP result code" lands in ``resultSignature_d``). The Search log publishes no column
  naming the caller, so no Search refusal counts; none needs to (a locked Search firewall is
  confirmed from the property alone).

The caller's address (``ClientIpAddress``, ``CallerIpAddress``) and user agent (``UserAgent``,
``UserAgentHeader``) prove nothing: anyone can send from anywhere with any user agent, Azure ML's
included. Comparisons use each column's published type (``StatusCode in (401, 403)`` on an int,
``StatusCode in ("401", "403")`` on a string, ``resultSignature_d in (401, 403)`` on a real);
resource ids are compared ignoring case and quoted as KQL string literals, so no id can end the
literal and add its own operators.

The query runs through ``azure-monitor-query``'s ``LogsQueryClient`` (imported on first use), with
no retries: evidence is a best-effort read, and without it a finding only stays *suspected*,
which is the safe direction.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
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

# The Cosmos DB account keys, as ARM's listKeys names them (and the log's AuthTokenType / KeyType).
_COSMOS_KEYS = frozenset(
    key.casefold()
    for key in ("PrimaryMasterKey", "SecondaryMasterKey", "PrimaryReadOnlyMasterKey", "SecondaryReadOnlyMasterKey")
)
_COSMOS_MEANING = {401: "unauthorized", 403: "forbidden (firewall, network rules or data-plane RBAC)"}
_STORAGE_KEY_SIGNED = frozenset({"accountkey", "sas"})
_STORAGE_MEANING = {
    "KeyBasedAuthenticationNotPermitted": "shared key access disallowed",
    "AuthorizationFailure": "not authorized: firewall or network rules",
    "AuthorizationPermissionMismatch": "the role or SAS lacks the permission",
    "AuthorizationSourceIPMismatch": "SAS source IP not allowed",
    "AuthenticationFailed": "signature or token rejected",
}
_ANONYMOUS = "anonymous: no key, no principal"


@dataclass(frozen=True)
class Caller:
    """Who a refused request came from, as far as its row proves."""

    workspace_traffic: bool  # signed with the resource's key, or by one of the workspace's identities
    why: str  # the column and value that show it, or what is missing


@dataclass(frozen=True)
class Denial:
    """One summarised group of refused requests: what was refused, and whether the caller was the workspace."""

    table: str
    status: int
    detail: str  # what the service said, e.g. "StatusText AuthorizationFailure (not authorized: ...)"
    caller: Caller
    count: int
    last_seen: str | None  # ISO 8601 UTC of the latest row, when the rows carry a time

    @property
    def workspace_traffic(self) -> bool:
        """The refused requests were the workspace's own: only such a denial may confirm a suspicion."""
        return self.caller.workspace_traffic

    def describe(self) -> str:
        """One line for ``Context.access_denials`` and notifications; it says whether it counts."""
        requests = "1 request" if self.count == 1 else f"{self.count} requests"
        last_seen = self.last_seen or "unknown"
        whose = (
            f"the workspace's traffic: {self.caller.why}"
            if self.caller.workspace_traffic
            else f"not the workspace's traffic, listed only (counts for nothing): {self.caller.why}"
        )
        return f"{self.table}: {requests} refused {self.status}, {self.detail}; {whose}; last seen {last_seen}"


def _status_in(column: str, as_text: bool = False) -> str:
    # Compared in the column's published type: KQL refuses to compare a string with a number.
    codes = ", ".join(f'"{code}"' if as_text else str(code) for code in REFUSED)
    return f"{column} in ({codes})"


@dataclass(frozen=True)
class _Signature:
    table: str
    status_column: str
    where: Callable[[str], list[str]]  # resource id -> the `where` stages naming it and the refusals
    detail: Callable[[Mapping[str, Any], int], str]  # row, status -> what the service said
    caller: Callable[[Mapping[str, Any], frozenset[str]], Caller]  # row, trusted principals -> who
    anywhere: tuple[str, ...]  # the `where` stages finding refusals by any resource of the type (alerts)


def _cosmos_where(resource_id: str) -> list[str]:
    return [f"_ResourceId =~ {kql_string(resource_id)}", _status_in("StatusCode")]


def _cosmos_detail(row: Mapping[str, Any], status: int) -> str:
    return _COSMOS_MEANING[status]


def _cosmos_caller(row: Mapping[str, Any], trusted: frozenset[str]) -> Caller:
    for column in ("AuthTokenType", "KeyType"):
        key = _text(row.get(column))
        if key.casefold() in _COSMOS_KEYS:
            return Caller(True, f"signed with the account's key ({column} {key})")
    principal = _text(row.get("AadPrincipalId"))
    if principal:
        if principal.casefold() in trusted:
            return Caller(True, f"the workspace's identity (AadPrincipalId {principal})")
        return Caller(False, f"AadPrincipalId {principal} is not one of the workspace's identities")
    claimed = [f"{column} {value}" for column in ("AuthTokenType", "KeyType") if (value := _text(row.get(column)))]
    if claimed:
        return Caller(False, f"{', '.join(claimed)}: not one of the account's keys, and no principal")
    return Caller(False, _ANONYMOUS)


def _search_where(resource_id: str) -> list[str]:
    return [
        f"_ResourceId =~ {kql_string(resource_id)}",
        f'Category == "OperationLogs" and {_status_in("resultSignature_d")}',
    ]


def _search_detail(row: Mapping[str, Any], status: int) -> str:
    operation = _text(row.get("OperationName"))
    return f"OperationName {operation}" if operation else "no OperationName"


def _search_caller(row: Mapping[str, Any], trusted: frozenset[str]) -> Caller:
    return Caller(False, "the Search log names no caller (no key, principal or address column)")


def _storage_where(resource_id: str) -> list[str]:
    # The blob service's logs name the account's blobServices/default sub-resource.
    ids = ", ".join(kql_string(text) for text in (resource_id, f"{resource_id}/blobServices/default"))
    return [f"_ResourceId in~ ({ids})", _status_in("StatusCode", as_text=True)]


def _storage_detail(row: Mapping[str, Any], status: int) -> str:
    status_text = _text(row.get("StatusText"))
    if not status_text:
        return "no StatusText"
    meaning = _STORAGE_MEANING.get(status_text)
    return f"StatusText {status_text}" + (f" ({meaning})" if meaning else "")


def _storage_caller(row: Mapping[str, Any], trusted: frozenset[str]) -> Caller:
    authentication = _text(row.get("AuthenticationType"))
    kind = authentication.casefold()
    if _text(row.get("StatusText")) == "AuthenticationFailed":
        return Caller(False, f"AuthenticationType {authentication or 'none'} rejected: the credential proves nothing")
    if kind in _STORAGE_KEY_SIGNED:
        # "key1(<hash>)" or "key2(<hash>)[,SasSignature(<hash>)]": the account key the signature matched.
        key = _text(row.get("AuthenticationHash")).split("(", 1)[0].casefold()
        if key in ("key1", "key2"):
            return Caller(True, f"signed with the account's key (AuthenticationType {authentication}, {key})")
        return Caller(False, f"AuthenticationType {authentication} with no account key named in AuthenticationHash")
    if kind == "oauth":
        principal = _text(row.get("RequesterObjectId"))
        if principal and principal.casefold() in trusted:
            return Caller(True, f"the workspace's identity (RequesterObjectId {principal})")
        return Caller(False, f"RequesterObjectId {principal or 'none'} is not one of the workspace's identities")
    if kind in ("", "anonymous"):
        return Caller(False, _ANONYMOUS)
    return Caller(False, f"AuthenticationType {authentication}: neither the account's key nor the workspace's identity")


_SIGNATURES = {
    COSMOS_DB.casefold(): _Signature(
        "CDBDataPlaneRequests",
        "StatusCode",
        _cosmos_where,
        _cosmos_detail,
        _cosmos_caller,
        anywhere=(_status_in("StatusCode"),),
    ),
    SEARCH.casefold(): _Signature(
        "AzureDiagnostics",
        "resultSignature_d",
        _search_where,
        _search_detail,
        _search_caller,
        anywhere=(
            f'ResourceProvider =~ "{SEARCH.split("/")[0]}"',  # AzureDiagnostics holds every service's logs
            f'Category == "OperationLogs" and {_status_in("resultSignature_d")}',
        ),
    ),
    STORAGE.casefold(): _Signature(
        "StorageBlobLogs",
        "StatusCode",
        _storage_where,
        _storage_detail,
        _storage_caller,
        anywhere=(_status_in("StatusCode", as_text=True),),
    ),
}


def denial_query(resource_id: str, resource_type: str, lookback_minutes: int) -> tuple[str, str] | None:
    """(table, KQL) finding the resource's refused requests of the last ``lookback_minutes``, whoever sent them.

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
    lookback): an alert only makes the guard look; the evidence then decides which refusals were
    the workspace's own, so an anonymous storm that fires the alert still confirms nothing. The
    rule splits by the ``_ResourceId`` column, and each alert names one resource to
    ``POST /api/alerts``; a storage account's rows name its ``blobServices/default``, which the
    alert parser lifts to the account. ``infra/alerts/*.kql`` are this output, committed, and the
    Bicep loads them.
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


def summarise(
    resource_type: str, rows: Iterable[Mapping[str, Any]], *, trusted_principals: Collection[str] = frozenset()
) -> list[Denial]:
    """Group the type's refused rows by status, what the service said, and who the caller was.

    The workspace's own refusals come first, then the rest, each most frequent first. A storm of
    thousands of rows becomes a line per (status, error, caller). ``trusted_principals`` are the
    workspace's identities (object ids; compared ignoring case).
    """
    signature = _SIGNATURES.get(resource_type.casefold())
    if signature is None:
        return []
    trusted = frozenset(principal.strip().casefold() for principal in trusted_principals if principal.strip())
    counts: dict[tuple[int, str, Caller], int] = {}
    latest: dict[tuple[int, str, Caller], datetime.datetime] = {}
    for row in rows:
        status = _as_int(row.get(signature.status_column))
        if status not in REFUSED:
            continue
        key = (status, signature.detail(row, status), signature.caller(row, trusted))
        counts[key] = counts.get(key, 0) + 1
        moment = _moment(row.get("TimeGenerated"))
        if moment is not None and (key not in latest or moment > latest[key]):
            latest[key] = moment
    denials = [
        Denial(signature.table, status, detail, caller, count, _iso(latest.get((status, detail, caller))))
        for (status, detail, caller), count in counts.items()
    ]
    return sorted(denials, key=lambda d: (not d.workspace_traffic, -d.count, d.status, d.detail, d.caller.why))


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
        # Empty is the public cloud's endpoint: Bicep's environment() has no Log Analytics host, so
        # the deployment names one only when given a sovereign cloud's (infra/app/function.bicep).
        self.endpoint = (endpoint.strip() or DEFAULT_ENDPOINT).rstrip("/")
        self.lookback_minutes = lookback_minutes
        self.timeout_seconds = timeout_seconds
        self.last_error: str | None = None  # why the last denials() call failed or was partial
        self._credential = credential
        self._connection_verify = connection_verify
        self._client: Any = None

    def denials(
        self, resource_id: str, resource_type: str, *, trusted_principals: Collection[str] = frozenset()
    ) -> list[Denial]:
        """The resource's refused requests, summarised, each saying whether it was the workspace's own.

        ``trusted_principals`` are the object ids of the workspace's identities (a request they
        signed counts as the workspace's); without them only requests signed with the resource's
        key count. Never raises: a failure returns [] and sets ``last_error``.
        """
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
        return summarise(resource_type, rows, trusted_principals=trusted_principals)

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
