"""A parser for Bicep as ``infra/`` writes it: test tooling, not part of the product.

No Bicep compiler runs on a development machine or in CI, and pycep (which checkov and
``tests/test_infra.py`` use) does not keep what a type check needs: it reads ``'name'`` and
``name`` (a string and a reference) as the same Python string, and drops the non-null
assertion ``!``. This parser keeps every expression as a small tree with its line number.

It covers the language ``infra/`` uses (the grammar is Azure/bicep's, docs/grammar.md):
``targetScope``, ``metadata``, ``param`` (any type, decorators), ``var``, ``resource`` (with
``existing``, nested child resources, ``if`` conditions and ``for`` loops), ``module``, ``output``;
objects (newline- or comma-separated), arrays, ``for`` expressions, string interpolation and
multi-line strings, the operators and their precedence (``?:``, ``??``, ``||``, ``&&``,
comparisons, arithmetic, ``!``, unary ``-``), member and index access with their safe forms
(``.?`` and ``[?``), the non-null assertion ``!``, nested-resource access ``::``, function calls
(``az.``/``sys.`` namespaces included) and lambdas. Anything else (``type``, ``func``, ``import``,
``extension``) stops with :class:`BicepSyntaxError` naming the line, so a construct the checks do
not understand is never skipped silently.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# -- tokens -----------------------------------------------------------------------------------------

# Longest first, so "??" is read before "?" and "!=" before "!".
OPERATORS = (
    "??",
    ".?",
    "::",
    "==",
    "!=",
    "=~",
    "!~",
    "<=",
    ">=",
    "&&",
    "||",
    "=>",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    ".",
    "?",
    "!",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "=",
    "@",
    "|",
)
ESCAPES = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


class BicepSyntaxError(ValueError):
    """Text this parser cannot read; the message names the file and line."""


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "int", "string", "op", "newline" or "end"
    text: str
    line: int
    # A string's pieces in order: literal text, and the tokens of each ${...} interpolation.
    parts: tuple[str | tuple[Token, ...], ...] = ()


class Lexer:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.at = 0
        self.line = 1

    def error(self, message: str) -> BicepSyntaxError:
        return BicepSyntaxError(f"{self.path}:{self.line}: {message}")

    def tokens(self) -> list[Token]:
        found = self._until(closing_brace=False)
        found.append(Token("end", "", self.line))
        return found

    def _until(self, *, closing_brace: bool) -> list[Token]:
        """Tokens up to the end of the text, or (inside ``${...}``) up to its unmatched ``}``."""
        found: list[Token] = []
        depth = 0
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char == "\n":
                if found and found[-1].kind != "newline":
                    found.append(Token("newline", "\n", self.line))
                self.line += 1
                self.at += 1
            elif char in " \t\r":
                self.at += 1
            elif text.startswith("//", self.at):
                end = text.find("\n", self.at)
                self.at = len(text) if end < 0 else end
            elif text.startswith("/*", self.at):
                end = text.find("*/", self.at + 2)
                if end < 0:
                    raise self.error("a /* comment is never closed")
                self.line += text.count("\n", self.at, end)
                self.at = end + 2
            elif text.startswith("'''", self.at):
                end = text.find("'''", self.at + 3)
                if end < 0:
                    raise self.error("a ''' string is never closed")
                value = text[self.at + 3 : end]
                # A multi-line string drops one line break right after its opening quotes.
                value = value[2:] if value.startswith("\r\n") else value[1:] if value.startswith("\n") else value
                found.append(Token("string", value, self.line, (value,)))
                self.line += text.count("\n", self.at, end)
                self.at = end + 3
            elif char == "'":
                found.append(self._string())
            elif char.isdigit():
                start = self.at
                while self.at < len(text) and text[self.at].isdigit():
                    self.at += 1
                found.append(Token("int", text[start : self.at], self.line))
            elif char.isalpha() or char == "_":
                start = self.at
                while self.at < len(text) and (text[self.at].isalnum() or text[self.at] == "_"):
                    self.at += 1
                found.append(Token("name", text[start : self.at], self.line))
            else:
                operator = next((o for o in OPERATORS if text.startswith(o, self.at)), None)
                if operator is None:
                    raise self.error(f"unexpected character {char!r}")
                if closing_brace and operator == "}" and depth == 0:
                    self.at += 1
                    return found
                depth += {"{": 1, "}": -1}.get(operator, 0)
                found.append(Token("op", operator, self.line))
                self.at += len(operator)
        if closing_brace:
            raise self.error("a ${ interpolation is never closed")
        return found

    def _string(self) -> Token:
        line = self.line
        self.at += 1  # the opening quote
        parts: list[str | tuple[Token, ...]] = []
        literal: list[str] = []
        text = self.text
        while True:
            if self.at >= len(text) or text[self.at] == "\n":
                raise self.error("a string is never closed on its line")
            char = text[self.at]
            if char == "'":
                self.at += 1
                break
            if char == "\\":
                escaped = text[self.at + 1 : self.at + 2]
                if escaped in ESCAPES:
                    literal.append(ESCAPES[escaped])
                    self.at += 2
                elif escaped == "u" and text.startswith("{", self.at + 2):
                    end = text.index("}", self.at)
                    literal.append(chr(int(text[self.at + 3 : end], 16)))
                    self.at = end + 1
                else:
                    raise self.error(f"unknown escape \\{escaped} in a string")
            elif text.startswith("${", self.at):
                self.at += 2
                parts.append("".join(literal))
                literal = []
                inner = self._until(closing_brace=True)
                parts.append((*inner, Token("end", "", self.line)))
            else:
                literal.append(char)
                self.at += 1
        parts.append("".join(literal))
        pieces = tuple(p for p in parts if p != "")
        shown = "".join(p if isinstance(p, str) else "${...}" for p in pieces)
        return Token("string", shown, line, pieces)


# -- the syntax tree --------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    line: int


@dataclass(eq=False)
class String(Node):
    """A string: literal text and interpolated expressions, in order."""

    parts: list[str | Expression]

    @property
    def literal(self) -> str | None:
        """The string's value when it interpolates nothing, else None."""
        if all(isinstance(part, str) for part in self.parts):
            return "".join(part for part in self.parts if isinstance(part, str))
        return None


