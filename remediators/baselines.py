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
