"""Bicep checked against Azure's own type definitions, offline: test tooling, not part of the product.

The Bicep compiler type-checks a resource body against Microsoft's generated type data
(Azure/bicep-types-az, ``generated/**/types.json``). That data is kept beside the project, in
``../shared/bicep-types-az`` (``SOURCES.md`` there says where each file comes from); this module
reads it and checks, for every declaration in ``infra/**/*.bicep`` (parsed by
:mod:`tests.bicep_syntax`):

- the ``type@apiVersion`` exists: an API version Azure/bicep-types-az does not list is an error,
  and a type the data here does not hold is reported with the ``types.json`` it needs;
- every property path set exists at that API version: nested objects, array items, discriminated
  unions (chosen by their discriminator's literal value, such as an event subscription's
  ``endpointType`` or an advanced filter's ``operatorType``) and dictionaries;
- literal values fit: strings against enum unions (an extensible enum's value must still be one
  the API names; a comma-separated list of them is accepted, as for flags), string lengths and
  patterns, integer bounds, booleans; other expressions have their kind checked where it is certain
  (a parameter's declared type, a module output's, a function's result) and their path only;
- required properties are set and read-only ones are not; values that must be known when the
  deployment starts (``name`` and other DeployTimeConstant properties) read no runtime value (BCP120);
- the type may be deployed (``writableScopes``) or read as ``existing`` (``readableScopes``) where
  the declaration puts it; a child's type extends its parent's and its name is one segment;
- properties read from a resource (``account.properties.primaryEndpoints.blob``) exist and are not
  write-only; module parameters given exist and the required ones are given, with literal values
  checked against the parameter's type and decorators; module outputs read exist; a module's
  ``targetScope`` matches the scope it is deployed to;
- a resource or module declared with ``if`` is read only through ``.?`` or ``!`` (BCP318: its value
  may be null when the deployment starts); every name used is declared;
- no string names a host that differs between Azure clouds (the linter's no-hardcoded-env-urls).

Flag and scope values are Azure/bicep-types' (``src/bicep-types/src/types.ts``:
ObjectTypePropertyFlags, ScopeType). What only a deployment can prove (names free, quotas, regions,
policies, the resource providers' own validation) is out of reach here: docs/deployment.md#checked-offline.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tests.bicep_syntax import (
    Array,
    BicepFile,
    Binary,
    Boolean,
    Call,
    Expression,
    For,
    Index,
    Integer,
    Member,
    Module,
    Nested,
    NonNull,
    Null,
    Object,
    Param,
    Reference,
    Resource,
    String,
    Ternary,
    Unary,
    children,
    locals_bound_by,
    parse,
    unwrap,
)

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
# Beside the project, never inside it: Microsoft's files stay as they were published.
TYPE_DATA = ROOT.parent / "shared" / "bicep-types-az"

# ObjectTypePropertyFlags (Azure/bicep-types, src/bicep-types/src/types.ts).
REQUIRED = 1
READ_ONLY = 2
WRITE_ONLY = 4
DEPLOY_TIME_CONSTANT = 8
# ScopeType, same file.
TENANT, MANAGEMENT_GROUP, SUBSCRIPTION, RESOURCE_GROUP, EXTENSION = 1, 2, 4, 8, 16
SCOPE_NAMES = {
    TENANT: "tenant",
    MANAGEMENT_GROUP: "management group",
    SUBSCRIPTION: "subscription",
    RESOURCE_GROUP: "resource group",
    EXTENSION: "another resource (extension)",
}
TARGET_SCOPES = {
    "tenant": TENANT,
    "managementGroup": MANAGEMENT_GROUP,
    "subscription": SUBSCRIPTION,
    "resourceGroup": RESOURCE_GROUP,
}
SCOPE_FUNCTIONS = {
    "tenant": TENANT,
    "managementGroup": MANAGEMENT_GROUP,
    "subscription": SUBSCRIPTION,
    "resourceGroup": RESOURCE_GROUP,
}

# Keys of a resource body that are Bicep's own, not the resource type's.
BICEP_RESOURCE_KEYS = {"parent", "scope", "dependsOn"}
# An existing resource is only named; everything else about it is read (Bicep's BCP073 otherwise).
EXISTING_RESOURCE_KEYS = {"name", "parent", "scope"}
MODULE_KEYS = {"name", "params", "scope", "dependsOn"}
# What Bicep can compute of a resource when the deployment starts (BCP120's list); the rest is
# read from Azure at run time.
START_OF_DEPLOYMENT_MEMBERS = {"id", "name", "type", "apiVersion"}

# The no-hardcoded-env-urls linter rule's default hosts: Azure/bicep docs,
# linter-rule-no-hardcoded-environment-urls.md. Each differs in a sovereign cloud; environment()
# gives most of them.
CLOUD_SPECIFIC_HOSTS = (
    "gallery.azure.com",
    "management.core.windows.net",
    "management.azure.com",
    "database.windows.net",
    "core.windows.net",
    "login.microsoftonline.com",
    "graph.windows.net",
    "trafficmanager.net",
    "datalake.azure.net",
    "azuredatalakestore.net",
    "azuredatalakeanalytics.net",
    "vault.azure.net",
    "api.loganalytics.io",
    "asazure.windows.net",
    "region.asazure.windows.net",
    "batch.core.windows.net",
)
NOT_CLOUD_SPECIFIC_HOSTS = ("schema.management.azure.com",)

# Result kinds of Bicep functions whose result kind never depends on their arguments.
FUNCTION_KINDS = {
    **dict.fromkeys(
        (
            "string",
            "toLower",
            "toUpper",
            "trim",
            "guid",
            "uniqueString",
            "format",
            "replace",
            "substring",
            "base64",
            "base64ToString",
            "uri",
            "uriComponent",
            "padLeft",
            "dataUri",
            "newGuid",
            "utcNow",
            "loadTextContent",
            "loadFileAsBase64",
            "join",
            "subscriptionResourceId",
            "resourceId",
            "tenantResourceId",
            "extensionResourceId",
            "managementGroupResourceId",
        ),
        "string",
    ),
    **dict.fromkeys(("int", "length", "indexOf", "lastIndexOf"), "int"),
    **dict.fromkeys(("bool", "empty", "contains", "startsWith", "endsWith", "equals"), "bool"),
    **dict.fromkeys(("split", "range", "items", "filter", "map", "flatten", "sort"), "array"),
}
# The kinds a parameter's or output's declared type names.
DECLARED_KINDS = {
    "string": "string",
    "securestring": "string",
    "int": "int",
    "bool": "bool",
    "object": "object",
    "secureobject": "object",
    "array": "array",
}
AZ_KINDS = {
    "StringType": "string",
    "StringLiteralType": "string",
    "IntegerType": "int",
    "BooleanType": "bool",
    "ObjectType": "object",
    "DiscriminatedObjectType": "object",
    "ArrayType": "array",
    "NullType": "null",
}


class TypeDataMissing(Exception):
    """The folder of Azure's type data is not beside the project."""


