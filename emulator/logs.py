"""Log Analytics' query API over seeded diagnostic rows, each table held to Microsoft's published schema.

``POST /v1/workspaces/{workspaceId}/query`` with ``{"query": "<KQL>", "timespan": "PT1H"}``
answers ``{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}``
(the shape of the real API, https://api.loganalytics.io). Every workspace id answers from the same
tables.

A table exists once rows are seeded for it (a workspace has no diagnostic table until a
diagnostic setting sends one), and only tables with a schema in ``emulator/log_schemas/`` can be
seeded: one JSON file per table holding the column names and types copied from Microsoft's table
reference, with that page's repository, path and commit. The schema, not the rows, decides what
exists:

* a query naming a column the schema does not have is the service's 400 ``SemanticError``,
  whatever rows are seeded, so a product query that reads an unpublished column fails a test;
* comparisons are type-checked against the schema as KQL does (a string column is not compared
  with a number: :meth:`emulator.kql.Query.check_types`);
* a seeded row naming a column outside the schema, or a value of the wrong type, is refused
  (``ValueError``) before anything is stored;
* an answer lists every column of the schema, in its order and with its type; a column a row
  leaves out reads ``null``. ``dynamic`` values are sent as JSON text, as the API does.

``timespan`` filters on ``TimeGenerated`` as the service does (an ISO-8601 duration ending now,
``start/end`` or ``start/duration``). A seeded ``TimeGenerated`` may be relative: ``"ago(5m)"``
(``s``, ``m``, ``h``, ``d``) is fixed when the row is loaded. "Now", for loading, for ``ago()`` in a
query and for a duration ``timespan``, is the twin's clock (:mod:`emulator.clock`): a test that
freezes it never sees a row age out of a window, however slowly it runs.

Errors use the service's shape: 400 ``BadArgumentError`` with an ``innererror`` saying
``SyntaxError`` (outside the KQL subset, see :mod:`emulator.kql`) or ``SemanticError`` (a table or
column that does not exist, or a comparison of mismatched types).
"""

from __future__ import annotations

import datetime
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import kql
from .messages import Response, json_response, new_id

_AGO = re.compile(r"^ago\((\d+(?:\.\d+)?)([smhd])\)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


SCHEMA_DIR = Path(__file__).parent / "log_schemas"


@dataclass(frozen=True)
class TableSchema:
    """A table's published columns (name -> Log Analytics type, in Microsoft's order) and where they come from."""

    table: str
    columns: dict[str, str]
    source: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> TableSchema:
        document = json.loads(path.read_text(encoding="utf-8"))
        columns = {column["name"]: column["type"] for column in document["columns"]}
        return cls(document["table"], columns, document["source"])

    def check_row(self, row: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` for a column the table does not publish or a value its type cannot hold."""
        unknown = [name for name in row if name not in self.columns]
        if unknown:
            raise ValueError(
                f"table {self.table}: {', '.join(sorted(unknown))} not in Microsoft's published columns "
                f"({self.source['path']}); the table has: {', '.join(self.columns)}"
            )
        for name, value in row.items():
            if value is not None and not _fits(value, self.columns[name]):
                raise ValueError(f"table {self.table}: {name} is {self.columns[name]}, got {value!r}")


def load_schemas(directory: Path = SCHEMA_DIR) -> dict[str, TableSchema]:
    schemas = [TableSchema.load(path) for path in sorted(directory.glob("*.json"))]
    return {schema.table: schema for schema in schemas}


SCHEMAS = load_schemas()


Now = Callable[[], datetime.datetime]


def _real_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class LogStore:
    def __init__(self, schemas: Mapping[str, TableSchema] = SCHEMAS, *, now: Now = _real_now) -> None:
        self._schemas = dict(schemas)
        self._now = now  # the twin's clock
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add_rows(self, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append rows to ``table``; all or none: a row outside the schema refuses the whole batch."""
        schema = self._schemas.get(table)
        if schema is None:
            raise ValueError(
                f"no published schema for table {table!r} in {SCHEMA_DIR.name}/; the twin knows: "
                f"{', '.join(sorted(self._schemas))}"
            )
        now = self._now()
        loaded = []
        for row in rows:
            if not isinstance(row, Mapping):
                raise ValueError(f"table {table}: a row is a JSON object, got {row!r}")
            resolved = {
                name: _resolve_relative(value, now) if name == "TimeGenerated" else value for name, value in row.items()
            }
            schema.check_row(resolved)
            loaded.append(resolved)
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
        now = self._now()
        try:
            parsed = kql.parse(document["query"])
            window = _window(document.get("timespan"), now)
        except kql.KqlError as error:
            return _bad_argument("A syntax error occurred.", "SyntaxError", str(error))
        with self._lock:
            rows = self._tables.get(parsed.table)
            rows = list(rows) if rows is not None else None
        schema = self._schemas.get(parsed.table)
        if rows is None or schema is None:
            return _semantic_error(
                f"'where' operator: Failed to resolve table or column expression named '{parsed.table}'"
            )
        unknown = sorted(parsed.columns_used() - set(schema.columns))
        if unknown:
            return _semantic_error(
                f"'where' operator: Failed to resolve column or scalar expression named '{unknown[0]}'"
            )
        try:
            parsed.check_types(schema.columns)
        except kql.KqlError as error:
            return _semantic_error(f"'where' operator: {error}")
        selected = [row for row in parsed.select(rows, now) if _within(row, window)]
        table = {
            "name": "PrimaryResult",
            "columns": [{"name": name, "type": kind} for name, kind in schema.columns.items()],
            "rows": [[_cell(row.get(name), kind) for name, kind in schema.columns.items()] for row in selected],
        }
        return json_response(200, {"tables": [table]})


def _semantic_error(detail: str) -> Response:
    return _bad_argument("A semantic error occurred.", "SemanticError", detail)


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


_INTEGERS = {"int": (-(2**31), 2**31), "long": (-(2**63), 2**63)}


def _fits(value: Any, kind: str) -> bool:
    """Whether a JSON value can be a cell of a column of type ``kind``."""
    if kind == "dynamic":
        return True
    if isinstance(value, bool):
        return kind == "bool"
    if kind in _INTEGERS:
        low, high = _INTEGERS[kind]
        return isinstance(value, int) and low <= value < high
    if kind == "real":
        return isinstance(value, int | float)
    if kind == "datetime":
        return isinstance(value, str) and _DATETIME.match(value) is not None
    if kind in ("string", "guid"):
        return isinstance(value, str)
    return False


def _cell(value: Any, kind: str) -> Any:
    if kind == "dynamic" and value is not None and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"))
    if kind == "real" and isinstance(value, int):
        return float(value)
    return value


def _resolve_relative(value: Any, now: datetime.datetime) -> Any:
    if not isinstance(value, str):
        return value
    match = _AGO.match(value.strip())
    if match is None:
        return value
    moment = now - datetime.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _window(timespan: Any, now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime] | None:
    if timespan is None or timespan == "":
        return None
    if not isinstance(timespan, str):
        raise kql.KqlError(f"timespan must be ISO-8601 text, got {timespan!r}")
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
