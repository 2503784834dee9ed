"""Faults on demand: what ARM does to a caller on a bad day, switched on by a test.

One JSON shape everywhere (Python API, ``POST /_twin/faults``, ``_twin.json``)::

    {"kind": "throttle", "method": "PATCH", "resourceId": "/subscriptions/.../accounts/a",
     "times": 2, "retryAfter": 1}

Matching: ``method`` (a name or a list; default every method, but writes only for ``conflict``,
``deny`` and ``modify``), ``resourceId`` (exact, case-insensitive; for routes that are not ARM
resources, the request path), ``scope`` (the id or anything below it), ``resourceType``. Omitted
means "any". ``times``: how often it fires, omitted or ``null`` for always.

Kinds:

* ``throttle``: 429 ``SubscriptionRequestsThrottled`` with ``Retry-After: retryAfter`` (default 1),
  ARM's answer when the subscription's token bucket is empty.
* ``error``: ``status`` 500 (default), 502, 503 or 504 with the matching ARM code; ``retryAfter``
  optional.
* ``conflict``: 409 ``AnotherOperationInProgress`` (default) or ``status: 412``
  ``PreconditionFailed``. (A write arriving while a long-running one runs is refused by itself,
  without a fault: see :mod:`emulator.providers`.)
* ``latency``: ``ms`` added before the request is handled; does not change the answer.
* ``deny``: a Deny policy assignment ``policyAssignmentId`` refusing the write with 403
  ``RequestDisallowedByPolicy`` when the ``if`` conditions hold on the resulting resource.
* ``modify``: a Modify policy assignment rewriting the write with ``operations`` when ``if`` holds.

``code`` and ``message`` override the error body of the first four.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import ids
from .messages import ArmFailure
from .policy import PolicyRule, parse_conditions, parse_operations, rule_to_json

KINDS = ("throttle", "error", "conflict", "latency", "deny", "modify")
WRITES = frozenset({"PUT", "PATCH"})
_ERROR_CODES = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
_CONFLICT_CODES = {409: "AnotherOperationInProgress", 412: "PreconditionFailed"}
_COMMON = {"kind", "method", "resourceId", "scope", "resourceType", "times", "id"}
_FIELDS = {
    "throttle": {"retryAfter", "code", "message"},
    "error": {"status", "retryAfter", "code", "message"},
    "conflict": {"status", "code", "message"},
    "latency": {"ms"},
    "deny": {"policyAssignmentId", "policyDefinitionId", "displayName", "if"},
    "modify": {"policyAssignmentId", "policyDefinitionId", "displayName", "if", "operations"},
}
_ids = itertools.count(1)


class FaultError(ValueError):
    """A fault specification the twin does not understand."""


@dataclass
class Fault:
    id: str
    kind: str
    methods: frozenset[str] | None
    resource_id: str | None
    scope: str | None
    resource_type: str | None
    times: int | None  # how many more times it fires; None: always
    spec: dict[str, Any]  # as given, for listing
    status: int = 0
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None
    latency_ms: int = 0
    rule: PolicyRule | None = None
    fired: int = 0

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> Fault:
        try:
            return cls._parse(dict(spec))
        except (TypeError, ValueError) as error:
            raise FaultError(str(error)) from error

    @classmethod
    def _parse(cls, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in KINDS:
            raise FaultError(f"fault kind must be one of {', '.join(KINDS)}; got {kind!r}")
        unknown = sorted(set(spec) - _COMMON - _FIELDS[kind])
        if unknown:
            raise FaultError(f"{kind} fault: unknown field(s) {', '.join(unknown)}")
        times = spec.get("times")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise FaultError(f"times must be a positive integer or null, got {times!r}")
        fault = cls(
            id=str(spec.get("id") or f"fault-{next(_ids)}"),
            kind=kind,
            methods=_methods(spec.get("method"), kind),
            resource_id=_optional_text(spec, "resourceId"),
            scope=_optional_text(spec, "scope"),
            resource_type=_optional_text(spec, "resourceType"),
            times=times,
            spec=spec,
        )
        fault._configure(spec)
        return fault

    def _configure(self, spec: dict[str, Any]) -> None:
        if self.kind == "throttle":
            self.status, self.retry_after = 429, _seconds(spec.get("retryAfter", 1))
        elif self.kind == "error":
            self.status = _status(spec.get("status", 500), _ERROR_CODES)
            self.retry_after = _seconds(spec["retryAfter"]) if "retryAfter" in spec else None
        elif self.kind == "conflict":
            self.status = _status(spec.get("status", 409), _CONFLICT_CODES)
        elif self.kind == "latency":
            milliseconds = spec.get("ms")
            if isinstance(milliseconds, bool) or not isinstance(milliseconds, int) or milliseconds < 0:
                raise FaultError(f"latency fault needs ms (a non-negative integer), got {milliseconds!r}")
            self.latency_ms = milliseconds
        else:
            self._configure_policy(spec)
        self.code = _optional_text(spec, "code")
        self.message = _optional_text(spec, "message")

    def _configure_policy(self, spec: dict[str, Any]) -> None:
        assignment = spec.get("policyAssignmentId")
        if (
            not isinstance(assignment, str)
            or "/providers/microsoft.authorization/policyassignments/" not in assignment.casefold()
        ):
            raise FaultError(
                f"{self.kind} fault needs policyAssignmentId, a policy assignment's ARM id; got {assignment!r}"
            )
        conditions = spec.get("if", [])
        operations = spec.get("operations", [])
        if not isinstance(conditions, list) or not isinstance(operations, list):
            raise FaultError("'if' and 'operations' are lists")
        if self.kind == "modify" and not operations:
            raise FaultError(
                "modify fault needs operations, e.g. [{'operation': 'addOrReplace', 'field': ..., 'value': ...}]"
            )
        self.rule = PolicyRule(
            effect=self.kind,
            assignment_id=assignment,
            conditions=parse_conditions(conditions),
            operations=parse_operations(operations),
            definition_id=_optional_text(spec, "policyDefinitionId"),
            display_name=_optional_text(spec, "displayName"),
        )

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.times <= 0

    def matches(self, method: str, target: str, resource_type: str | None) -> bool:
        if self.exhausted or (self.methods is not None and method.upper() not in self.methods):
            return False
        if self.resource_id is not None and ids.key_of(self.resource_id) != ids.key_of(target):
            return False
        if self.scope is not None and not ids.covers(self.scope, target):
            return False
        return self.resource_type is None or (resource_type or "").casefold() == self.resource_type.casefold()

    def fire(self) -> None:
        self.fired += 1
        if self.times is not None:
            self.times -= 1

    def failure(self, target: str) -> ArmFailure:
        """The error answer of a throttle, error or conflict fault."""
        name = ids.normalise(target).rsplit("/", 1)[-1]
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if self.kind == "throttle":
            headers["x-ms-ratelimit-remaining-subscription-writes"] = "0"
            code = self.code or "SubscriptionRequestsThrottled"
            message = self.message or (
                f"Number of requests for subscription exceeded the limit. Please try again after "
                f"'{self.retry_after}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling"
            )
        elif self.kind == "error":
            code = self.code or _ERROR_CODES[self.status]
            message = (
                self.message or f"The service failed to process the request for '{name}' (injected {self.status})."
            )
        else:
            code = self.code or _CONFLICT_CODES[self.status]
            message = self.message or f"Another operation is in progress on the resource '{name}'. Please retry later."
        return ArmFailure(self.status, code, message, headers=headers)

    def to_json(self) -> dict[str, Any]:
        document = {**self.spec, "id": self.id, "kind": self.kind, "times": self.times, "fired": self.fired}
        if self.rule is not None:
            document.update(rule_to_json(self.rule))
        return document


def _methods(value: Any, kind: str) -> frozenset[str] | None:
    if value is None or value == "*":
        return WRITES if kind in ("conflict", "deny", "modify") else None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise FaultError(f"method is a name or a list of names, got {value!r}")
    return frozenset(name.upper() for name in names)


def _optional_text(spec: Mapping[str, Any], name: str) -> str | None:
    value = spec.get(name)
    if value is None or value == "*":
        return None
    if not isinstance(value, str):
        raise FaultError(f"{name} must be a string, got {value!r}")
    return value


def _seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"retryAfter is whole seconds, got {value!r}")
    return value


def _status(value: Any, allowed: Mapping[int, str]) -> int:
    if value not in allowed or isinstance(value, bool):
        raise FaultError(f"status must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return int(value)


class FaultBook:
    """The active faults, in the order they were added. The app's lock guards it."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, spec: Mapping[str, Any]) -> Fault:
        fault = Fault.from_json(spec)
        self._faults.append(fault)
        return fault

    def add_all(self, specs: Iterable[Mapping[str, Any]]) -> list[Fault]:
        parsed = [Fault.from_json(spec) for spec in specs]  # all or nothing
        self._faults.extend(parsed)
        return parsed

    def remove(self, fault_id: str) -> bool:
        before = len(self._faults)
        self._faults = [fault for fault in self._faults if fault.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def all(self) -> list[Fault]:
        return list(self._faults)

    def matching(self, kinds: Iterable[str], method: str, target: str, resource_type: str | None) -> list[Fault]:
        wanted = set(kinds)
        return [
            fault for fault in self._faults if fault.kind in wanted and fault.matches(method, target, resource_type)
        ]