@dataclass(eq=False)
class Integer(Node):
    value: int


@dataclass(eq=False)
class Boolean(Node):
    value: bool


@dataclass(eq=False)
class Null(Node):
    pass


@dataclass(eq=False)
class Property(Node):
    """``key: value`` in an object. ``key`` is None when the key interpolates (``'${id}': {}``)."""

    key: str | None
    key_expression: String | None
    value: Expression


@dataclass(eq=False)
class Object(Node):
    properties: list[Property]
    resources: list[Resource] = field(default_factory=list)  # child resources declared in a resource body

    def get(self, key: str) -> Property | None:
        return next((p for p in self.properties if p.key == key), None)


@dataclass(eq=False)
class Array(Node):
    items: list[Expression]


@dataclass(eq=False)
class Reference(Node):
    """A name: a parameter, variable, resource, module, output, loop variable or lambda parameter."""

    name: str


@dataclass(eq=False)
class Member(Node):
    """``target.name``, or ``target.?name`` when ``safe``."""

    target: Expression
    name: str
    safe: bool = False


@dataclass(eq=False)
class Index(Node):
    """``target[index]``, or ``target[?index]`` when ``safe``."""

    target: Expression
    index: Expression
    safe: bool = False


@dataclass(eq=False)
class NonNull(Node):
    """``target!``: the author asserts the value is not null."""

    target: Expression


@dataclass(eq=False)
class Nested(Node):
    """``target::name``: a child resource declared inside ``target``."""

    target: Expression
    name: str


@dataclass(eq=False)
class Call(Node):
    """``function(arguments)``; ``function`` is a Reference, or a Member (``az.f``, ``resource.listKeys``)."""

    function: Expression
    arguments: list[Expression]

    @property
    def name(self) -> str | None:
        if isinstance(self.function, Reference):
            return self.function.name
        target = self.function.target if isinstance(self.function, Member) else None
        if isinstance(target, Reference) and target.name in ("az", "sys"):
            return self.function.name if isinstance(self.function, Member) else None
        return None


@dataclass(eq=False)
class Unary(Node):
    operator: str
    operand: Expression


@dataclass(eq=False)
class Binary(Node):
    operator: str
    left: Expression
    right: Expression


@dataclass(eq=False)
class Ternary(Node):
    condition: Expression
    when_true: Expression
    when_false: Expression


