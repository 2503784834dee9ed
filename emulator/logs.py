"""Log Analytics' query API over seeded diagnostic rows.

``POST /v1/workspaces/{workspaceId}/query`` with ``{"query": "<KQL>", "timespan": "PT1H"}``
answers ``{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}``
(the shape of the real API, https://api.loganalytics.io). Every workspace id answers from the same
tables. Rows are seeded per table as JSON objects; columns are the union of the rows' keys in
first-seen order, typed from their values (``bool``, ``int``/``long``, ``real``, ``datetime`` for
ISO-8601 text, ``dynamic`` for objects and lists, which the API sends as JSON text, else ``string``).

``timespan`` filters on ``TimeGenerated`` as the service does (an ISO-8601 duration ending now,
``start/end`` or ``start/duration``). So that seeded rows do not age out, a seeded
``TimeGenerated`` may be relative: ``"ago(5m)"`` (``s``, ``m``, ``h``, ``d``) is fixed when the row
is loaded.

Errors use the service's shape: 400 ``BadArgumentError`` with an ``innererror`` saying
``SyntaxError`` (outside the KQL subset, see :mod:`emulator.kql`) or ``SemanticError`` (a table or
column that does not exist).
"""

from __future__ import annotations

import datetime
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from . import kql
from .messages import Response, json_response, new_id

_AGO = re.compile(r"^ago\((\d+(?:\.\d+)?)([smhd])\)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


class LogStore:
    def __init__(self) -> None:
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add_rows(self, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
        now = datetime.datetime.now(datetime.UTC)
        loaded = []
        for row in rows:
            if not isinstance(row, Mapping):
                raise ValueError(f"table {table}: a row is a JSON object, got {row!r}")
            loaded.append(
                {
                    name: _resolve_relative(value, now) if name == "TimeGenerated" else value
                    for name, value in row.items()
                }
            )
        with self._lock:
            self._tables.setdefault(table, []).extend(loaded)
            return len(self._tables[table])

    def tables(self) -> dict[str, int]:
        with self._lock:
            return {name: len(rows) for name, rows in self._tables.items()}

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()

    def query(self, document: Any) -> Response:
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            return _bad_argument(
                "The request had some invalid properties", "BadArgumentError", "the body needs 'query'"
            )
        try:
            parsed = kql.parse(document["query"])
            window = _window(document.get("timespan"))
        except kql.KqlError as error:
            return _bad_argument("A syntax error occurred.", "SyntaxError", str(error))
        with self._lock:
            rows = self._tables.get(parsed.table)
            rows = list(rows) if rows is not None else None
        if rows is None:
            return _bad_argument(
                "A semantic error occurred.",
                "SemanticError",
                f"'where' operator: Failed to resolve table or column expression named '{parsed.table}'",
            )
        columns = _columns(rows)
        unknown = sorted(parsed.columns_used() - set(columns)) if rows else []
        if unknown:
            return _bad_argument(
                "A semantic error occurred.",
                "SemanticError",
                f"'where' operator: Failed to resolve column or scalar expression named '{unknown[0]}'",
            )
        selected = [row for row in parsed.select(rows) if _within(row, window)]
        table = {
            "name": "PrimaryResult",
            "columns": [{"name": name, "type": kind} for name, kind in columns.items()],
            "rows": [[_cell(row.get(name), kind) for name, kind in columns.items()] for row in selected],
        }
        return json_response(200, {"tables": [table]})


def _bad_argument(summary: str, inner_code: str, detail: str) -> Response:
    return json_response(
        400,
        {
            "error": {
                "message": "The request had some invalid properties",
                "code": "BadArgumentError",
                "correlationId": new_id(),
                "innererror": {
                    "code": inner_code,
                    "message": summary,
                    "innererror": {"code": inner_code, "message": detail},
                },
            }
        },
    )


def _columns(rows: list[dict[str, Any]]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            if columns.get(name) in (None, "unknown") and value is not None:
                columns[name] = _type_of(value)
            columns.setdefault(name, "unknown")
    return {name: ("string" if kind == "unknown" else kind) for name, kind in columns.items()}


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "real"
    if isinstance(value, dict | list):
        return "dynamic"
    if isinstance(value, str) and _DATETIME.match(value):
        return "datetime"
    return "string"


def _cell(value: Any, kind: str) -> Any:
    if kind == "dynamic" and value is not None and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"))
    return value


def _resolve_relative(value: Any, now: datetime.datetime) -> Any:
    if not isinstance(value, str):
        return value
    match = _AGO.match(value.strip())
    if match is None:
        return value
    moment = now - datetime.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _window(timespan: Any) -> tuple[datetime.datetime, datetime.datetime] | None:
    if timespan is None or timespan == "":
        return None
    if not isinstance(timespan, str):
        raise kql.KqlError(f"timespan must be ISO-8601 text, got {timespan!r}")
    now = datetime.datetime.now(datetime.UTC)
    if "/" not in timespan:
        return now - _duration(timespan), now
    first, second = timespan.split("/", 1)
    start = _instant(first)
    end = start + _duration(second) if second.startswith("P") else _instant(second)
    return start, end


def _duration(text: str) -> datetime.timedelta:
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT"):
        raise kql.KqlError(f"unsupported timespan {text!r}; use an ISO-8601 duration such as PT1H or P1D")
    days, hours, minutes, seconds = (float(group) if group else 0.0 for group in match.groups())
    return datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _instant(text: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise kql.KqlError(f"unsupported timespan instant {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _within(row: Mapping[str, Any], window: tuple[datetime.datetime, datetime.datetime] | None) -> bool:
    if window is None:
        return True
    stamp = row.get("TimeGenerated")
    if not isinstance(stamp, str):
        return True  # rows without a time are not the service's, but do not hide them
    try:
        moment = _instant(stamp)
    except kql.KqlError:
        return True
    return window[0] <= moment <= window[1]