@dataclass(frozen=True)
class Finding:
    path: str  # relative to infra/
    line: int
    code: str  # what kind of mistake: "unknown-property", "enum", "required", "read-only", ...
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.code}] {self.message}"


# -- the type data ----------------------------------------------------------------------------------


class TypeTable:
    """One types.json: a list of types that refer to each other by index ("$ref": "#/N")."""

    def __init__(self, relative_path: str, nodes: list[dict[str, Any]]) -> None:
        self.relative_path = relative_path
        self.nodes = nodes

    def at(self, index: int) -> AzType:
        return AzType(self, index)


@dataclass(frozen=True)
class AzType:
    table: TypeTable
    index: int

    @property
    def node(self) -> dict[str, Any]:
        return self.table.nodes[self.index]

    @property
    def kind(self) -> str:
        return str(self.node["$type"])

    def follow(self, reference: dict[str, Any]) -> AzType:
        target = str(reference["$ref"])
        if not target.startswith("#/"):
            raise ValueError(f"{self.table.relative_path}: a reference to another file ({target}) is not read here")
        return self.table.at(int(target[2:]))

    def elements(self) -> list[AzType]:
        return [self.follow(e) for e in self.node.get("elements", [])]

    def describe(self) -> str:
        node = self.node
        match self.kind:
            case "StringLiteralType":
                return f"'{node['value']}'"
            case "UnionType":
                shown = [e.describe() for e in self.elements()]
                return " | ".join(shown[:12] + (["..."] if len(shown) > 12 else []))
            case "ObjectType":
                return f"object ({node['name']})"
            case "DiscriminatedObjectType":
                return f"object ({node['name']}, by {node['discriminator']})"
            case "ArrayType":
                return f"{self.follow(node['itemType']).describe()}[]"
            case kind:
                return {"StringType": "string", "IntegerType": "int", "BooleanType": "bool"}.get(
                    kind, kind.removesuffix("Type").lower()
                )

    def kinds(self) -> set[str]:
        """The kinds of value this type accepts ("any" for AnyType)."""
        if self.kind == "UnionType":
            return {k for e in self.elements() for k in e.kinds()}
        if self.kind == "AnyType":
            return {"any"}
        return {AZ_KINDS.get(self.kind, "any")}


@dataclass(frozen=True)
class ObjectShape:
    """The properties an object may have: an ObjectType's, or a discriminated union's base and element."""

    name: str
    properties: dict[str, dict[str, Any]]
    owner: dict[str, AzType]  # the type each property's reference is resolved in
    additional: AzType | None


@dataclass(frozen=True)
class Missing:
    """Why a ``type@apiVersion`` has no type here."""

    code: str  # "api-version": Azure has no such API version; "type-data": the data here lacks the file
    reason: str


