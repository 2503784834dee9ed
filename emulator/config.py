"""The twin's own settings: ``_twin.json`` in the seed directory (every field optional)::

    {
      "tenantId": "3f1e4d2c-0b5a-4c69-8d7e-6a5b4c3d2e1f",
      "identity": {"clientId": "...", "objectId": "...", "name": "foundry-guard", "resourceId": "/subscriptions/..."},
      "identityHeader": "a-fixed-secret",
      "lro": {"cosmosPolls": 1, "cognitivePolls": 1, "searchSettleReads": 1,
              "cosmosSettleSeconds": 0, "cognitiveSettleSeconds": 0, "retryAfter": null},
      "faults": [{"kind": "throttle", "method": "PATCH", "times": 1, "retryAfter": 1}],
      "logs": {"CDBDataPlaneRequests": [{"StatusCode": 403, "KeyType": "PrimaryMasterKey"}]},
      "subscribers": ["https://127.0.0.1:7071/runtime/webhooks/EventGrid?functionName=on_resource_write"]
    }

Unknown fields are refused, so a typo fails at start-up rather than silently doing nothing; so are
log rows naming a column their table does not publish (:mod:`emulator.logs`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .tokens import Identity

_FIELDS = {"tenantId", "identity", "identityHeader", "lro", "faults", "logs", "subscribers"}
_LRO_FIELDS = {
    "cosmosPolls": "cosmos_polls",
    "cognitivePolls": "cognitive_polls",
    "searchSettleReads": "search_settle_reads",
    "cosmosSettleSeconds": "cosmos_settle_seconds",
    "cognitiveSettleSeconds": "cognitive_settle_seconds",
    "retryAfter": "retry_after",
}
_LRO_COUNTS = frozenset({"cosmosPolls", "cognitivePolls", "searchSettleReads"})
_LRO_SECONDS = frozenset({"cosmosSettleSeconds", "cognitiveSettleSeconds"})


class ConfigError(ValueError):
    """``_twin.json`` (or a settings call) the twin does not understand."""


@dataclass
class LroSettings:
    """How long long-running and settling writes take. An update finishes once both hold: its
    in-progress polls are used up, and its settle time has passed on the twin's clock."""

    cosmos_polls: int = 1  # Cosmos DB operation-status polls answering "Enqueued" before "Succeeded"
    cognitive_polls: int = 1  # Cognitive Services operation polls answering "Updating" before "Succeeded"
    search_settle_reads: int = 1  # GETs of a Search service still reading "provisioning" after a write
    # Seconds of the twin's clock an update takes. Azure's recorded traffic: about 31 s for Cosmos DB and
    # for Cognitive Services (emulator/README.md); 0 (the default) finishes on polls alone.
    cosmos_settle_seconds: float = 0
    cognitive_settle_seconds: float = 0
    # Retry-After (seconds) on long-running answers still in progress. None (the default): no header,
    # as Azure's recorded Cosmos DB and Cognitive Services updates send none, so clients poll at their
    # own interval (the SDKs' default is 30 s; the tests use polling_interval=0).
    retry_after: int | None = None

    def update(self, document: Mapping[str, Any]) -> None:
        unknown = sorted(set(document) - set(_LRO_FIELDS))
        if unknown:
            raise ConfigError(f"lro: unknown field(s) {', '.join(unknown)}; known: {', '.join(_LRO_FIELDS)}")
        checked = {name: _lro_value(name, document[name]) for name in _LRO_FIELDS if name in document}
        for name, value in checked.items():  # all or nothing
            setattr(self, _LRO_FIELDS[name], value)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, attribute) for name, attribute in _LRO_FIELDS.items()}


def _lro_value(name: str, value: Any) -> Any:
    if name in _LRO_SECONDS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
            raise ConfigError(f"lro.{name} must be a non-negative number of seconds, got {value!r}")
        return value
    if name == "retryAfter" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        kind = "integer" if name in _LRO_COUNTS else "integer or null"
        raise ConfigError(f"lro.{name} must be a non-negative {kind}, got {value!r}")
    return value


@dataclass
class TwinConfig:
    identity: Identity = field(default_factory=Identity)
    identity_header: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lro: LroSettings = field(default_factory=LroSettings)
    faults: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    subscribers: list[str] = field(default_factory=list)

    @property
    def tenant_id(self) -> str:
        return self.identity.tenant_id

    @classmethod
    def from_json(cls, document: Any) -> TwinConfig:
        if not isinstance(document, dict):
            raise ConfigError("_twin.json must hold a JSON object")
        unknown = sorted(set(document) - _FIELDS)
        if unknown:
            raise ConfigError(f"_twin.json: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_FIELDS))}")
        config = cls()
        tenant = document.get("tenantId")
        identity = document.get("identity", {})
        if not isinstance(identity, dict):
            raise ConfigError("identity must be an object")
        try:
            config.identity = Identity.from_json(identity, str(tenant) if tenant else None)
        except (TypeError, ValueError) as error:
            raise ConfigError(str(error)) from error
        if "identityHeader" in document:
            config.identity_header = _text(document["identityHeader"], "identityHeader")
        config.lro.update(_object(document.get("lro", {}), "lro"))
        config.faults = _list(document.get("faults", []), "faults")
        config.logs = {
            table: _list(rows, f"logs.{table}") for table, rows in _object(document.get("logs", {}), "logs").items()
        }
        config.subscribers = [
            _text(url, "subscribers[]") for url in _list(document.get("subscribers", []), "subscribers")
        ]
        return config


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be a JSON array")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a non-empty string")
    return value
