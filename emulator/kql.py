"""The small part of KQL (Kusto Query Language) the product sends to Log Analytics.

Understood::

    TableName
    | where Column == "text" and Other =~ "TEXT" and Code in (401, 403)
    | where TimeGenerated >= ago(60m)
    | where Id in~ ("/A", "/a/b") and tostring(Status) in ("401", "403")
    | where StatusCode >= 400 and StatusCode <= 499

``==`` is exact (case-sensitive for strings, as in KQL), ``=~`` ignores case, ``in (...)`` is a
list of literals and ``in~ (...)`` the same ignoring case, ``>=`` / ``<=`` compare numbers, and
``>= ago(60m)`` / ``<= ago(1h)`` a datetime column with now minus a timespan (``ms``, ``s``, ``m``,
``h``, ``d``); clauses join with ``and``; several ``where`` stages narrow in turn. The left side is
a column or ``tostring(Column)``, KQL's conversion to text (``401`` reads ``"401"``, ``true``
``"true"``, ``null`` ``""``), for columns whose type differs between tables or between
Microsoft's pages.
Literals are strings (double or single quotes), numbers, ``true`` and ``false``. Anything else is
refused with :class:`KqlError` naming the part, so a product query that grows beyond this subset
fails loudly instead of answering wrongly. Given the table's column types,
:meth:`Query.check_types` refuses what KQL refuses: a string column compared with a number (or the
other way round), ``=~`` / ``in~`` on anything but strings.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SUPPORTED = (
    'Table | where Col == "x" and Col =~ "x" and Col in (1, 2) and Col in~ ("x") and Col >= 1 and Col <= 9'
    " and TimeGenerated >= ago(1h) (a column or tostring(Column) on the left)"
)

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<timespan>\d+(?:\.\d+)?(?:ms|d|h|m|s)(?![\w.]))
    | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<op>in~(?![\w~])|==|=~|>=|<=|\||\(|\)|,)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>\S+?(?=\s|$|[|(),])|\S)
    )""",
    re.VERBOSE,
)
_COMPARISONS = ("==", "=~", ">=", "<=")
_FUNCTIONS = ("tostring",)
_TIMESPAN = re.compile(r"^(\d+(?:\.\d+)?)(ms|d|h|m|s)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class KqlError(ValueError):
    """A query outside the supported subset (``syntax``) or naming what does not exist (``semantic``)."""

    def __init__(self, message: str, *, semantic: bool = False) -> None:
        super().__init__(message)
        self.semantic = semantic


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    value: Any = None


@dataclass(frozen=True)
class Ago:
    """``ago(<timespan>)``: now minus ``seconds``, now being the twin's clock when the query runs."""

    seconds: float

    def moment(self, now: datetime.datetime) -> datetime.datetime:
        return now - datetime.timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class Clause:
    column: str
    operator: str  # "==", "=~", ">=", "<=", "in", "in~"
    values: tuple[Any, ...]
    function: str | None = None  # "tostring": compare the column's text

    def holds(self, row: Mapping[str, Any], now: datetime.datetime) -> bool:
        cell = row.get(self.column)
        if self.function == "tostring":
            cell = to_string(cell)
        if self.operator == "in":
            return any(_equal(cell, value) for value in self.values)
        if self.operator == "in~":
            return any(_equal_ignoring_case(cell, value) for value in self.values)
        value = self.values[0]
        if self.operator == "==":
            return _equal(cell, value)
        if self.operator == "=~":
            return _equal_ignoring_case(cell, value)
        if isinstance(value, Ago):
            moment = _datetime(cell)
            if moment is None:
                return False
            return moment >= value.moment(now) if self.operator == ">=" else moment <= value.moment(now)
        if isinstance(cell, bool) or not isinstance(cell, int | float):
            return False
        return bool(cell >= value) if self.operator == ">=" else bool(cell <= value)


@dataclass(frozen=True)
class Query:
    table: str
    clauses: tuple[Clause, ...]

    def columns_used(self) -> set[str]:
        return {clause.column for clause in self.clauses}

    def check_types(self, column_types: Mapping[str, str]) -> None:
        """Refuse comparisons KQL refuses, given each column's type (the table's schema).

        KQL compares a string with a string and a number with a number, never one with the
        other ("Cannot compare values of types string and long"); ``=~`` and ``in~`` are for
        strings only; ``ago()`` needs a datetime. ``tostring()`` makes any column a string.
        Raises :class:`KqlError` (semantic) naming the clause.
        """
        for clause in self.clauses:
            left = "string" if clause.function == "tostring" else column_types.get(clause.column, "dynamic")
            for value in clause.values:
                right = _literal_type(value)
                if clause.operator in ("=~", "in~") and (left not in ("string", "dynamic") or right != "string"):
                    raise KqlError(
                        f"'{clause.operator}' compares strings; {clause.column} is {left}, the value {right}",
                        semantic=True,
                    )
                if not _comparable(left, right):
                    raise KqlError(
                        f"Cannot compare values of types {left} and {right} ({clause.column} {clause.operator}). "
                        "Try adding explicit casts",
                        semantic=True,
                    )

    def select(self, rows: Iterable[Mapping[str, Any]], now: datetime.datetime) -> list[Mapping[str, Any]]:
        """The rows every clause holds for; ``ago()`` counts back from ``now`` (the twin's clock)."""
        return [row for row in rows if all(clause.holds(row, now) for clause in self.clauses)]


_NUMBERS = frozenset({"int", "long", "real", "decimal"})
_TEXT = frozenset({"string", "guid"})


def _literal_type(value: Any) -> str:
    if isinstance(value, Ago):
        return "datetime"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"  # KQL's integer literals are long
    if isinstance(value, float):
        return "real"
    return "string"


def _comparable(left: str, right: str) -> bool:
    if left == "dynamic":
        return True  # a property bag's values carry their own types
    if left in _NUMBERS:
        return right in _NUMBERS
    if left in _TEXT:
        return right == "string"
    return left == right


def _equal(cell: Any, value: Any) -> bool:
    if isinstance(cell, bool) or isinstance(value, bool):
        return type(cell) is type(value) and cell == value
    return bool(cell == value)


def _equal_ignoring_case(cell: Any, value: Any) -> bool:
    if isinstance(cell, str) and isinstance(value, str):
        return cell.casefold() == value.casefold()
    return _equal(cell, value)


def _datetime(cell: Any) -> datetime.datetime | None:
    if not isinstance(cell, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(cell.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def to_string(value: Any) -> str:
    """KQL's ``tostring()``: ``null`` is empty, booleans ``true``/``false``, whole reals without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def parse(text: str) -> Query:
    tokens = _tokenise(text)
    if not tokens:
        raise KqlError(f"empty query; the twin understands: {SUPPORTED}")
    parser = _Parser(tokens)
    return parser.query()


def _tokenise(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:  # pragma: no cover - the "other" alternative matches any non-space
            raise KqlError(f"unsupported KQL near {text[position : position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or "other"
        raw = match.group(kind)
        if kind == "string":
            tokens.append(Token("literal", raw, _unquote(raw)))
        elif kind == "number":
            tokens.append(Token("literal", raw, float(raw) if "." in raw else int(raw)))
        elif kind == "timespan":
            match = _TIMESPAN.match(raw)
            if match is None:  # pragma: no cover - the token pattern is the same
                raise KqlError(f"unsupported timespan {raw!r}")
            tokens.append(Token("timespan", raw, float(match.group(1)) * _SECONDS[match.group(2)]))
        elif kind == "name" and raw in ("true", "false"):
            tokens.append(Token("literal", raw, raw == "true"))
        else:
            tokens.append(Token(kind, raw))
    return tokens


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda escaped: {"n": "\n", "t": "\t"}.get(escaped.group(1), escaped.group(1)), body)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._at = 0

    def query(self) -> Query:
        table = self._take("name", "a table name")
        clauses: list[Clause] = []
        while self._peek() is not None:
            self._expect_text("|")
            operator = self._take("name", "a tabular operator after '|'")
            if operator != "where":
                raise KqlError(f"unsupported KQL operator '{operator}'; the twin understands only: {SUPPORTED}")
            clauses.extend(self._predicate())
        return Query(table, tuple(clauses))

    def _predicate(self) -> list[Clause]:
        clauses = [self._comparison()]
        while (token := self._peek()) is not None and token.text != "|":
            if token.text != "and":
                raise KqlError(f"unsupported KQL '{token.text}' between conditions; only 'and' joins them")
            self._at += 1
            clauses.append(self._comparison())
        return clauses

    def _comparison(self) -> Clause:
        column, function = self._operand()
        token = self._next("a comparison")
        if token.text in ("in", "in~"):
            self._expect_text("(")
            values = [self._literal()]
            while self._expect_text(",", ")") == ",":
                values.append(self._literal())
            return Clause(column, token.text, tuple(values), function)
        if token.text not in _COMPARISONS:
            raise KqlError(f"unsupported KQL operator '{token.text}'; comparisons understood: ==, =~, in, in~, >=, <=")
        if self._ago_follows():
            if token.text not in (">=", "<=") or function is not None:
                left = f"{function}({column})" if function else column
                raise KqlError(f"ago() is compared with a datetime column by >= or <=, not '{left} {token.text}'")
            return Clause(column, token.text, (self._ago(),))
        value = self._literal()
        if token.text in (">=", "<=") and (
            function is not None or isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise KqlError(f"'{column} {token.text}' needs a number column and a number, or ago(); got {value!r}")
        return Clause(column, token.text, (value,), function)

    def _ago_follows(self) -> bool:
        following = self._peek()
        after = self._tokens[self._at + 1] if self._at + 1 < len(self._tokens) else None
        return following is not None and following.text == "ago" and after is not None and after.text == "("

    def _ago(self) -> Ago:
        self._at += 2  # "ago", "("
        token = self._next("a timespan such as 60m")
        if token.kind != "timespan":
            raise KqlError(f"ago() takes a timespan such as 30s, 60m, 1h or 1d; got '{token.text}'")
        self._expect_text(")")
        return Ago(float(token.value))

    def _operand(self) -> tuple[str, str | None]:
        """A column, or ``tostring(Column)``: (column, function)."""
        name = self._take("name", "a column name")
        if name in ("and", "where"):
            raise KqlError(f"expected a column name, found '{name}'")
        following = self._peek()
        if following is None or following.text != "(":
            return name, None
        if name not in _FUNCTIONS:
            raise KqlError(f"unsupported KQL function '{name}'; the twin understands only tostring(Column)")
        self._at += 1
        column = self._take("name", "a column name inside tostring()")
        self._expect_text(")")
        return column, name

    def _literal(self) -> Any:
        token = self._next("a literal")
        if token.kind == "timespan":
            raise KqlError(f"unsupported KQL value '{token.text}'; timespans are understood only inside ago()")
        if token.kind != "literal":
            raise KqlError(f"unsupported KQL value '{token.text}'; values are strings, numbers, true or false")
        return token.value

    def _peek(self) -> Token | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _next(self, wanted: str) -> Token:
        token = self._peek()
        if token is None:
            raise KqlError(f"query ends where {wanted} was expected")
        self._at += 1
        return token

    def _take(self, kind: str, wanted: str) -> str:
        token = self._next(wanted)
        if token.kind != kind:
            raise KqlError(f"unsupported KQL '{token.text}' where {wanted} was expected")
        return token.text

    def _expect_text(self, *texts: str) -> str:
        token = self._next(" or ".join(f"'{text}'" for text in texts))
        if token.text not in texts:
            raise KqlError(f"unsupported KQL '{token.text}' where {' or '.join(repr(t) for t in texts)} was expected")
        return token.text
