"""Long-running writes in flight (Cosmos DB and Cognitive Services updates).

An operation holds the resource as it will be once done (``pending``) and when it may finish: it
is done once its in-progress polls are used up (``polls_left``) *and* its settle time has passed
on the twin's clock (``settles_at``), as a real update finishes after Azure's own delay whoever
asks. Each is reachable at two URLs, as ARM gives both (:mod:`emulator.providers`): the
``Azure-AsyncOperation`` status URL and the ``Location`` URL; a poll of either counts. When it
finishes, the caller commits ``pending`` to the store and emits the write's event. The app's lock
guards every use.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from . import ids
from .clock import iso
from .events import Writer
from .providers import LocationStyle, Provider

# The query parameter that tells a Cognitive Services Location URL from its status URL (the same path).
LOCATION_MARKER = ("operationResultResponseType", "Location")


def location_marked(value: str | None) -> bool:
    return (value or "").casefold() == LOCATION_MARKER[1].casefold()


@dataclass
class Operation:
    id: str
    path: str  # the Azure-AsyncOperation status URL's path on the twin
    location_path: str  # the Location URL's path (the same as ``path`` for Cognitive Services)
    api_version: str
    resource_id: str
    provider: Provider
    pending: dict[str, Any]  # the resource once the operation succeeds
    polls_left: int  # polls that still answer "in progress"
    writer: Writer
    existed: bool  # whether the write updated an existing resource (events say so)
    started: datetime.datetime
    settles_at: datetime.datetime  # not done before this moment of the twin's clock
    ended: datetime.datetime | None = None

    @property
    def done(self) -> bool:
        return self.ended is not None

    def ready(self, now: datetime.datetime) -> bool:
        """Whether the operation may finish now: no in-progress poll left, settle time passed."""
        return self.polls_left <= 0 and now >= self.settles_at

    def status_body(self) -> dict[str, Any]:
        """The operation-status resource, in the provider's recorded shape: Cosmos DB answers
        ``{"status"}`` alone; Cognitive Services ARM's ``{id, name, status, startTime, endTime}``."""
        status = "Succeeded" if self.done else self.provider.running_status
        if not self.provider.full_status_body:
            return {"status": status}
        body: dict[str, Any] = {"id": self.path, "name": self.id, "status": status, "startTime": iso(self.started)}
        if self.ended is not None:
            body["endTime"] = iso(self.ended)
        return body

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resourceId": self.resource_id,
            "pollsLeft": self.polls_left,
            "started": iso(self.started),
            "settlesAt": iso(self.settles_at),
        }


class Operations:
    def __init__(self) -> None:
        self._by_status_path: dict[str, Operation] = {}
        self._by_location_path: dict[str, Operation] = {}
        self._running: dict[str, Operation] = {}  # resource key -> its unfinished operation

    def start(
        self,
        provider: Provider,
        resource: ids.ArmPath,
        resource_id: str,
        pending: dict[str, Any],
        *,
        polls: int,
        settle_seconds: float,
        now: datetime.datetime,
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
        location_path = (
            f"{resource_id}/operationResults/{operation_id}"
            if provider.location is LocationStyle.UNDER_RESOURCE
            else path
        )
        operation = Operation(
            operation_id,
            path,
            location_path,
            api_version,
            resource_id,
            provider,
            pending,
            polls,
            writer,
            existed,
            started=now,
            settles_at=now + datetime.timedelta(seconds=settle_seconds),
        )
        self._by_status_path[ids.key_of(path)] = operation
        self._by_location_path[ids.key_of(location_path)] = operation
        self._running[ids.key_of(resource_id)] = operation
        return operation

    def find(self, path: str, marked: bool = False) -> tuple[Operation | None, bool]:
        """The operation a polling URL names, and whether the URL is its ``Location`` (else its status
        URL). ``marked``: the URL carries ``operationResultResponseType=Location``."""
        key = ids.key_of(path)
        status = self._by_status_path.get(key)
        location = self._by_location_path.get(key)
        if status is not None and (not marked or status.location_path != status.path):
            return status, False
        if location is not None:
            return location, True
        return None, False

    def running_on(self, resource_id: str) -> Operation | None:
        return self._running.get(ids.key_of(resource_id))

    def running(self) -> list[Operation]:
        return list(self._running.values())

    def ready(self, now: datetime.datetime) -> list[Operation]:
        """Running operations that may finish now (a GET or write of their resource finishes them)."""
        return [operation for operation in self._running.values() if operation.ready(now)]

    def poll(self, operation: Operation, now: datetime.datetime) -> bool:
        """Count one poll; True when this poll is the one that finds the operation finished."""
        if operation.done:
            return False
        if operation.polls_left > 0:
            operation.polls_left -= 1
            return False
        if now < operation.settles_at:
            return False
        self.finish(operation, now)
        return True

    def finish(self, operation: Operation, now: datetime.datetime) -> None:
        operation.ended = now
        operation.polls_left = 0
        self._running.pop(ids.key_of(operation.resource_id), None)


def _location_segment(location: Any) -> str:
    # ARM's operation URLs name the region in its short form: "West US" -> "westus".
    return "".join(str(location or "global").split()).casefold()
