"""Long-running writes in flight (Cosmos DB and Cognitive Services updates).

An operation holds the resource as it will be once done (``pending``) and how many more polls
answer "still running". Polls advance it; when it finishes, the caller commits ``pending`` to the
store and emits the write's event. The app's lock guards every use.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .events import Writer
from .providers import Provider


@dataclass
class Operation:
    id: str
    path: str  # the polling URL's path on the twin
    api_version: str
    resource_id: str
    provider: Provider
    pending: dict[str, Any]  # the resource once the operation succeeds
    polls_left: int  # polls that still answer "in progress"
    writer: Writer
    existed: bool  # whether the write updated an existing resource (events say so)
    started: str = field(default_factory=lambda: _now())
    ended: str | None = None

    @property
    def done(self) -> bool:
        return self.ended is not None

    def status_body(self) -> dict[str, Any]:
        """ARM's operation-status resource (the Azure-AsyncOperation protocol)."""
        body: dict[str, Any] = {
            "id": self.path,
            "name": self.id,
            "status": "Succeeded" if self.done else "InProgress",
            "startTime": self.started,
        }
        if self.ended is not None:
            body["endTime"] = self.ended
        return body


class Operations:
    def __init__(self) -> None:
        self._by_path: dict[str, Operation] = {}
        self._running: dict[str, Operation] = {}  # resource key -> its unfinished operation

    def start(
        self,
        provider: Provider,
        resource: ids.ArmPath,
        resource_id: str,
        pending: dict[str, Any],
        *,
        polls: int,
        api_version: str,
        writer: Writer,
        existed: bool,
    ) -> Operation:
        operation_id = str(uuid.uuid4())
        location = _location_segment(pending.get("location"))
        path = (
            f"/subscriptions/{resource.subscription}/providers/{provider.namespace}/locations/{location}"
            f"/{provider.operations_segment}/{operation_id}"
        )
        operation = Operation(operation_id, path, api_version, resource_id, provider, pending, polls, writer, existed)
        self._by_path[ids.key_of(path)] = operation
        self._running[ids.key_of(resource_id)] = operation
        return operation

    def find(self, path: str) -> Operation | None:
        return self._by_path.get(ids.key_of(path))

    def running_on(self, resource_id: str) -> Operation | None:
        return self._running.get(ids.key_of(resource_id))

    def running(self) -> list[Operation]:
        return list(self._running.values())

    def poll(self, operation: Operation) -> bool:
        """Count one poll; True when this poll is the one that finds the operation finished."""
        if operation.done:
            return False
        if operation.polls_left > 0:
            operation.polls_left -= 1
            return False
        self.finish(operation)
        return True

    def finish(self, operation: Operation) -> None:
        operation.ended = _now()
        operation.polls_left = 0
        self._running.pop(ids.key_of(operation.resource_id), None)


def _location_segment(location: Any) -> str:
    # ARM's operation URLs name the region in its short form: "West US" -> "westus".
    return "".join(str(location or "global").split()).casefold()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()