@dataclass(eq=False)
class Lambda(Node):
    parameters: list[str]
    body: Expression


@dataclass(eq=False)
class For(Node):
    """``[for item in iterable: body]`` or ``[for (item, index) in iterable: body]``."""

    item: str
    index: str | None
    iterable: Expression
    body: Expression


@dataclass(eq=False)
class Condition(Node):
    """``if (condition) { ... }``: the body of a resource or module deployed only when it holds."""

    condition: Expression
    body: Object


Expression = (
    String
    | Integer
    | Boolean
    | Null
    | Object
    | Array
    | Reference
    | Member
    | Index
    | NonNull
    | Nested
    | Call
    | Unary
    | Binary
    | Ternary
    | Lambda
    | For
    | Condition
)


@dataclass(eq=False)
class Param(Node):
    name: str
    type: str  # as written: "string", "int", "string?", "'a' | 'b'", ...
    default: Expression | None
    decorators: list[Call]

    @property
    def nullable(self) -> bool:
        return self.type.endswith("?")

    def decorator(self, name: str) -> Call | None:
        return next((d for d in self.decorators if d.name == name), None)


@dataclass(eq=False)
class Variable(Node):
    name: str
    value: Expression


@dataclass(eq=False)
class Resource(Node):
    name: str
    type: str  # as written: "Microsoft.Storage/storageAccounts@2023-05-01", or "blobServices" when nested
    existing: bool
    body: Expression  # Object, Condition, or For around either
    decorators: list[Call]
    parent: Resource | None = None  # the resource this one is declared inside

    @property
    def symbol(self) -> str:
        """How other code names it: ``account``, or ``storage::blobs`` when nested."""
        return self.name if self.parent is None else f"{self.parent.symbol}::{self.name}"


@dataclass(eq=False)
class Module(Node):
    name: str
    path: str
    body: Expression
    decorators: list[Call]


@dataclass(eq=False)
class Output(Node):
    name: str
    type: str
    value: Expression


@dataclass(eq=False)
class BicepFile:
    path: Path
    target_scope: str = "resourceGroup"
    params: dict[str, Param] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)  # every one, nested ones included
    modules: dict[str, Module] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)

    def resource(self, symbol: str) -> Resource | None:
        return next((r for r in self.resources if r.symbol == symbol), None)


def unwrap(body: Expression) -> tuple[Object, Expression | None, For | None]:
    """A resource's or module's own object, the condition it is deployed under, and its loop."""
    loop = body if isinstance(body, For) else None
    inner = body.body if isinstance(body, For) else body
    condition = inner.condition if isinstance(inner, Condition) else None
    inner = inner.body if isinstance(inner, Condition) else inner
    if not isinstance(inner, Object):
        raise BicepSyntaxError(f"line {body.line}: a declaration's body is not an object")
    return inner, condition, loop


def children(node: Expression) -> Iterator[Expression]:
    """The expressions directly inside ``node``."""
    if isinstance(node, String):
        yield from (p for p in node.parts if not isinstance(p, str))
    elif isinstance(node, Object):
        for prop in node.properties:
            if prop.key_expression is not None:
                yield prop.key_expression
            yield prop.value
    elif isinstance(node, Array):
        yield from node.items
    elif isinstance(node, Member | NonNull | Nested):
        yield node.target
    elif isinstance(node, Index):
        yield node.target
        yield node.index
    elif isinstance(node, Call):
        yield node.function
        yield from node.arguments
    elif isinstance(node, Unary):
        yield node.operand
    elif isinstance(node, Binary):
        yield node.left
        yield node.right
    elif isinstance(node, Ternary):
        yield node.condition
        yield node.when_true
        yield node.when_false
    elif isinstance(node, Lambda):
        yield node.body
    elif isinstance(node, For):
        yield node.iterable
        yield node.body
    elif isinstance(node, Condition):
        yield node.condition
        yield node.body


def locals_bound_by(node: Expression) -> set[str]:
    """Names ``node`` binds for the expressions inside it (loop variables, lambda parameters)."""
    if isinstance(node, For):
        return {node.item} | ({node.index} if node.index else set())
    if isinstance(node, Lambda):
        return set(node.parameters)
    return set()


# -- the parser -------------------------------------------------------------------------------------


