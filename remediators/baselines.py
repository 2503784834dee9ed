"""Last-known-good values of guarded properties, recorded while a resource was healthy.

Some fixes cannot be derived from the broken resource alone: an AI account whose
``allowedFqdnList`` was emptied gives no hint of what it held, and a Search service whose
``authOptions`` were cleared may have used ``aadOrApiKey``. Remediators ask a
:class:`BaselineSource` for the recorded values; without one, such plans are proposals only.
"""

from __future__ import annotations

import hashlib
import json
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


class TableBaselines:
    """Baselines in Azure Table Storage (Azurite locally): one row per resource, replaced when re-recorded.

    Row keys are a hash of the case-folded resource id (ARM ids are case-insensitive, and a row
    key may not hold ``/``); rows are partitioned by subscription.
    """

    TABLE = "baselines"

    def __init__(self, table: Any) -> None:
        self._table = table  # an azure.data.tables.TableClient

    @classmethod
    def from_connection_string(cls, connection_string: str, table_name: str = TABLE) -> TableBaselines:
        from azure.data.tables import TableServiceClient

        service = TableServiceClient.from_connection_string(connection_string)
        return cls(service.create_table_if_not_exists(table_name))

    def record(self, baseline: Baseline) -> None:
        from azure.data.tables import UpdateMode

        partition, row = _keys(baseline.resource_id)
        entity = {
            "PartitionKey": partition,
            "RowKey": row,
            "ResourceId": baseline.resource_id,
            "Properties": json.dumps(dict(baseline.properties), separators=(",", ":")),
            "RecordedAt": baseline.recorded_at or "",
            "Source": baseline.source or "",
        }
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def baseline_for(self, resource_id: str) -> Baseline | None:
        from azure.core.exceptions import ResourceNotFoundError

        partition, row = _keys(resource_id)
        try:
            entity = self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        return Baseline(
            str(entity["ResourceId"]),
            json.loads(entity["Properties"]),
            entity.get("RecordedAt") or None,
            entity.get("Source") or None,
        )


def _keys(resource_id: str) -> tuple[str, str]:
    folded = resource_id.casefold().rstrip("/")
    parts = folded.split("/")
    partition = parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else "-"
    return partition, hashlib.sha256(folded.encode("utf-8")).hexdigest()
