"""Azure Resource Manager access: raw-JSON reads and minimal-JSON PATCHes through the azure-mgmt clients.

Why the SDK clients and not plain HTTP: they carry each provider's api-version, long-running
operation protocol (Cosmos DB answers 200 and Cognitive Services 202, both with
``Azure-AsyncOperation`` and ``Location``; emulator/README.md cites Azure's recorded traffic) and
ARM's error format. Why raw JSON both ways: the typed models send more than was set
(``SearchServiceUpdate`` adds ``replicaCount``) and may drop what they do not know, so a read hands
detection the body exactly as ARM sent it, and a write sends exactly the planned bytes.

**Bounded calls.** A remediation has a time budget (``GUARD_ARM_BUDGET_SECONDS``) and no ARM call
outlives it: every request gets connect and read timeouts from the time left (azure-core's
per-request ``connection_timeout`` and ``read_timeout``, which the SDK operations pass through),
retries and their waits stop at the deadline, a request is not started once the budget is spent,
and a long-running update is polled on the caller's thread of control up to the deadline only (its
continuation token then resumes it later). azure-core's own read timeout is 300 s, so without this
one hung answer held a worker past its lease. :meth:`Arm.budget` makes every call in a block share
one deadline; :attr:`Arm.worst_case_seconds` is how long one remediation can take at most.

Each SDK is imported only when a resource of its type is first touched (70-150 ms each), so an
event touches only what it needs.
"""

from __future__ import annotations

import importlib
import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.mgmt.core.polling.arm_polling import ARMPolling

from .remediator import SdkBinding
from .resource_ids import ResourceId

PUBLIC_CLOUD = "https://management.azure.com"

# The per-call option carrying the remediation's deadline (a time.monotonic() value) down the
# pipeline to the retry and timeout policies; the retry policy takes it out before the transport.
DEADLINE_OPTION = "foundry_guard_deadline"
# A TCP and TLS handshake with ARM takes well under a second; one that has not happened in 5 s is
# better retried than waited for. A read may take whatever time is left.
CONNECT_TIMEOUT_SECONDS = 5.0
# With less time left than this, a request is not started: no answer could arrive in it, and the
# request would only land (a PATCH applied unseen) after the caller has given up.
MINIMUM_ATTEMPT_SECONDS = 0.05
# How far past its deadline one remediation can run: a request started just before the deadline
# may spend up to the connect timeout connecting before its read timeout (the time left) runs, plus
# slack for threads to wake and answers to be parsed. Not covered: the managed identity's first
# token (azure-identity's own pipeline) and DNS resolution, neither of which takes a timeout here.
WORST_CASE_MARGIN_SECONDS = CONNECT_TIMEOUT_SECONDS + 5.0
# Typed clients kept, per (client type, subscription), least recently used dropped first.
DEFAULT_MAX_CLIENTS = 64
TIMEOUT_CODE = "Timeout"