class TypeData:
    """Azure/bicep-types-az's generated types, as kept in ``folder`` (index-subset.json and
    generated/**/types.json)."""

    def __init__(self, folder: Path = TYPE_DATA) -> None:
        index = folder / "index-subset.json"
        if not index.is_file():
            raise TypeDataMissing(
                f"Azure's Bicep type data is not at {folder} (index-subset.json and generated/**/types.json "
                "from Azure/bicep-types-az, beside the project as ../shared/bicep-types-az)"
            )
        self.folder = folder
        self.index: dict[str, Any] = json.loads(index.read_text(encoding="utf-8"))
        self._tables: dict[str, TypeTable] = {}

    @property
    def source(self) -> str:
        return f"{self.index.get('repo', 'Azure/bicep-types-az')} at {str(self.index.get('commit', '?'))[:12]}"

    def table(self, relative_path: str) -> TypeTable:
        if relative_path not in self._tables:
            path = self.folder / "generated" / relative_path
            self._tables[relative_path] = TypeTable(relative_path, json.loads(path.read_text(encoding="utf-8")))
        return self._tables[relative_path]

    def resource_type(self, type_name: str, api_version: str) -> AzType | Missing:
        """The ResourceType of ``type_name@api_version``, or why there is none."""
        key = f"{type_name}@{api_version}".casefold()
        entry = self.index.get("resources", {}).get(key)
        namespace = type_name.split("/")[0].casefold()
        if entry is not None:
            if not (self.folder / "generated" / entry["relativePath"]).is_file():
                return Missing(
                    "type-data",
                    f"the type data lacks generated/{entry['relativePath']}, which holds {type_name}@{api_version}",
                )
            return self.table(entry["relativePath"]).at(int(entry["index"]))
        # A types.json added beside the others is enough, even before index-subset.json is rebuilt.
        for path in sorted((self.folder / "generated").glob(f"*/{namespace}/{api_version}/types.json")):
            table = self.table(path.relative_to(self.folder / "generated").as_posix())
            for position, node in enumerate(table.nodes):
                if node["$type"] == "ResourceType" and str(node["name"]).casefold() == key:
                    return table.at(position)
        versions = self.index.get("apiVersionsAvailable", {}).get(type_name.casefold())
        if versions is not None and api_version not in versions:
            newest = ", ".join(sorted(versions)[-4:])
            return Missing(
                "api-version", f"{type_name} has no API version {api_version} in {self.source} (its newest: {newest})"
            )
        folders = {
            e["relativePath"].split("/")[0]
            for e in self.index.get("resources", {}).values()
            if e["relativePath"].split("/")[1] == namespace
        }
        folder = folders.pop() if len(folders) == 1 else "*"
        return Missing(
            "type-data",
            f"the type data lacks {type_name}@{api_version}: add "
            f"generated/{folder}/{namespace}/{api_version}/types.json from Azure/bicep-types-az to "
            f"{self.folder} (and a line to its SOURCES.md)",
        )

    def shape(self, t: AzType, discriminator_value: str | None = None) -> ObjectShape | None:
        """What an object of type ``t`` may hold; a discriminated union's every element merged when
        ``discriminator_value`` is None."""
        if t.kind == "ObjectType":
            properties = dict(t.node.get("properties", {}))
            additional = t.node.get("additionalProperties")
            return ObjectShape(
                str(t.node.get("name", "")),
                properties,
                dict.fromkeys(properties, t),
                t.follow(additional) if additional else None,
            )
        if t.kind == "DiscriminatedObjectType":
            base = dict(t.node.get("baseProperties", {}))
            owner = dict.fromkeys(base, t)
            properties = dict(base)
            elements = t.node["elements"]
            chosen = [elements[discriminator_value]] if discriminator_value in elements else list(elements.values())
            for reference in chosen:
                element = t.follow(reference)
                for name, declared in element.node.get("properties", {}).items():
                    properties.setdefault(name, declared)
                    owner.setdefault(name, element)
            return ObjectShape(str(t.node["name"]), properties, owner, None)
        return None


def load_type_data(folder: Path = TYPE_DATA) -> TypeData:
    return TypeData(folder)


# -- what a file declares ---------------------------------------------------------------------------


@dataclass
class Declared:
    """A resource's resolved type and how it is deployed."""

    resource: Resource
    type_name: str
    api_version: str
    conditional: bool
    looped: bool
    resource_type: AzType | None = None  # None when the type data has no such type
    body_type: AzType | None = None


@dataclass
class DeclaredModule:
    module: Module
    target: BicepFile | None
    conditional: bool
    looped: bool