class Parser:
    def __init__(self, tokens: list[Token] | tuple[Token, ...], path: str) -> None:
        self.tokens = tokens
        self.path = path
        self.at = 0

    # Looking at tokens.

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def is_op(self, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "op" and token.text == text

    def is_name(self, text: str | None = None, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "name" and (text is None or token.text == text)

    def advance(self) -> Token:
        token = self.peek()
        self.at += 1
        return token

    def error(self, message: str, token: Token | None = None) -> BicepSyntaxError:
        token = token or self.peek()
        found = {"newline": "the end of the line", "end": "the end of the file"}.get(token.kind, repr(token.text))
        return BicepSyntaxError(f"{self.path}:{token.line}: {message}, found {found}")

    def expect_op(self, text: str) -> Token:
        if not self.is_op(text):
            raise self.error(f"expected {text!r}")
        return self.advance()

    def expect_name(self, text: str | None = None) -> Token:
        if not self.is_name(text):
            raise self.error(f"expected {text!r}" if text else "expected a name")
        return self.advance()

    def expect_string(self) -> str:
        token = self.peek()
        if token.kind != "string" or any(not isinstance(p, str) for p in token.parts):
            raise self.error("expected a string without interpolation")
        self.advance()
        return "".join(p for p in token.parts if isinstance(p, str))

    def skip_newlines(self) -> None:
        while self.peek().kind == "newline":
            self.advance()

    def end_of_statement(self) -> None:
        if self.peek().kind not in ("newline", "end"):
            raise self.error("expected the end of the line")

    # Declarations.

    def file(self, path: Path) -> BicepFile:
        document = BicepFile(path)
        decorators: list[Call] = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if token.kind == "end":
                break
            if self.is_op("@"):
                decorators.append(self.decorator())
                continue
            keyword = self.expect_name().text
            if keyword == "targetScope":
                self.expect_op("=")
                document.target_scope = self.expect_string()
            elif keyword == "metadata":
                self.expect_name()
                self.expect_op("=")
                self.expression()
            elif keyword == "param":
                param = self.param(token.line, decorators)
                document.params[param.name] = param
            elif keyword == "var":
                name = self.expect_name().text
                self.expect_op("=")
                document.variables[name] = Variable(token.line, name, self.expression())
            elif keyword == "resource":
                resource = self.resource(token.line, decorators, parent=None)
                document.resources.extend(flattened(resource))
            elif keyword == "module":
                name = self.expect_name().text
                path_text = self.expect_string()
                self.expect_op("=")
                document.modules[name] = Module(token.line, name, path_text, self.declaration_body(), decorators)
            elif keyword == "output":
                output = self.output(token.line)
                document.outputs[output.name] = output
            else:
                raise self.error(f"{keyword!r} declarations are not understood here (tests/bicep_syntax.py)", token)
            decorators = []
            self.end_of_statement()
        return document

    def decorator(self) -> Call:
        self.expect_op("@")
        call = self.postfix()
        if not isinstance(call, Call):
            raise self.error("a decorator is a function call")
        return call

    def type_text(self) -> str:
        """A type as written, up to ``=`` or the end of the line (brackets may span lines)."""
        words: list[str] = []
        depth = 0
        while True:
            token = self.peek()
            if token.kind == "end" or (depth == 0 and (token.kind == "newline" or self.is_op("="))):
                break
            if token.kind == "op" and token.text in "{[(":
                depth += 1
            elif token.kind == "op" and token.text in "}])":
                depth -= 1
            words.append(f"'{token.text}'" if token.kind == "string" else token.text)
            self.advance()
        if not words:
            raise self.error("expected a type")
        return " ".join(words).replace(" ?", "?")

    def param(self, line: int, decorators: list[Call]) -> Param:
        name = self.expect_name().text
        type_ = self.type_text()
        default = None
        if self.is_op("="):
            self.advance()
            default = self.expression()
        return Param(line, name, type_, default, decorators)

    def output(self, line: int) -> Output:
        name = self.expect_name().text
        if self.is_name("resource"):
            self.advance()
            type_ = f"resource '{self.expect_string()}'"
        else:
            type_ = self.type_text()
        self.expect_op("=")
        return Output(line, name, type_, self.expression())

    def resource(self, line: int, decorators: list[Call], parent: Resource | None) -> Resource:
        name = self.expect_name().text
        type_ = self.expect_string()
        existing = False
        if self.is_name("existing"):
            self.advance()
            existing = True
        self.expect_op("=")
        resource = Resource(line, name, type_, existing, Null(line), decorators, parent)
        resource.body = self.declaration_body(owner=resource)
        return resource

    def declaration_body(self, owner: Resource | None = None) -> Expression:
        if self.is_op("["):
            body = self.array(owner=owner)
            if not isinstance(body, For):
                raise self.error("a declaration's list must be a for expression")
            return body
        if self.is_name("if"):
            return self.condition(owner)
        return self.object(owner)

    def condition(self, owner: Resource | None) -> Condition:
        line = self.expect_name("if").line
        self.expect_op("(")
        self.skip_newlines()
        condition = self.expression()
        self.skip_newlines()
        self.expect_op(")")
        return Condition(line, condition, self.object(owner))

    # Expressions, loosest binding first (Azure/bicep docs, operators: precedence and associativity).

    def expression(self) -> Expression:
        if self.is_name() and self.is_op("=>", 1):
            line = self.peek().line
            parameter = self.advance().text
            self.advance()
            return Lambda(line, [parameter], self.expression())
        if self.is_op("(") and self._lambda_ahead():
            line = self.advance().line
            parameters = []
            while not self.is_op(")"):
                parameters.append(self.expect_name().text)
                if self.is_op(","):
                    self.advance()
            self.advance()
            self.expect_op("=>")
            return Lambda(line, parameters, self.expression())
        condition = self.coalesce()
        if self.is_op("?"):
            self.advance()
            self.skip_newlines()
            when_true = self.expression()
            self.skip_newlines()
            self.expect_op(":")
            self.skip_newlines()
            return Ternary(condition.line, condition, when_true, self.expression())
        return condition

    def _lambda_ahead(self) -> bool:
        ahead = 1
        while self.is_name(ahead=ahead) or self.is_op(",", ahead):
            ahead += 1
        return self.is_op(")", ahead) and self.is_op("=>", ahead + 1)

    def _binary(self, operators: tuple[str, ...], operand: str) -> Expression:
        left: Expression = getattr(self, operand)()
        while self.peek().kind == "op" and self.peek().text in operators:
            operator = self.advance().text
            self.skip_newlines()
            right: Expression = getattr(self, operand)()
            left = Binary(left.line, operator, left, right)
        return left

    def coalesce(self) -> Expression:
        return self._binary(("??",), "logical_or")

    def logical_or(self) -> Expression:
        return self._binary(("||",), "logical_and")

    def logical_and(self) -> Expression:
        return self._binary(("&&",), "equality")

    def equality(self) -> Expression:
        return self._binary(("==", "!=", "=~", "!~"), "relational")

    def relational(self) -> Expression:
        return self._binary(("<", "<=", ">", ">="), "additive")

    def additive(self) -> Expression:
        return self._binary(("+", "-"), "multiplicative")

    def multiplicative(self) -> Expression:
        return self._binary(("*", "/", "%"), "unary")

    def unary(self) -> Expression:
        if self.is_op("!") or self.is_op("-"):
            token = self.advance()
            operand = self.unary()
            if token.text == "-" and isinstance(operand, Integer):
                return Integer(token.line, -operand.value)
            return Unary(token.line, token.text, operand)
        return self.postfix()

    def postfix(self) -> Expression:
        node = self.primary()
        while True:
            if self.is_op(".") or self.is_op(".?"):
                safe = self.advance().text == ".?"
                name = self.expect_name().text
                node = Member(node.line, node, name, safe)
            elif self.is_op("::"):
                self.advance()
                node = Nested(node.line, node, self.expect_name().text)
            elif self.is_op("["):
                self.advance()
                safe = self.is_op("?")
                if safe:
                    self.advance()
                index = self.expression()
                self.expect_op("]")
                node = Index(node.line, node, index, safe)
            elif self.is_op("!"):
                # After a value "!" can only be the non-null assertion ("!=" and "!~" are tokens of their own).
                self.advance()
                node = NonNull(node.line, node)
            elif self.is_op("(") and isinstance(node, Reference | Member):
                self.advance()
                arguments = []
                self.skip_newlines()
                while not self.is_op(")"):
                    arguments.append(self.expression())
                    self.skip_newlines()
                    if self.is_op(","):
                        self.advance()
                        self.skip_newlines()
                self.advance()
                node = Call(node.line, node, arguments)
            else:
                return node

    def primary(self) -> Expression:
        token = self.peek()
        if token.kind == "int":
            self.advance()
            return Integer(token.line, int(token.text))
        if token.kind == "string":
            self.advance()
            return self.string(token)
        if token.kind == "name":
            self.advance()
            if token.text in ("true", "false"):
                return Boolean(token.line, token.text == "true")
            if token.text == "null":
                return Null(token.line)
            return Reference(token.line, token.text)
        if self.is_op("("):
            self.advance()
            self.skip_newlines()
            inner = self.expression()
            self.skip_newlines()
            self.expect_op(")")
            return inner
        if self.is_op("{"):
            return self.object(owner=None)
        if self.is_op("["):
            return self.array(owner=None)
        raise self.error("expected a value")

    def string(self, token: Token) -> String:
        parts: list[str | Expression] = []
        for part in token.parts:
            if isinstance(part, str):
                parts.append(part)
            else:
                inner = Parser(part, self.path)
                parts.append(inner.expression())
                if inner.peek().kind != "end":
                    raise inner.error("expected the end of the interpolation")
        return String(token.line, parts)

    def object(self, owner: Resource | None) -> Object:
        line = self.expect_op("{").line
        node = Object(line, [])
        decorators: list[Call] = []
        while True:
            self.skip_newlines()
            if self.is_op("}"):
                self.advance()
                return node
            if self.is_op("@"):
                decorators.append(self.decorator())
                continue
            token = self.peek()
            if owner is not None and self.is_name("resource") and self.is_name(ahead=1):
                self.advance()
                child = self.resource(token.line, decorators, parent=owner)
                node.resources.append(child)
                decorators = []
            else:
                key: str | None
                key_expression: String | None
                if token.kind == "name":
                    key, key_expression = token.text, None
                elif token.kind == "string":
                    key_expression = self.string(token)
                    key = key_expression.literal
                else:
                    raise self.error("expected a property name")
                self.advance()
                self.expect_op(":")
                self.skip_newlines()
                node.properties.append(Property(token.line, key, key_expression, self.expression()))
            if self.is_op(","):
                self.advance()
            elif not self.is_op("}") and self.peek().kind != "newline":
                raise self.error("expected a new line, ',' or '}' after a property")

    def array(self, owner: Resource | None) -> Expression:
        line = self.expect_op("[").line
        self.skip_newlines()
        if self.is_name("for"):
            self.advance()
            index = None
            if self.is_op("("):
                self.advance()
                item = self.expect_name().text
                self.expect_op(",")
                index = self.expect_name().text
                self.expect_op(")")
            else:
                item = self.expect_name().text
            self.expect_name("in")
            iterable = self.expression()
            self.expect_op(":")
            self.skip_newlines()
            body = self.condition(owner) if self.is_name("if") else self.expression_or_body(owner)
            self.skip_newlines()
            self.expect_op("]")
            return For(line, item, index, iterable, body)
        items: list[Expression] = []
        while True:
            self.skip_newlines()
            if self.is_op("]"):
                self.advance()
                return Array(line, items)
            items.append(self.expression())
            if self.is_op(","):
                self.advance()
            elif not self.is_op("]") and self.peek().kind != "newline":
                raise self.error("expected a new line, ',' or ']' after an item")

    def expression_or_body(self, owner: Resource | None) -> Expression:
        """A loop's body: a resource's object (which may hold child resources), or any expression."""
        if owner is not None and self.is_op("{"):
            return self.object(owner)
        return self.expression()


def flattened(resource: Resource) -> list[Resource]:
    """The resource and every child resource declared inside it, parents first."""
    body, _, _ = unwrap(resource.body)
    found = [resource]
    for child in body.resources:
        found.extend(flattened(child))
    return found


@functools.cache
def parse(path: Path) -> BicepFile:
    """The Bicep file at ``path``; :class:`BicepSyntaxError` for what this parser does not read."""
    text = path.read_text(encoding="utf-8")
    tokens = Lexer(text, str(path)).tokens()
    return Parser(tokens, str(path)).file(path)


def parse_text(text: str, path: str = "<text>") -> BicepFile:
    return Parser(Lexer(text, path).tokens(), path).file(Path(path))
