"""The service's Table and Queue storage clients, built to ride out what storage does in production.

A storage account answers a connection reset, a timeout, a 503 ServerBusy or a failover now and
then. The Functions host's own storage clients (.NET, Azure.Core) retry those three times, backing
off from 0.8 s and doubling (Azure.Core ``RetryOptions``: MaxRetries 3, Delay 0.8 s, MaxDelay 1 min,
Exponential), whatever the HTTP method; the clients here do the same:

* Queue storage (``azure-storage-queue``): its own retry policy already retries every method on a
  connection error or a 408/5xx; only its pace changes (its default first waits 15 s).
* Table storage (``azure-data-tables``): azure-core's retry policy, which by default never retries
  a POST or a PATCH (an insert, a merge) even when the connection was refused before anything was
  sent. Inserts here are conditional (409 when the row exists) and updates carry ETags (412), so a
  retried write cannot apply twice: every method is retried.

Every call has a connect timeout and a read timeout: Table and Queue storage give up on an
operation after 30 s themselves (Microsoft's "Setting timeouts for Table service operations" and
"... for Queue service operations"), so no call waits for an answer longer than that (azure-core's
default read timeout is 300 s).

When storage still cannot be reached, a trigger raises :class:`StorageUnavailable`, and its caller
(Event Grid, an action group, a person) retries later.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from typing import Any


class StorageUnavailable(RuntimeError):
    """Table or Queue storage did not answer, or answered that it cannot now, after the retries.

    ``retry_after_seconds`` is how long a caller should wait before trying again."""

    def __init__(self, message: str, retry_after_seconds: int = 10) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class StorageRetry:
    """How storage calls are retried and how long each may take."""

    retries: int = 3
    first_delay_seconds: float = 0.8  # doubles after each retry
    max_delay_seconds: float = 60.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0


# As the Functions host's storage clients (Azure.Core's RetryOptions defaults), with read timeouts
# at the storage services' own 30 s limit.
HOST_RETRY = StorageRetry()


def clients(setting: str, queue_name: str, token_credential: Any, retry: StorageRetry | None = None) -> tuple[Any, Any]:
    """The Table service and the work queue, from a connection string (Azurite) or an account name
    (the managed identity), retrying and bounded as ``retry`` (by default :data:`HOST_RETRY`) says."""
    retry = retry if retry is not None else HOST_RETRY
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

    timeouts = {"connection_timeout": retry.connect_timeout_seconds, "read_timeout": retry.read_timeout_seconds}
    table_retry = {
        "retry_total": retry.retries,
        "retry_connect": retry.retries,
        "retry_read": retry.retries,
        "retry_status": retry.retries,
        "retry_backoff_factor": retry.first_delay_seconds,
        "retry_backoff_max": retry.max_delay_seconds,
    }
    queue_options = {
        # The Functions queue trigger reads base64 messages by default (host.json messageEncoding).
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": TextBase64DecodePolicy(),
        "retry_policy": _queue_retry(retry),
        **timeouts,
    }
    service_client = _retrying_table_service_client()
    if "=" in setting:
        tables = service_client.from_connection_string(setting, **timeouts, **table_retry)
        queue = QueueClient.from_connection_string(setting, queue_name, **queue_options)
    else:
        tables = service_client(
            f"https://{setting}.table.core.windows.net", credential=token_credential, **timeouts, **table_retry
        )
        queue = QueueClient(
            f"https://{setting}.queue.core.windows.net", queue_name, credential=token_credential, **queue_options
        )
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()
    return tables, queue


def _queue_retry(retry: StorageRetry) -> Any:
    from azure.storage.queue import ExponentialRetry

    class HostPacedRetry(ExponentialRetry):
        """Queue storage's retry (every method, connection errors, 408 and 5xx) at Azure.Core's pace."""

        def get_backoff_time(self, settings: dict[str, Any]) -> float:
            # settings["count"] is 1 before the first retry's wait.
            delay = min(retry.max_delay_seconds, retry.first_delay_seconds * 2 ** (settings["count"] - 1))
            return float(delay * random.uniform(0.8, 1.2))  # Azure.Core's jitter: up to 20% either way

    return HostPacedRetry(retry_total=retry.retries)


def _retrying_table_service_client() -> Any:
    from azure.data.tables import TableServiceClient
    from azure.data.tables._policies import TablesRetryPolicy

    class EveryMethodRetry(TablesRetryPolicy):
        """azure-core's retry, for inserts and merges too (they are conditional: a retry that finds
        its own first attempt landed gets a 409 or 412, never a second write)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)  # type: ignore[no-untyped-call]
            self._method_whitelist = frozenset(
                {"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "POST", "PATCH", "MERGE"}
            )

    class RetryingTableServiceClient(TableServiceClient):
        def _configure_policies(self, **kwargs: Any) -> list[Any]:
            return [
                EveryMethodRetry(**kwargs) if isinstance(policy, TablesRetryPolicy) else policy
                for policy in super()._configure_policies(**kwargs)
            ]

    return RetryingTableServiceClient