class ArmError(Exception):
    """ARM refused or failed a call. ``code`` is ARM's error code (``RequestDisallowedByPolicy``...),
    or ``Timeout`` when no answer came within the time budget (``status`` is then ``None``)."""

    def __init__(self, status: int | None, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status or 'no response'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds ARM asked us to wait, when it throttled us

    @property
    def denied_by_policy(self) -> bool:
        return self.code == "RequestDisallowedByPolicy"

    @property
    def timed_out(self) -> bool:
        """No answer within the time budget. For a PATCH, it may or may not have been applied."""
        return self.code == TIMEOUT_CODE

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later: no answer (a timeout, a dropped connection),
        throttling, a conflicting update in flight, or a server error. A refusal (400, 403, 404) is final."""
        return self.status is None or self.status in (408, 409, 412, 429) or self.status >= 500


@dataclass(frozen=True)
class PatchResult:
    done: bool  # False: a long-running update still runs; check it later with the continuation token
    body: dict[str, Any] | None  # the resource as ARM answered the write, when it did
    continuation_token: str | None = None


class BudgetedRetryPolicy(RetryPolicy):  # type: ignore[type-arg]  # generic over transport types
    """azure-core's retries, within the call's deadline.

    The deadline comes with the call (:data:`DEADLINE_OPTION`, the remediation's); a call without
    one gets ``timeout`` seconds of its own. azure-core's RetryPolicy sleeps whatever
    ``Retry-After`` says and only then checks its timeout; under a long throttle that would hold a
    worker for minutes. Here a throttle longer than the time left is returned to the caller (who
    can reschedule the work), a backoff never sleeps past the deadline, and nothing is retried once
    the time left is too short for an answer. The per-request timeouts themselves are set on every
    attempt by :class:`BudgetTimeoutsPolicy`, which runs after this policy.
    """

    def send(self, request: Any) -> Any:
        deadline = request.context.options.get(DEADLINE_OPTION)
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        request.context.options[DEADLINE_OPTION] = deadline  # read (and removed) by configure_retries
        request.context[DEADLINE_OPTION] = deadline  # for BudgetTimeoutsPolicy, on every attempt
        return super().send(request)

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        deadline: float = options.pop(DEADLINE_OPTION)
        settings = super().configure_retries(options)
        settings["deadline"] = deadline
        # azure-core's own absolute timeout, counted down across attempts: the time left.
        settings["timeout"] = max(0.0, deadline - time.monotonic())
        return settings

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        if not super().is_retry(settings, response):
            return False
        retry_after = self.get_retry_after(response) or 0.0
        return _time_left(settings["deadline"]) - retry_after >= MINIMUM_ATTEMPT_SECONDS

    def increment(self, settings: dict[str, Any], response: Any = None, error: Any = None) -> bool:
        retrying = bool(super().increment(settings, response=response, error=error))
        return retrying and _time_left(settings["deadline"]) >= MINIMUM_ATTEMPT_SECONDS

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        return min(float(super().get_backoff_time(settings)), max(0.0, _time_left(settings["deadline"])))


class BudgetTimeoutsPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]  # generic over transport types
    """Per attempt: connect and read timeouts from the time left, or no request at all once it is spent.

    azure-core's transports take per-request ``connection_timeout`` and ``read_timeout`` options
    (their defaults are 300 s); azure-core's RetryPolicy only ever lowers the connect timeout.
    """

    def on_request(self, request: Any) -> None:
        deadline = request.context.get(DEADLINE_OPTION)
        if deadline is None:
            return
        left = _time_left(deadline)
        if left < MINIMUM_ATTEMPT_SECONDS:
            http = request.http_request
            raise ServiceRequestTimeoutError(f"the time budget is spent: {http.method} {http.url} not sent")
        request.context.options["connection_timeout"] = min(CONNECT_TIMEOUT_SECONDS, left)
        request.context.options["read_timeout"] = left


class _OutOfTime(Exception):
    """The deadline comes before the next poll could be answered."""


class BudgetedPolling(ARMPolling):
    """ARM's long-running-operation polling, stopped at the deadline.

    azure-core runs a poller on a thread of its own that polls until the operation ends, however
    long that is; waiting on it with a timeout leaves that thread polling. This one sends every
    poll with the deadline (so each is bounded by the time left), does not sleep into the deadline,
    and then stops with :attr:`out_of_time` set: the operation still runs on Azure's side, and the
    caller keeps its continuation token to check on it later.
    """

    def __init__(self, interval: float, deadline: float, **operation_config: Any) -> None:
        config: dict[str, Any] = {**operation_config, DEADLINE_OPTION: deadline}  # sent with every poll
        super().__init__(interval, **config)
        self._deadline = deadline
        self.out_of_time = False

    def run(self) -> None:
        try:
            super().run()
        except (_OutOfTime, ServiceRequestTimeoutError, ServiceResponseTimeoutError):
            self.out_of_time = True

    def _delay(self) -> None:
        delay = self._extract_delay()
        if _time_left(self._deadline) - delay < MINIMUM_ATTEMPT_SECONDS:
            raise _OutOfTime
        self._sleep(delay)


def _time_left(deadline: float) -> float:
    return deadline - time.monotonic()


class Arm:
    """Reads and PATCHes guarded resources. One instance per process; clients are cached per
    subscription (the least recently used dropped past ``max_clients``)."""

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
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        self._credential = credential
        self.endpoint = endpoint.rstrip("/")
        self.budget_seconds = budget_seconds
        # Seconds between polls of a long-running update when ARM sends no Retry-After (Azure's
        # recorded updates send none); the SDKs' own default, 30, outlasts the budget.
        self.polling_interval = 30.0 if polling_interval is None else polling_interval
        self._options: dict[str, Any] = {"base_url": self.endpoint}
        if self.endpoint != PUBLIC_CLOUD:
            # The twin (or a sovereign cloud) is asked for tokens for its own audience.
            self._options["credential_scopes"] = [f"{self.endpoint}/.default"]
        if connection_verify is not None:
            self._options["connection_verify"] = connection_verify
        if polling_interval is not None:
            self._options["polling_interval"] = polling_interval
        # The timeouts policy on every client, and e.g. a timing policy in the benchmarks.
        self._options["per_retry_policies"] = [BudgetTimeoutsPolicy(), *(per_retry_policies or [])]
        self._retry_total = retry_total
        self.max_clients = max_clients
        self._clients: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._generic_client: Any = None
        self._lock = threading.Lock()
        self._scope = threading.local()  # the deadline of the budget this thread is inside, if any

    @property
    def worst_case_seconds(self) -> float:
        """The longest one remediation's ARM calls can take: the budget and a margin
        (:data:`WORST_CASE_MARGIN_SECONDS`). A lease held while they run must outlive this."""
        return self.budget_seconds + WORST_CASE_MARGIN_SECONDS

    @contextmanager
    def budget(self, deadline: float | None = None) -> Iterator[float]:
        """Every call made on this thread inside the block shares one deadline (a ``time.monotonic()``
        value; default: ``budget_seconds`` from now). Nested, the earlier deadline wins. Outside any
        block, each call has a budget of its own."""
        outer: float | None = getattr(self._scope, "deadline", None)
        mine = deadline if deadline is not None else time.monotonic() + self.budget_seconds
        effective = mine if outer is None else min(outer, mine)
        self._scope.deadline = effective
        try:
            yield effective
        finally:
            self._scope.deadline = outer

    def time_left(self) -> float:
        """Seconds left of the current budget (a fresh one's, outside :meth:`budget`)."""
        return _time_left(self._deadline())

    def _deadline(self, within_seconds: float | None = None) -> float:
        now = time.monotonic()
        scoped: float | None = getattr(self._scope, "deadline", None)
        deadline = scoped if scoped is not None else now + self.budget_seconds
        return deadline if within_seconds is None else min(deadline, now + within_seconds)

    def read(self, resource_id: ResourceId, sdk: SdkBinding) -> dict[str, Any] | None:
        """The resource body exactly as ARM sent it; ``None`` when it does not exist (any more)."""
        deadline = self._deadline()
        operations = self._operations(resource_id, sdk)
        get = getattr(operations, sdk.get)
        try:
            body: dict[str, Any] = _call(
                lambda: get(resource_id.resource_group, resource_id.name, cls=_raw_json, **{DEADLINE_OPTION: deadline})
            )
        except ArmError as error:
            if error.status == 404:
                return None
            raise
        return body

    def patch(self, resource_id: ResourceId, sdk: SdkBinding, body: bytes, *, wait_seconds: float) -> PatchResult:
        """Send exactly ``body``. The call, a long-running update's polls included, takes at most
        ``wait_seconds`` (and never past the current budget); an update still running then is
        returned with its continuation token."""
        deadline = self._deadline(wait_seconds)
        operations = self._operations(resource_id, sdk)
        update = getattr(operations, sdk.update)
        options: dict[str, Any] = {DEADLINE_OPTION: deadline}
        if sdk.long_running:
            options["polling"] = self._polling(deadline)

        def send() -> Any:
            return update(
                resource_id.resource_group,
                resource_id.name,
                io.BytesIO(body),
                content_type="application/json",
                cls=_raw_json,
                **options,
            )

        if not sdk.long_running:
            return PatchResult(done=True, body=_call(send))
        return self._await(_call(send), deadline)

    def resume(
        self, resource_id: ResourceId, sdk: SdkBinding, continuation_token: str, *, wait_seconds: float
    ) -> PatchResult:
        """Check on a long-running update started earlier (its :attr:`PatchResult.continuation_token`),
        for at most ``wait_seconds`` (and never past the current budget)."""
        deadline = self._deadline(wait_seconds)
        update = getattr(self._operations(resource_id, sdk), sdk.update)
        poller = _call(
            lambda: update(
                resource_id.resource_group,
                resource_id.name,
                None,
                continuation_token=continuation_token,
                cls=_raw_json,
                polling=self._polling(deadline),
            )
        )
        return self._await(poller, deadline)

    def _polling(self, deadline: float) -> BudgetedPolling:
        return BudgetedPolling(self.polling_interval, deadline)

    @staticmethod
    def _await(poller: Any, deadline: float) -> PatchResult:
        # The poller's thread ends by the deadline (BudgetedPolling); the margin only guards against
        # waiting for ever should it not.
        _call(lambda: poller.wait(timeout=max(0.0, _time_left(deadline)) + WORST_CASE_MARGIN_SECONDS))
        polling = poller.polling_method()
        if not poller.done() or getattr(polling, "out_of_time", False) or not polling.finished():
            return PatchResult(done=False, body=None, continuation_token=poller.continuation_token())
        return PatchResult(done=True, body=_call(poller.result))

    def list_ids(self, subscription: str, sdk: SdkBinding, resource_group: str | None = None) -> list[str]:
        """Ids of every resource of the binding's type in a subscription, or in one of its groups (all pages)."""
        options = {DEADLINE_OPTION: self._deadline()}  # one budget for every page
        probe = ResourceId(f"/subscriptions/{subscription}", subscription, None, None, None)
        operations = self._operations(probe, sdk)
        if resource_group is None:
            items = _call(lambda: list(getattr(operations, sdk.list_all)(**options)))
        else:
            items = _call(lambda: list(operations.list_by_resource_group(resource_group, **options)))
        return [str(item.id) for item in items if getattr(item, "id", None)]

    def read_raw(self, resource_id: ResourceId, api_version: str) -> dict[str, Any] | None:
        """Any resource's body as ARM sent it (an ML workspace: no remediator guards its type);
        ``None`` when it does not exist."""
        response = self._send(f"{self.endpoint}{resource_id.text}", {"api-version": api_version}, self._deadline())
        if response.status_code == 404:
            return None
        body: dict[str, Any] = _answer(response)
        return body

    def list_raw(self, path: str, api_version: str, *, max_pages: int = 100) -> list[dict[str, Any]]:
        """Every item of an ARM collection such as ``/subscriptions/{s}/providers/{type}``, all pages,
        within one budget.

        A ``nextLink`` is followed only on this endpoint: the bearer token goes with it.
        """
        deadline = self._deadline()
        url, params = f"{self.endpoint}{path}", {"api-version": api_version}
        items: list[dict[str, Any]] = []
        for _ in range(max_pages):
            page = _answer(self._send(url, params, deadline))
            items += [item for item in page.get("value") or [] if isinstance(item, dict)]
            next_link = page.get("nextLink")
            if not next_link:
                return items
            if not isinstance(next_link, str) or not next_link.startswith(f"{self.endpoint}/"):
                raise ArmError(None, "UnexpectedNextLink", f"ARM's nextLink leaves {self.endpoint}: not followed")
            url, params = next_link, {}
        raise ArmError(None, "TooManyPages", f"{path} has more than {max_pages} pages")

    def _send(self, url: str, params: dict[str, str], deadline: float) -> Any:
        from azure.core.rest import HttpRequest

        request = HttpRequest("GET", url, params=params)
        return _call(lambda: self._generic().send_request(request, **{DEADLINE_OPTION: deadline}))

    def _generic(self) -> Any:
        """One ARM pipeline for reads of types no typed client covers: the same credential, audience,
        budgeted retries and timeouts, and transport options as the typed clients."""
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
                        *self._options["per_retry_policies"],
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
            if client is not None:
                self._clients.move_to_end(key)
                return client
            module_name, class_name = sdk.client.split(":")
            client_class = getattr(importlib.import_module(module_name), class_name)
            retry = BudgetedRetryPolicy(retry_total=self._retry_total, timeout=self.budget_seconds)
            client = client_class(self._credential, subscription, retry_policy=retry, **self._options)
            self._clients[key] = client
            while len(self._clients) > self.max_clients:
                # Dropped, not closed: another thread may still be in a call on it. Its connections
                # close when the last reference goes.
                self._clients.popitem(last=False)
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
    except (ServiceRequestTimeoutError, ServiceResponseTimeoutError) as error:
        raise ArmError(
            None, TIMEOUT_CODE, f"ARM did not answer within the time budget ({_first_line(error)})"
        ) from error
    except ServiceRequestError as error:  # not sent: no connection
        raise ArmError(None, "ServiceRequestError", _first_line(error)) from error
    except ServiceResponseError as error:  # sent, and the connection failed before an answer
        raise ArmError(None, "ServiceResponseError", _first_line(error)) from error


def _first_line(error: Exception) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__


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
