"""Azure Resource Manager access: raw-JSON reads and minimal-JSON PATCHes through the azure-mgmt clients.

Why the SDK clients and not plain HTTP: they carry each provider's api-version, long-running
operation protocol (Cosmos DB answers 200 then ``Azure-AsyncOperation``; Cognitive Services 202 +
``Location``) and ARM's error format. Why raw JSON both ways: the typed models send more than
was set (``SearchServiceUpdate`` adds ``replicaCount``) and may drop what they do not know, so a
read hands detection the body exactly as ARM sent it, and a write sends exactly the planned bytes.

Each SDK is imported only when a resource of its type is first touched (70-150 ms each), so an
event touches only what it needs.
"""

from __future__ import annotations

import importlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.core.pipeline.policies import RetryPolicy

from .remediator import SdkBinding
from .resource_ids import ResourceId

PUBLIC_CLOUD = "https://management.azure.com"


class ArmError(Exception):
    """ARM refused or failed a call. ``code`` is ARM's error code (``RequestDisallowedByPolicy``...)."""

    def __init__(self, status: int | None, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status or 'no response'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds ARM asked us to wait, when it throttled us

    @property
    def denied_by_policy(self) -> bool:
        return self.code == "RequestDisallowedByPolicy"


@dataclass(frozen=True)
class PatchResult:
    done: bool  # False: a long-running update still runs; check it later with the continuation token
    body: dict[str, Any] | None  # the resource as ARM answered the write, when it did
    continuation_token: str | None = None


class BudgetedRetryPolicy(RetryPolicy):  # type: ignore[type-arg]  # generic over transport types
    """Honours ``Retry-After``, but never sleeps past the call's time budget.

    azure-core's RetryPolicy sleeps whatever ``Retry-After`` says and only then checks its
    timeout; under a long throttle that would hold a worker for minutes. Past the budget the
    throttled answer is returned to the caller, who can reschedule the work.
    """

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["deadline"] = time.monotonic() + settings["timeout"]
        return settings

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        if not super().is_retry(settings, response):
            return False
        retry_after = self.get_retry_after(response) or 0.0
        deadline: float = settings["deadline"]
        return time.monotonic() + retry_after < deadline


class Arm:
    """Reads and PATCHes guarded resources. One instance per process; clients are cached per subscription."""

    def __init__(
        self,
        credential: TokenCredential,
        *,
        endpoint: str = PUBLIC_CLOUD,
        budget_seconds: float = 25.0,
        retry_total: int = 3,
        connection_verify: str | bool | None = None,
        polling_interval: float | None = None,
        per_retry_policies: list[Any] | None = None,
    ) -> None:
        self._credential = credential
        self.endpoint = endpoint.rstrip("/")
        self.budget_seconds = budget_seconds
        self._options: dict[str, Any] = {"base_url": self.endpoint}
        if self.endpoint != PUBLIC_CLOUD:
            # The twin (or a sovereign cloud) is asked for tokens for its own audience.
            self._options["credential_scopes"] = [f"{self.endpoint}/.default"]
        if connection_verify is not None:
            self._options["connection_verify"] = connection_verify
        if polling_interval is not None:
            self._options["polling_interval"] = polling_interval
        if per_retry_policies:  # e.g. a timing policy in the benchmarks
            self._options["per_retry_policies"] = per_retry_policies
        self._retry_total = retry_total
        self._clients: dict[tuple[str, str], Any] = {}
        self._generic_client: Any = None
        self._lock = threading.Lock()

    def read(self, resource_id: ResourceId, sdk: SdkBinding) -> dict[str, Any] | None:
        """The resource body exactly as ARM sent it; ``None`` when it does not exist (any more)."""
        operations = self._operations(resource_id, sdk)
        get = getattr(operations, sdk.get)
        try:
            body: dict[str, Any] = _call(lambda: get(resource_id.resource_group, resource_id.name, cls=_raw_json))
        except ArmError as error:
            if error.status == 404:
                return None
            raise
        return body

    def patch(self, resource_id: ResourceId, sdk: SdkBinding, body: bytes, *, wait_seconds: float) -> PatchResult:
        """Send exactly ``body``. A long-running update is awaited at most ``wait_seconds``."""
        operations = self._operations(resource_id, sdk)
        update = getattr(operations, sdk.update)

        def send() -> Any:
            return update(
                resource_id.resource_group,
                resource_id.name,
                io.BytesIO(body),
                content_type="application/json",
                cls=_raw_json,
            )

        if not sdk.long_running:
            return PatchResult(done=True, body=_call(send))
        return self._await(_call(send), wait_seconds)

    def resume(
        self, resource_id: ResourceId, sdk: SdkBinding, continuation_token: str, *, wait_seconds: float
    ) -> PatchResult:
        """Check on a long-running update started earlier (its :attr:`PatchResult.continuation_token`)."""
        update = getattr(self._operations(resource_id, sdk), sdk.update)
        poller = _call(
            lambda: update(
                resource_id.resource_group, resource_id.name, None, continuation_token=continuation_token, cls=_raw_json
            )
        )
        return self._await(poller, wait_seconds)

    @staticmethod
    def _await(poller: Any, wait_seconds: float) -> PatchResult:
        _call(lambda: poller.wait(timeout=wait_seconds))
        if not poller.done():
            return PatchResult(done=False, body=None, continuation_token=poller.continuation_token())
        return PatchResult(done=True, body=_call(poller.result))

    def list_ids(self, subscription: str, sdk: SdkBinding, resource_group: str | None = None) -> list[str]:
        """Ids of every resource of the binding's type in a subscription, or in one of its groups (all pages)."""
        probe = ResourceId(f"/subscriptions/{subscription}", subscription, None, None, None)
        operations = self._operations(probe, sdk)
        if resource_group is None:
            items = _call(lambda: list(getattr(operations, sdk.list_all)()))
        else:
            items = _call(lambda: list(operations.list_by_resource_group(resource_group)))
        return [str(item.id) for item in items if getattr(item, "id", None)]

    def read_raw(self, resource_id: ResourceId, api_version: str) -> dict[str, Any] | None:
        """Any resource's body as ARM sent it (an ML workspace: no remediator guards its type);
        ``None`` when it does not exist."""
        response = self._send(f"{self.endpoint}{resource_id.text}", {"api-version": api_version})
        if response.status_code == 404:
            return None
        body: dict[str, Any] = _answer(response)
        return body

    def list_raw(self, path: str, api_version: str, *, max_pages: int = 100) -> list[dict[str, Any]]:
        """Every item of an ARM collection such as ``/subscriptions/{s}/providers/{type}``, all pages.

        A ``nextLink`` is followed only on this endpoint: the bearer token goes with it.
        """
        url, params = f"{self.endpoint}{path}", {"api-version": api_version}
        items: list[dict[str, Any]] = []
        for _ in range(max_pages):
            page = _answer(self._send(url, params))
            items += [item for item in page.get("value") or [] if isinstance(item, dict)]
            next_link = page.get("nextLink")
            if not next_link:
                return items
            if not isinstance(next_link, str) or not next_link.startswith(f"{self.endpoint}/"):
                raise ArmError(None, "UnexpectedNextLink", f"ARM's nextLink leaves {self.endpoint}: not followed")
            url, params = next_link, {}
        raise ArmError(None, "TooManyPages", f"{path} has more than {max_pages} pages")

    def _send(self, url: str, params: dict[str, str]) -> Any:
        from azure.core.rest import HttpRequest

        request = HttpRequest("GET", url, params=params)
        return _call(lambda: self._generic().send_request(request))

    def _generic(self) -> Any:
        """One ARM pipeline for reads of types no typed client covers: the same credential, audience,
        budgeted retries and transport options as the typed clients."""
        with self._lock:
            if self._generic_client is None:
                from azure.core.pipeline import policies
                from azure.core.pipeline.transport import RequestsTransport
                from azure.mgmt.core import ARMPipelineClient
                from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

                scopes = self._options.get("credential_scopes", [f"{PUBLIC_CLOUD}/.default"])
                transport: dict[str, Any] = {}
                if "connection_verify" in self._options:
                    transport["connection_verify"] = self._options["connection_verify"]
                self._generic_client = ARMPipelineClient(
                    base_url=self.endpoint,
                    policies=[
                        policies.RequestIdPolicy(),
                        policies.HeadersPolicy(),
                        policies.UserAgentPolicy(sdk_moniker="foundry-guard"),
                        policies.ProxyPolicy(),
                        policies.ContentDecodePolicy(),
                        BudgetedRetryPolicy(retry_total=self._retry_total, timeout=self.budget_seconds),
                        *self._options.get("per_retry_policies", []),
                        ARMChallengeAuthenticationPolicy(self._credential, *scopes),
                        policies.CustomHookPolicy(),
                        policies.NetworkTraceLoggingPolicy(),
                        ARMHttpLoggingPolicy(),
                    ],
                    transport=RequestsTransport(**transport),
                )
            return self._generic_client

    def _operations(self, resource_id: ResourceId, sdk: SdkBinding) -> Any:
        return getattr(self._client(resource_id.subscription, sdk), sdk.operations)

    def _client(self, subscription: str, sdk: SdkBinding) -> Any:
        key = (sdk.client, subscription.casefold())
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                module_name, class_name = sdk.client.split(":")
                client_class = getattr(importlib.import_module(module_name), class_name)
                retry = BudgetedRetryPolicy(retry_total=self._retry_total, timeout=self.budget_seconds)
                client = client_class(self._credential, subscription, retry_policy=retry, **self._options)
                self._clients[key] = client
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            if self._generic_client is not None:
                self._generic_client.close()
                self._generic_client = None


def _raw_json(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    """``cls=`` hook: keep ARM's JSON as sent, whatever the typed model would make of it."""
    response = pipeline_response.http_response
    return response.json() if response.text() else None


def _answer(response: Any) -> dict[str, Any]:
    """A 200's JSON object, or an :class:`ArmError` with ARM's own code and message."""
    try:
        body = response.json() if response.text() else None
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    raise ArmError(
        response.status_code,
        str(code or "HttpResponseError"),
        " ".join(str(message or response.text()[:300] or response.reason).split()),
    )


def _call(action: Callable[[], Any]) -> Any:
    """Run an SDK call, turning azure-core's exceptions into one :class:`ArmError`."""
    try:
        return action()
    except ResourceNotFoundError as error:
        raise ArmError(404, _code(error) or "ResourceNotFound", _message(error)) from error
    except HttpResponseError as error:
        header = error.response.headers.get("Retry-After") if error.response is not None else None  # type: ignore[attr-defined]
        try:
            retry_after = float(header) if header else None
        except ValueError:  # an HTTP date: rare from ARM; the caller backs off on its own
            retry_after = None
        raise ArmError(error.status_code, _code(error) or "HttpResponseError", _message(error), retry_after) from error
    except ServiceRequestError as error:
        raise ArmError(None, "ServiceRequestError", str(error).splitlines()[0]) from error


def _code(error: HttpResponseError) -> str | None:
    if error.error is not None and error.error.code:
        return str(error.error.code)
    return None


def _message(error: HttpResponseError) -> str:
    message = error.error.message if error.error is not None and error.error.message else error.reason or ""
    return " ".join(str(message).split())


def credential(client_id: str | None) -> TokenCredential:
    """Managed identity in Azure (the twin serves the same protocol locally), else the Azure CLI's login."""
    from azure.identity import AzureCliCredential, ChainedTokenCredential, ManagedIdentityCredential

    return ChainedTokenCredential(ManagedIdentityCredential(client_id=client_id), AzureCliCredential())