@dataclass
class FileCheck:
    """The checks of one Bicep file."""

    document: BicepFile
    infra: Path
    types: TypeData
    findings: list[Finding] = field(default_factory=list)
    resources: dict[str, Declared] = field(default_factory=dict)
    modules: dict[str, DeclaredModule] = field(default_factory=dict)

    @cached_property
    def relative(self) -> str:
        try:
            return self.document.path.relative_to(self.infra).as_posix()
        except ValueError:
            return self.document.path.as_posix()

    def report(self, line: int, code: str, message: str) -> None:
        self.findings.append(Finding(self.relative, line, code, message))

    # The whole file.

    def run(self) -> list[Finding]:
        for resource in self.document.resources:
            self.declare(resource)
        for module in self.document.modules.values():
            self.declare_module(module)
        for declared in self.resources.values():
            self.check_resource(declared)
        for declared_module in self.modules.values():
            self.check_module(declared_module)
        for param in self.document.params.values():
            if param.default is not None:
                self.check_param_value(param, param.default, f"parameter {param.name}'s default")
        for output in self.document.outputs.values():
            self.check_declared_kind(output.value, declared_kind(output.type), f"output {output.name}")
        if self.document.target_scope not in TARGET_SCOPES:
            self.report(1, "scope", f"targetScope {self.document.target_scope!r} is not one of {sorted(TARGET_SCOPES)}")
        for expression in self.expressions():
            self.check_reads(expression, frozenset())
        self.check_cloud_urls()
        return self.findings

    def expressions(self) -> Iterator[Expression]:
        document = self.document
        yield from (p.default for p in document.params.values() if p.default is not None)
        yield from (d for p in document.params.values() for d in p.decorators)
        yield from (v.value for v in document.variables.values())
        for resource in document.resources:
            body, condition, loop = unwrap(resource.body)
            yield from (d for d in resource.decorators)
            # The loop (with its body) when there is one, so its variable is in scope for the body.
            yield loop if loop is not None else Object(body.line, body.properties)
            if loop is None and condition is not None:
                yield condition
        for module in document.modules.values():
            yield module.body
        yield from (o.value for o in document.outputs.values())

    # Resources.

    def declare(self, resource: Resource) -> None:
        type_name, _, api_version = resource.type.partition("@")
        if resource.parent is not None:
            parent = self.resources[resource.parent.symbol]
            if "/" not in type_name:
                type_name = f"{parent.type_name}/{type_name}"
            api_version = api_version or parent.api_version
        _, condition, loop = unwrap(resource.body)
        declared = Declared(resource, type_name, api_version, condition is not None, loop is not None)
        self.resources[resource.symbol] = declared
        if not api_version:
            self.report(resource.line, "api-version", f"{resource.symbol}: {resource.type} names no API version")
            return
        found = self.types.resource_type(type_name, api_version)
        if isinstance(found, Missing):
            self.report(resource.line, found.code, f"{resource.symbol}: {found.reason}")
            return
        declared.resource_type = found
        declared.body_type = found.follow(found.node["body"])

    def check_scope(self, declared: Declared) -> None:
        resource = declared.resource
        scope = self.deploy_scope(resource)
        if scope is None or declared.resource_type is None:
            return
        allowed = int(declared.resource_type.node["readableScopes" if resource.existing else "writableScopes"])
        if not allowed & scope:
            what = "read as existing" if resource.existing else "deployed"
            where = [name for bit, name in SCOPE_NAMES.items() if allowed & bit] or ["nowhere"]
            self.report(
                resource.line,
                "scope",
                f"{resource.symbol}: {declared.type_name}@{declared.api_version} cannot be {what} at the "
                f"{SCOPE_NAMES[scope]} scope; its type allows {', '.join(where)}",
            )

    def deploy_scope(self, resource: Resource) -> int | None:
        body, _, _ = unwrap(resource.body)
        parent = self.parent_of(resource)
        if parent is not None:
            return self.deploy_scope(parent.resource)
        scope = body.get("scope")
        if scope is None:
            return TARGET_SCOPES.get(self.document.target_scope)
        value = scope.value
        if isinstance(value, Call) and value.name in SCOPE_FUNCTIONS:
            return SCOPE_FUNCTIONS[value.name]
        if self.symbol_of(value) in self.resources:
            return EXTENSION
        return None

    def parent_of(self, resource: Resource) -> Declared | None:
        if resource.parent is not None:
            return self.resources.get(resource.parent.symbol)
        body, _, _ = unwrap(resource.body)
        parent = body.get("parent")
        if parent is None:
            return None
        return self.resources.get(self.symbol_of(parent.value) or "")

    def check_resource(self, declared: Declared) -> None:
        resource = declared.resource
        body, _, _ = unwrap(resource.body)
        where = f"{resource.symbol} ({declared.type_name}@{declared.api_version})"
        self.check_scope(declared)
        self.check_parent(declared, body)
        if resource.existing:
            for prop in body.properties:
                if prop.key not in EXISTING_RESOURCE_KEYS:
                    self.report(
                        prop.line, "read-only", f"{where}: an existing resource is only named; {prop.key} is not set"
                    )
            if body.get("name") is None:
                self.report(resource.line, "required", f"{where}: name is required")
            return
        if declared.body_type is None:
            return
        self.check_object(body, declared.body_type, "", where, root=True)

    def check_parent(self, declared: Declared, body: Object) -> None:
        parent = self.parent_of(declared.resource)
        name = body.get("name")
        where = declared.resource.symbol
        if parent is not None and not declared.type_name.casefold().startswith(parent.type_name.casefold() + "/"):
            self.report(
                declared.resource.line,
                "parent",
                f"{where}: {declared.type_name} is not a child type of its parent's {parent.type_name}",
            )
        if parent is not None and declared.type_name.count("/") != parent.type_name.count("/") + 1:
            self.report(
                declared.resource.line,
                "parent",
                f"{where}: {declared.type_name} is not one level below {parent.type_name}",
            )
        if name is None or not isinstance(name.value, String):
            return
        written = "".join(p for p in name.value.parts if isinstance(p, str))
        if parent is not None and "/" in written:
            self.report(name.line, "parent", f"{where}: a child's name is its own segment only, without '/'")
        elif parent is None and name.value.literal is not None:
            segments = declared.type_name.count("/")
            if written.count("/") != segments - 1:
                self.report(
                    name.line,
                    "parent",
                    f"{where}: {declared.type_name} needs a name of {segments} segment(s), or a parent",
                )

    # Values against types.

    def check_object(self, value: Object, t: AzType, path: str, where: str, *, root: bool = False) -> None:
        if t.kind == "UnionType":
            candidates = [e for e in t.elements() if e.kind in ("ObjectType", "DiscriminatedObjectType")]
            if not candidates:
                self.report(value.line, "kind", f"{where}: {path or 'the body'} expects {t.describe()}, not an object")
                return
            t = candidates[0]
        if t.kind == "AnyType":
            return
        discriminator_value: str | None = None
        chosen = True
        if t.kind == "DiscriminatedObjectType":
            discriminator = str(t.node["discriminator"])
            elements = sorted(t.node["elements"])
            given = value.get(discriminator)
            if given is None:
                self.report(
                    value.line,
                    "discriminator",
                    f"{where}: {join(path, discriminator)} is required, one of {quoted(elements)} ({t.node['name']})",
                )
                chosen = False
            else:
                written = literal(given.value)
                if not isinstance(written, str):
                    chosen = False  # an expression: any element may be meant
                elif written not in t.node["elements"]:
                    self.report(
                        given.line,
                        "discriminator",
                        f"{where}: {join(path, discriminator)}: '{written}' is not one of "
                        f"{quoted(elements)} ({t.node['name']}){did_you_mean(written, elements)}",
                    )
                    return
                else:
                    discriminator_value = written
        shape = self.types.shape(t, discriminator_value)
        if shape is None:
            self.report(value.line, "kind", f"{where}: {path or 'the body'} expects {t.describe()}, not an object")
            return
        for prop in value.properties:
            if prop.key is None:
                if shape.additional is not None:
                    self.check_value(prop.value, shape.additional, join(path, "[key]"), where)
                continue
            if root and prop.key in BICEP_RESOURCE_KEYS:
                continue
            declared = shape.properties.get(prop.key)
            property_path = join(path, prop.key)
            if declared is None:
                if shape.additional is not None:
                    self.check_value(prop.value, shape.additional, property_path, where)
                else:
                    self.report(
                        prop.line,
                        "unknown-property",
                        f"{where}: {property_path} is not a property of {shape.name or 'this object'}"
                        f"{did_you_mean(prop.key, list(shape.properties))}",
                    )
                continue
            flags = int(declared.get("flags", 0))
            if flags & READ_ONLY:
                self.report(prop.line, "read-only", f"{where}: {property_path} is read-only: Azure sets it")
                continue
            if flags & DEPLOY_TIME_CONSTANT:
                for runtime in self.runtime_reads(prop.value, frozenset(), set()):
                    self.report(
                        prop.line,
                        "BCP120",
                        f"{where}: {property_path} must be known when the deployment starts, but reads {runtime}",
                    )
            self.check_value(prop.value, shape.owner[prop.key].follow(declared["type"]), property_path, where)
        if not chosen:
            return
        given_keys = {p.key for p in value.properties}
        for name, declared in shape.properties.items():
            flags = int(declared.get("flags", 0))
            if flags & REQUIRED and not flags & READ_ONLY and name not in given_keys:
                self.report(value.line, "required", f"{where}: {join(path, name)} is required")

    def check_value(self, value: Expression, t: AzType, path: str, where: str) -> None:
        if t.kind == "AnyType" or isinstance(value, Null):
            return
        if isinstance(value, Ternary):
            self.check_value(value.when_true, t, path, where)
            self.check_value(value.when_false, t, path, where)
            return
        if isinstance(value, Object):
            self.check_object(value, t, path, where)
            return
        if isinstance(value, Array | For):
            arrays = [t] if t.kind == "ArrayType" else [e for e in t.elements() if e.kind == "ArrayType"]
            if not arrays:
                self.report(value.line, "kind", f"{where}: {path} expects {t.describe()}, not an array")
                return
            item_type = arrays[0].follow(arrays[0].node["itemType"])
            if isinstance(value, For):
                self.check_value(value.body, item_type, f"{path}[*]", where)
                return
            bounds = arrays[0].node
            if len(value.items) < bounds.get("minLength", 0) or len(value.items) > bounds.get("maxLength", 1 << 31):
                self.report(value.line, "length", f"{where}: {path} holds {len(value.items)} items, {t.describe()}")
            for position, item in enumerate(value.items):
                self.check_value(item, item_type, f"{path}[{position}]", where)
            return
        given = literal(value)
        if given is not None:
            problem = literal_problem(given, t)
            if problem:
                code = "enum" if isinstance(given, str) and "is not one of" in problem else "kind"
                self.report(value.line, code, f"{where}: {path}: {problem}")
            return
        # Not a literal: only its kind, when certain (a parameter's declared type, a function's result).
        actual = self.kind_of(value, frozenset())
        accepted = t.kinds()
        if actual is not None and "any" not in accepted and actual not in accepted:
            self.report(
                value.line, "kind", f"{where}: {path} expects {t.describe()}, but the value is {article(actual)}"
            )

    def check_declared_kind(self, value: Expression, kind: str | None, what: str) -> None:
        """Report ``value`` when its kind is certain and is not the ``kind`` ``what`` is declared."""
        actual = self.kind_of(value, frozenset())
        if kind is not None and actual is not None and actual != kind:
            self.report(value.line, "kind", f"{what} is declared {kind}, but its value is {article(actual)}")

    # Modules.

    def declare_module(self, module: Module) -> None:
        _, condition, loop = unwrap(module.body)
        target_path = self.document.path.parent / module.path
        target = None
        if ":" in module.path:
            pass  # a registry or template spec module: not a file to read here
        elif not target_path.is_file():
            self.report(module.line, "module", f"module {module.name}: {module.path} does not exist")
        else:
            target = parse(target_path.resolve())
        self.modules[module.name] = DeclaredModule(module, target, condition is not None, loop is not None)

    def check_module(self, declared: DeclaredModule) -> None:
        module, target = declared.module, declared.target
        body, _, _ = unwrap(module.body)
        where = f"module {module.name} ({module.path})"
        for prop in body.properties:
            if prop.key not in MODULE_KEYS:
                self.report(prop.line, "unknown-property", f"{where}: {prop.key} is not one of {sorted(MODULE_KEYS)}")
        name = body.get("name")
        if name is not None:
            for runtime in self.runtime_reads(name.value, frozenset(), set()):
                self.report(
                    name.line, "BCP120", f"{where}: name must be known when the deployment starts, but reads {runtime}"
                )
        if target is None:
            return
        self.check_module_scope(declared, body, where)
        params = body.get("params")
        given: dict[str, Expression] = {}
        if params is not None:
            if not isinstance(params.value, Object):
                self.report(params.line, "kind", f"{where}: params is an object of the module's parameters")
                return
            given = {p.key: p.value for p in params.value.properties if p.key is not None}
            for prop in params.value.properties:
                if prop.key not in target.params:
                    self.report(
                        prop.line,
                        "module-param",
                        f"{where}: {prop.key} is not a parameter of {module.path}"
                        f"{did_you_mean(prop.key or '', list(target.params))}",
                    )
                else:
                    self.check_param_value(target.params[prop.key], prop.value, f"{where}: parameter {prop.key}")
        for param in target.params.values():
            if param.default is None and not param.nullable and param.name not in given:
                self.report(module.line, "module-param", f"{where}: parameter {param.name} is required")

    def check_module_scope(self, declared: DeclaredModule, body: Object, where: str) -> None:
        assert declared.target is not None
        scope = body.get("scope")
        if scope is None:
            deployed_at = TARGET_SCOPES.get(self.document.target_scope)
        elif isinstance(scope.value, Call) and scope.value.name in SCOPE_FUNCTIONS:
            deployed_at = SCOPE_FUNCTIONS[scope.value.name]
        else:
            scope_resource = self.resources.get(self.symbol_of(scope.value) or "")
            if scope_resource is None:
                return
            deployed_at = {
                "microsoft.resources/resourcegroups": RESOURCE_GROUP,
                "microsoft.resources/subscriptions": SUBSCRIPTION,
                "microsoft.management/managementgroups": MANAGEMENT_GROUP,
            }.get(scope_resource.type_name.casefold())
        expected = TARGET_SCOPES.get(declared.target.target_scope)
        if deployed_at is not None and expected is not None and deployed_at != expected:
            self.report(
                declared.module.line,
                "scope",
                f"{where}: deployed to a {SCOPE_NAMES[deployed_at]}, but its targetScope is "
                f"{declared.target.target_scope!r}",
            )

    def check_param_value(self, param: Param, value: Expression, what: str) -> None:
        kind = declared_kind(param.type)
        given = literal(value)
        if given is None:
            self.check_declared_kind(value, kind, what)
            return
        actual = kind_of_literal(given)
        if kind is not None and actual != kind:
            self.report(value.line, "kind", f"{what} is declared {kind}, but the value is {article(actual)}")
            return
        allowed = param.decorator("allowed")
        if allowed is not None and allowed.arguments and isinstance(allowed.arguments[0], Array):
            values = [literal(item) for item in allowed.arguments[0].items]
            if given not in values:
                shown = " | ".join(repr(v) for v in values)
                self.report(value.line, "enum", f"{what}: {given!r} is not one of {shown} (@allowed)")
        number = given if isinstance(given, int) and not isinstance(given, bool) else None
        measured = {
            "minValue": number,
            "maxValue": number,
            "minLength": len(given) if isinstance(given, str) else None,
            "maxLength": len(given) if isinstance(given, str) else None,
        }
        for decorator, size in measured.items():
            call = param.decorator(decorator)
            bound = literal(call.arguments[0]) if call is not None and call.arguments else None
            if size is None or not isinstance(bound, int) or isinstance(bound, bool):
                continue
            if size < bound if decorator.startswith("min") else size > bound:
                self.report(value.line, "kind", f"{what}: {given!r} is outside @{decorator}({bound})")

    # Reads: names, module outputs, resource properties, conditional symbols.

    def symbol_of(self, node: Expression) -> str | None:
        """``account``, ``storage::blobs``: the resource or module ``node`` names, if it names one."""
        if isinstance(node, Reference):
            return node.name
        if isinstance(node, Nested):
            parent = self.symbol_of(node.target)
            return f"{parent}::{node.name}" if parent else None
        return None

    def check_reads(self, node: Expression, local_names: frozenset[str]) -> None:
        if isinstance(node, Reference) and node.name not in local_names and not self.declared(node.name):
            self.report(node.line, "undeclared", f"{node.name} is not declared in this file")
        if isinstance(node, Member | Index):
            self.check_access(node, local_names)
        if isinstance(node, Call) and isinstance(node.function, Reference):
            # A function's name is not a symbol: check only its arguments.
            for argument in node.arguments:
                self.check_reads(argument, local_names)
            return
        namespace = node.function.target if isinstance(node, Call) and isinstance(node.function, Member) else None
        if isinstance(node, Call) and isinstance(namespace, Reference) and namespace.name in ("az", "sys"):
            for argument in node.arguments:
                self.check_reads(argument, local_names)
            return
        inner = local_names | locals_bound_by(node)
        for child in children(node):
            self.check_reads(child, inner)

    def declared(self, name: str) -> bool:
        document = self.document
        return (
            name in document.params
            or name in document.variables
            or name in document.modules
            or any(r.symbol == name for r in document.resources)
        )

    def check_access(self, node: Member | Index, local_names: frozenset[str]) -> None:
        """The first access on a resource or module: BCP318 for conditional ones, and what is read exists.

        ``node`` is ``symbol.member``, ``symbol[i].member`` (a loop), or either after ``!``.
        """
        if isinstance(node, Index):
            return  # symbol[i] is checked as the target of the member read from it
        base = node.target
        asserted = isinstance(base, NonNull)
        base = base.target if isinstance(base, NonNull) else base
        indexed = isinstance(base, Index)
        base = base.target if isinstance(base, Index) else base
        symbol = self.symbol_of(base)
        if symbol is None or (isinstance(base, Reference) and base.name in local_names):
            return
        declared: Declared | DeclaredModule | None = self.resources.get(symbol) or self.modules.get(symbol)
        if declared is None:
            return
        if declared.looped != indexed:
            if declared.looped:
                self.report(node.line, "kind", f"{symbol} is a loop: read one of them with {symbol}[i]")
            return
        if declared.conditional and not node.safe and not asserted:
            kind = "resource" if isinstance(declared, Declared) else "module"
            self.report(
                node.line,
                "BCP318",
                f"{symbol}.{node.name}: the {kind} {symbol} is declared with if, so it may be null when the "
                f"deployment starts; read it with {symbol}.?{node.name} (and ?? a fallback) or assert with {symbol}!",
            )
        called = self.parents.get(id(node))
        if isinstance(called, Call) and called.function is node:
            return  # a resource function, such as listKeys(): not a property
        if isinstance(declared, DeclaredModule):
            self.check_module_read(node, declared, symbol)
        else:
            self.check_resource_read(node, declared, symbol)

    def check_module_read(self, node: Member, module: DeclaredModule, symbol: str) -> None:
        if node.name == "name":
            return
        if node.name != "outputs":
            self.report(node.line, "module-output", f"{symbol}.{node.name}: a module has only name and outputs")
            return
        read = self.read_after(node)
        if not read or module.target is None:
            return
        output = read[0]
        if output not in module.target.outputs:
            self.report(
                node.line,
                "module-output",
                f"{symbol}.outputs.{output}: {module.module.path} has no output {output}"
                f"{did_you_mean(output, list(module.target.outputs))}",
            )

    def check_resource_read(self, node: Member, declared: Declared, symbol: str) -> None:
        if declared.body_type is None or node.name in START_OF_DEPLOYMENT_MEMBERS:
            return
        steps = [node.name, *self.read_after(node)]
        t: AzType | None = declared.body_type
        read: list[str] = []
        for step in steps:
            if t is None:
                return
            if step == "[]":
                t = t.follow(t.node["itemType"]) if t.kind == "ArrayType" else None
                read.append("[]")
                continue
            shape = self.types.shape(t)
            if shape is None:
                return
            declared_property = shape.properties.get(step)
            read.append(step)
            if declared_property is None:
                if shape.additional is not None:
                    t = shape.additional
                    continue
                self.report(
                    node.line,
                    "unknown-property",
                    f"{symbol}.{'.'.join(read)}: {declared.type_name}@{declared.api_version} has no such property"
                    f"{did_you_mean(step, list(shape.properties))}",
                )
                return
            if int(declared_property.get("flags", 0)) & WRITE_ONLY:
                self.report(node.line, "write-only", f"{symbol}.{'.'.join(read)} is write-only: Azure never returns it")
                return
            t = shape.owner[step].follow(declared_property["type"])

    def read_after(self, node: Member) -> list[str]:
        """The members read after ``node`` in its chain (``"[]"`` for an index), up to a function call."""
        chain: list[str] = []
        current: Expression = node
        while True:
            parent = self.parents.get(id(current))
            if isinstance(parent, Member) and parent.target is current:
                chain.append(parent.name)
            elif isinstance(parent, Index) and parent.target is current:
                chain.append("[]")
            elif isinstance(parent, NonNull):
                pass
            elif isinstance(parent, Call) and parent.function is current:
                return chain[:-1]  # the last member is a function (a resource's listKeys()), not a property
            else:
                return chain
            current = parent

    @cached_property
    def parents(self) -> dict[int, Expression]:
        """Each expression's enclosing expression, to follow a member chain outwards."""
        found: dict[int, Expression] = {}

        def walk(node: Expression) -> None:
            for child in children(node):
                found[id(child)] = node
                walk(child)

        for expression in self.expressions():
            walk(expression)
        return found

    # Values known when the deployment starts (BCP120).

    def runtime_reads(self, node: Expression, local_names: frozenset[str], seen: set[str]) -> list[str]:
        """What ``node`` reads that is known only once resources are deployed."""
        found: list[str] = []
        if isinstance(node, Reference) and node.name not in local_names and node.name in self.document.variables:
            if node.name not in seen:
                seen.add(node.name)
                found += self.runtime_reads(self.document.variables[node.name].value, frozenset(), seen)
            return found
        if isinstance(node, Member):
            base = node.target.target if isinstance(node.target, Index) else node.target
            base = base.target if isinstance(base, NonNull) else base
            symbol = self.symbol_of(base)
            if symbol in self.modules and node.name != "name":
                return [f"{symbol}.{node.name}"]
            if symbol in self.resources and node.name not in START_OF_DEPLOYMENT_MEMBERS:
                return [f"{symbol}.{node.name}"]
        if (
            isinstance(node, Call)
            and node.name is not None
            and (node.name == "reference" or node.name.startswith("list"))
        ):
            found.append(f"{node.name}()")
        if isinstance(node, Call) and isinstance(node.function, Member) and self.symbol_of(node.function.target):
            found.append(f"{self.symbol_of(node.function.target)}.{node.function.name}()")
        inner = local_names | locals_bound_by(node)
        for child in children(node):
            if isinstance(node, Call) and child is node.function:
                continue
            found += self.runtime_reads(child, inner, seen)
        return found

    # Kinds.

    def kind_of(self, node: Expression, local_names: frozenset[str], seen: frozenset[str] = frozenset()) -> str | None:
        """The kind of value ``node`` has (string, int, bool, object, array) when it is certain."""
        given = literal(node)
        if given is not None:
            return kind_of_literal(given)
        if isinstance(node, String):
            return "string"
        if isinstance(node, Object):
            return "object"
        if isinstance(node, Array | For):
            return "array"
        if isinstance(node, Reference):
            if node.name in local_names:
                return None
            if node.name in self.document.params:
                return declared_kind(self.document.params[node.name].type)
            variable = self.document.variables.get(node.name)
            if variable is not None and node.name not in seen:
                return self.kind_of(variable.value, frozenset(), seen | {node.name})
            return None
        if isinstance(node, Unary):
            return "bool" if node.operator == "!" else "int"
        if isinstance(node, Binary):
            if node.operator in ("==", "!=", "=~", "!~", "<", "<=", ">", ">=", "&&", "||"):
                return "bool"
            if node.operator in ("-", "*", "/", "%"):
                return "int"
            left, right = self.kind_of(node.left, local_names, seen), self.kind_of(node.right, local_names, seen)
            return left if left == right else None
        if isinstance(node, Ternary):
            when_true = self.kind_of(node.when_true, local_names, seen)
            return when_true if when_true == self.kind_of(node.when_false, local_names, seen) else None
        if isinstance(node, Call):
            return FUNCTION_KINDS.get(node.name or "")
        if isinstance(node, Member) and isinstance(node.target, Member) and node.target.name == "outputs":
            base = node.target.target
            base = base.target if isinstance(base, Index | NonNull) else base
            module = self.modules.get(self.symbol_of(base) or "")
            if module is not None and module.target is not None and node.name in module.target.outputs:
                return declared_kind(module.target.outputs[node.name].type)
        return None

    # The linter's no-hardcoded-env-urls.

    def check_cloud_urls(self) -> None:
        for node in self.all_nodes():
            if not isinstance(node, String):
                continue
            text = "".join(p for p in node.parts if isinstance(p, str)).casefold()
            for excluded in NOT_CLOUD_SPECIFIC_HOSTS:
                text = text.replace(excluded, "")
            for host in CLOUD_SPECIFIC_HOSTS:
                if host in text:
                    self.report(
                        node.line,
                        "no-hardcoded-env-urls",
                        f"{host} differs between Azure clouds: take it from environment() where Bicep offers it, "
                        "else leave it to a parameter without a cloud's value",
                    )
                    break

    def all_nodes(self) -> Iterator[Expression]:
        def walk(node: Expression) -> Iterator[Expression]:
            yield node
            for child in children(node):
                yield from walk(child)

        for expression in self.expressions():
            yield from walk(expression)


