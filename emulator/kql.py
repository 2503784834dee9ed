"""The small part of KQL (Kusto Query Language) the product sends to Log Analytics.

Understood::

    TableName
    | where Column == "text" and Other =~ "TEXT" and Code in (401, 403)
    | where StatusCode >= 400 and StatusCode <= 499

``==`` is exact (case-sensitive for strings, as in KQL), ``=~`` ignores case, ``in (...)`` is a
list of literals, ``>=`` / ``<=`` compare numbers; clauses join with ``and``; several ``where``
stages narrow in turn. Literals are strings (double or single quotes), numbers, ``true`` and
``false``. Anything else is refused with :class:`KqlError` naming the part, so a product query
that grows beyond this subset fails loudly instead of answering wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SUPPORTED = 'Table | where Col == "x" and Col =~ "x" and Col in (1, 2) and Col >= 1 and Col <= 9'

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>==|=~|>=|<=|\||\(|\)|,)
    | (?P<other>\S+?(?=\s|$|[|(),])|\S)
    )""",
    re.VERBOSE,
)
_COMPARISONS = ("==", "=~", ">=", "<=")


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
class Clause:
    column: str
    operator: str  # "==", "=~", ">=", "<=", "in"
    values: tuple[Any, ...]

    def holds(self, row: Mapping[str, Any]) -> bool:
        cell = row.get(self.column)
        if self.operator == "in":
            return any(_equal(cell, value) for value in self.values)
        value = self.values[0]
        if self.operator == "==":
            return _equal(cell, value)
        if self.operator == "=~":
            if isinstance(cell, str) and isinstance(value, str):
                return cell.casefold() == value.casefold()
            return _equal(cell, value)
        if isinstance(cell, bool) or not isinstance(cell, int | float):
            return False
        return bool(cell >= value) if self.operator == ">=" else bool(cell <= value)


@dataclass(frozen=True)
class Query:
    table: str
    clauses: tuple[Clause, ...]

    def columns_used(self) -> set[str]:
        return {clause.column for clause in self.clauses}

    def select(self, rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [row for row in rows if all(clause.holds(row) for clause in self.clauses)]


def _equal(cell: Any, value: Any) -> bool:
    if isinstance(cell, bool) or isinstance(value, bool):
        return type(cell) is type(value) and cell == value
    return bool(cell == value)


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
        column = self._take("name", "a column name")
        if column in ("and", "where"):
            raise KqlError(f"expected a column name, found '{column}'")
        token = self._next("a comparison")
        if token.text == "in":
            self._expect_text("(")
            values = [self._literal()]
            while self._expect_text(",", ")") == ",":
                values.append(self._literal())
            return Clause(column, "in", tuple(values))
        if token.text not in _COMPARISONS:
            raise KqlError(f"unsupported KQL operator '{token.text}'; comparisons understood: ==, =~, in, >=, <=")
        value = self._literal()
        if token.text in (">=", "<=") and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise KqlError(f"'{column} {token.text}' needs a number; got {value!r}")
        return Clause(column, token.text, (value,))

    def _literal(self) -> Any:
        token = self._next("a literal")
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
