"""Last-known-good values of guarded properties, recorded while a resource was healthy.

Some fixes cannot be derived from the broken resource alone: an AI account whose
``allowedFqdnList`` was emptied gives no hint of what it held, and a Search service whose
``authOptions`` were cleared may have used ``aadOrApiKey``. Remediators ask a
:class:`BaselineSource` for the recorded values; without one, such plans are proposals only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .arm_json import as_bool, lookup


@dataclass(frozen=True)
class Baseline:
    """Recorded property values, keyed by the property path used in findings."""

    resource_id: str
    properties: Mapping[str, Any]
    recorded_at: str | None = None  # ISO 8601, when the values were last seen healthy
    source: str | None = None  # who or what recorded them (a sweep, an operator)

    def get(self, property_path: str) -> Any:
        for key, value in self.properties.items():
            if key.casefold() == property_path.casefold():
                return value
        return None

    def describe(self) -> str:
        when = f" recorded {self.recorded_at}" if self.recorded_at else ""
        by = f" by {self.source}" if self.source else ""
        return f"baseline{when}{by}"


class BaselineSource(Protocol):
    def baseline_for(self, resource_id: str) -> Baseline | None: ...


@dataclass
class InMemoryBaselines:
    """Baselines held in memory, keyed case-insensitively by resource id (ARM ids are)."""

    _by_id: dict[str, Baseline] = field(default_factory=dict)

    def record(self, baseline: Baseline) -> None:
        self._by_id[baseline.resource_id.casefold()] = baseline

    def baseline_for(self, resource_id: str) -> Baseline | None:
        return self._by_id.get(resource_id.casefold())


class _NoBaselines:
    def baseline_for(self, resource_id: str) -> Baseline | None:
        return None


NO_BASELINES: BaselineSource = _NoBaselines()


def baseline_of(resource: Mapping[str, Any], *, recorded_at: str | None = None, source: str | None = None) -> Baseline:
    """The values worth remembering from a resource while it is healthy.

    ``properties.allowedFqdnList`` only while the outbound restriction is on (otherwise the list
    restricts nothing and is no evidence of what the account needs), and a Search service's
    ``properties.authOptions``. Record it only from a resource with no findings.
    """
    properties: dict[str, Any] = {}
    restricted = as_bool(lookup(resource, "properties", "restrictOutboundNetworkAccess")) is True
    fqdns = lookup(resource, "properties", "allowedFqdnList")
    if restricted and isinstance(fqdns, list) and all(isinstance(fqdn, str) for fqdn in fqdns):
        properties["properties.allowedFqdnList"] = list(fqdns)
    auth_options = lookup(resource, "properties", "authOptions")
    if isinstance(auth_options, dict) and auth_options:
        properties["properties.authOptions"] = auth_options
    return Baseline(str(lookup(resource, "id")), properties, recorded_at, source)