# -- helpers ----------------------------------------------------------------------------------------


def literal(node: Expression) -> str | int | bool | None:
    """The value of a literal string, integer or boolean, else None."""
    if isinstance(node, String):
        return node.literal
    if isinstance(node, Boolean):
        return node.value
    if isinstance(node, Integer):
        return node.value
    return None


def kind_of_literal(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "bool"
    return "int" if isinstance(value, int) else "string"


def declared_kind(type_text: str) -> str | None:
    written = type_text.rstrip("?").strip()
    if written.startswith("'") or written.startswith("resource "):
        return "string" if written.startswith("'") else None
    return DECLARED_KINDS.get(written.casefold())


def literal_problem(value: str | int | bool, t: AzType) -> str | None:
    """Why the literal ``value`` is not a value of ``t``, or None when it is."""
    kind = t.kind
    node = t.node
    if kind == "AnyType":
        return None
    if kind == "UnionType":
        elements = t.elements()
        names = [str(e.node["value"]) for e in elements if e.kind == "StringLiteralType"]
        if isinstance(value, str) and names:
            # An extensible enum ("... | string") takes any string in the compiler's eyes, but the
            # API still names its values: hold a literal to them. Flags join them with commas.
            extensible = any(e.kind == "StringType" for e in elements)
            if value in names or (extensible and all(part.strip() in names for part in value.split(","))):
                return None
            return f"'{value}' is not one of {t.describe()}{did_you_mean(value, names)}"
        if any(literal_problem(value, e) is None for e in elements):
            return None
        return f"{article(kind_of_literal(value))} is not {t.describe()}"
    if kind == "StringLiteralType":
        if value == node["value"]:
            return None
        return f"{value!r} is not {t.describe()}{did_you_mean(str(value), [str(node['value'])])}"
    expected = AZ_KINDS.get(kind)
    if expected != kind_of_literal(value):
        return f"expects {t.describe()}, but the value is {article(kind_of_literal(value))}"
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength", 1 << 31):
            return f"{value!r} is not {node.get('minLength', 0)} to {node.get('maxLength', 'any number of')} characters"
        pattern = node.get("pattern")
        if pattern:
            try:
                if re.search(pattern, value) is None:
                    return f"{value!r} does not match {pattern}"
            except re.error:
                return None  # a .NET pattern Python cannot read: not checked
    too_small = isinstance(value, int) and not isinstance(value, bool) and value < node.get("minValue", -(1 << 63))
    too_large = isinstance(value, int) and not isinstance(value, bool) and value > node.get("maxValue", 1 << 63)
    if too_small or too_large:
        return f"{value} is outside {node.get('minValue', '')}..{node.get('maxValue', '')}"
    return None


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def quoted(values: list[str]) -> str:
    return " | ".join(f"'{v}'" for v in values)


def article(kind: str) -> str:
    return {"int": "an int", "array": "an array", "object": "an object"}.get(kind, f"a {kind}")


def did_you_mean(given: str, known: list[str]) -> str:
    same_but_case = [k for k in known if k.casefold() == given.casefold()]
    close = same_but_case or difflib.get_close_matches(given, known, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


# -- the whole of infra/ ----------------------------------------------------------------------------


def bicep_files(infra: Path = INFRA) -> list[Path]:
    return sorted(path.resolve() for path in infra.rglob("*.bicep"))


def check_file(path: Path, types: TypeData, infra: Path = INFRA) -> list[Finding]:
    """Every finding in the Bicep file at ``path`` (modules it declares are read, not checked)."""
    return FileCheck(parse(path.resolve()), infra.resolve(), types).run()


def check_infra(types: TypeData, infra: Path = INFRA) -> list[Finding]:
    return [finding for path in bicep_files(infra) for finding in check_file(path, types, infra)]


def types_used(infra: Path = INFRA) -> dict[str, str]:
    """Every ``type@apiVersion`` declared under ``infra``, with the first file:line declaring it."""
    used: dict[str, str] = {}
    for path in bicep_files(infra):
        document = parse(path)
        parents: dict[str, tuple[str, str]] = {}
        for resource in document.resources:
            type_name, _, api_version = resource.type.partition("@")
            if resource.parent is not None:
                parent_type, parent_api = parents[resource.parent.symbol]
                type_name = type_name if "/" in type_name else f"{parent_type}/{type_name}"
                api_version = api_version or parent_api
            parents[resource.symbol] = (type_name, api_version)
            where = f"{path.relative_to(infra.resolve()).as_posix()}:{resource.line}"
            used.setdefault(f"{type_name}@{api_version}", where)
    return used


if __name__ == "__main__":
    # python -m tests.bicep_types: every finding in infra/, one a line.
    for finding in check_infra(load_type_data()):
        print(finding)
