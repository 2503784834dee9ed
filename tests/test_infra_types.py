"""``infra/`` checked against Azure's own Bicep type definitions, as the compiler would.

The checks are tests/bicep_types.py's (over the syntax tree of tests/bicep_syntax.py), reading
Microsoft's generated type data in ``../shared/bicep-types-az`` (Azure/bicep-types-az; SOURCES.md
there). Each check is proven able to fail by a fault planted in a copy of ``infra/``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from remediators.evidence import DEFAULT_ENDPOINT, LogEvidence
from tests.bicep_syntax import (
    BicepSyntaxError,
    Binary,
    Call,
    Member,
    NonNull,
    Object,
    Reference,
    String,
    Ternary,
    parse,
    parse_text,
    unwrap,
)
from tests.bicep_types import (
    INFRA,
    ROOT,
    TYPE_DATA,
    AzType,
    Finding,
    Missing,
    TypeData,
    TypeDataMissing,
    bicep_files,
    check_file,
    check_infra,
    literal,
    load_type_data,
    types_used,
)


@pytest.fixture(scope="module")
def types() -> TypeData:
    try:
        return load_type_data()
    except TypeDataMissing as missing:
        pytest.skip(str(missing))


def shown(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


# -- infra/ as it is --------------------------------------------------------------------------------


def test_the_type_data_holds_every_type_infra_uses(types: TypeData) -> None:
    needed = {
        f"{used} ({where})": found.reason
        for used, where in types_used().items()
        if isinstance(found := types.resource_type(*used.split("@")), Missing)
    }
    assert needed == {}, "\n".join(f"{used}: {why}" for used, why in needed.items())
    # Read where Microsoft's files are kept, never copied into the project.
    assert not TYPE_DATA.resolve().is_relative_to(ROOT)
    copies = [p for top in ("infra", "tests", "docs", "remediators") for p in (ROOT / top).rglob("types.json")]
    assert copies == []


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA.resolve()).as_posix())
def test_every_declaration_matches_azure_types(path: Path, types: TypeData) -> None:
    findings = check_file(path, types)
    assert findings == [], shown(findings)


def test_the_check_reads_every_resource_and_module_of_infra() -> None:
    declared = {used.split("@")[0] for used in types_used()}
    assert {
        "Microsoft.Storage/storageAccounts/blobServices/containers",  # a child named by its parent
        "Microsoft.EventGrid/systemTopics/eventSubscriptions",  # discriminated destinations and filters
        "Microsoft.Web/sites/config",  # a body discriminated by its name
        "Microsoft.Insights/diagnosticSettings",  # an extension resource (scope: another resource)
        "Microsoft.Resources/resourceGroups",  # at subscription scope
    } <= declared
    modules = [m for path in bicep_files() for m in parse(path).modules.values()]
    assert len(modules) >= 12


# -- each check can fail ----------------------------------------------------------------------------


def planted(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of infra/ with ``old`` replaced by ``new`` in ``file``, once."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    target = copy / file
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{file}: the fault's anchor {old!r} is not there exactly once"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return copy


# (file, anchor, replacement, the finding's code, a phrase of its message)
FAULTS = {
    "unknown property": (
        "app/storage.bicep",
        "allowSharedKeyAccess: false",
        "allowSharedKeyAcess: false",
        "unknown-property",
        "properties.allowSharedKeyAcess is not a property of",
    ),
    "unknown property of a discriminated element": (
        "app/event-subscription.bicep",
        "maxEventsPerBatch: 1",
        "maxEventPerBatch: 1",
        "unknown-property",
        "destination.properties.maxEventPerBatch is not a property of AzureFunctionEventSubscriptionDestination",
    ),
    "wrong enum value": (
        "app/keyvault.bicep",
        "sku: { family: 'A', name: 'standard' }",
        "sku: { family: 'A', name: 'Standard' }",
        "enum",
        "properties.sku.name: 'Standard' is not one of 'standard' | 'premium'",
    ),
    "wrong value of an extensible enum": (
        "app/storage.bicep",
        "minimumTlsVersion: 'TLS1_2'",
        "minimumTlsVersion: '1.2'",
        "enum",
        "properties.minimumTlsVersion: '1.2' is not one of 'TLS1_0'",
    ),
    "wrong discriminator value (destination)": (
        "app/event-subscription.bicep",
        "endpointType: 'AzureFunction'",
        "endpointType: 'Function'",
        "discriminator",
        "properties.destination.endpointType: 'Function' is not one of 'AzureFunction'",
    ),
    "wrong discriminator value (advanced filter)": (
        "app/event-subscription.bicep",
        "operatorType: 'StringIn'",
        "operatorType: 'StringsIn'",
        "discriminator",
        "properties.filter.advancedFilters[0].operatorType: 'StringsIn' is not one of",
    ),
    "missing required property": (
        "app/group-role.bicep",
        "    principalId: principalId\n",
        "",
        "required",
        "properties.principalId is required",
    ),
    "missing required property of the resource": (
        "app/identity.bicep",
        "  location: location\n",
        "",
        "required",
        "location is required",
    ),
    "read-only property set": (
        "app/monitoring.bicep",
        "    retentionInDays: retentionInDays\n",
        "    retentionInDays: retentionInDays\n    customerId: '00000000-0000-0000-0000-000000000000'\n",
        "read-only",
        "properties.customerId is read-only",
    ),
    "existing resource given a property": (
        "app/events.bicep",
        "resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: storageAccountName\n",
        "resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n  name: storageAccountName\n"
        "  kind: 'StorageV2'\n",
        "read-only",
        "an existing resource is only named; kind is not set",
    ),
    "unknown API version": (
        "app/keyvault.bicep",
        "'Microsoft.KeyVault/vaults@2023-07-01'",
        "'Microsoft.KeyVault/vaults@2023-07-02'",
        "api-version",
        "Microsoft.KeyVault/vaults has no API version 2023-07-02",
    ),
    "a type the data does not hold": (
        "app/identity.bicep",
        "output id string",
        "resource network 'Microsoft.Network/virtualNetworks@2024-05-01' = {\n  name: name\n  location: location\n}\n\n"
        "output id string",
        "type-data",
        "generated/*/microsoft.network/2024-05-01/types.json",
    ),
    "module output that does not exist": (
        "main.bicep",
        "principalId: identity.outputs.principalId\n    logAnalyticsWorkspaceId",
        "principalId: identity.outputs.objectId\n    logAnalyticsWorkspaceId",
        "module-output",
        "identity.outputs.objectId: app/identity.bicep has no output objectId",
    ),
    "module parameter that does not exist": (
        "main.bicep",
        "    severity: alertSeverity\n",
        "    severity: alertSeverity\n    threshold: 1\n",
        "module-param",
        "threshold is not a parameter of app/alerts.bicep",
    ),
    "required module parameter not given": (
        "main.bicep",
        "    severity: alertSeverity\n",
        "",
        "module-param",
        "parameter severity is required",
    ),
    "module parameter outside @allowed": (
        "main.bicep",
        "type: toLower('${split(trim(resourceId), '/')[6]}/${split(trim(resourceId), '/')[7]}')",
        "type: 'microsoft.web/sites'",
        "enum",
        "'microsoft.web/sites' is not one of",
    ),
    "module deployed to a scope its targetScope is not": (
        "main.bicep",
        "module rbac 'rbac.bicep' = {\n  name: 'rbac'\n",
        "module rbac 'rbac.bicep' = {\n  name: 'rbac'\n  scope: group\n",
        "scope",
        "deployed to a resource group, but its targetScope is 'subscription'",
    ),
    "resource deployed where its type cannot be": (
        "app/identity.bicep",
        "output id string",
        "resource extra 'Microsoft.Resources/resourceGroups@2024-03-01' = {\n  name: name\n  location: location\n}\n\n"
        "output id string",
        "scope",
        "cannot be deployed at the resource group scope; its type allows subscription",
    ),
    "a string where a bool goes": (
        "app/notifications.bicep",
        "disableLocalAuth: true",
        "disableLocalAuth: 'true'",
        "kind",
        "properties.disableLocalAuth: expects bool, but the value is a string",
    ),
    "a bool parameter where a string goes": (
        "app/function.bicep",
        "ftpsState: 'Disabled'",
        "ftpsState: dryRun",
        "kind",
        "properties.siteConfig.ftpsState expects 'AllAllowed' | 'FtpsOnly' | 'Disabled' | string, but the value is a "
        "bool",
    ),
    "a conditional module read without .? (BCP318)": (
        "app/events.bicep",
        "principalId: resourceWrites.?outputs.topicPrincipalId ?? ''",
        "principalId: resourceWrites.outputs.topicPrincipalId",
        "BCP318",
        "the module resourceWrites is declared with if",
    ),
    "a name read from a running resource (BCP120)": (
        "app/keyvault.bicep",
        "name: guid(vault.id, principalId, keyVaultSecretsUser)",
        "name: guid(vault.properties.vaultUri, principalId, keyVaultSecretsUser)",
        "BCP120",
        "name must be known when the deployment starts, but reads vault.properties",
    ),
    "a module output read through ! that does not exist": (
        "app/events.bicep",
        "principalId: resourceWrites.?outputs.topicPrincipalId ?? ''",
        "principalId: resourceWrites!.outputs.principalId",
        "module-output",
        "resourceWrites.outputs.principalId: event-subscription.bicep has no output principalId",
    ),
    "a loop read without an index": (
        "app/storage.bicep",
        "[for (table, i) in ledgerTables: tables[i].name]",
        "[for (table, i) in ledgerTables: tables.name]",
        "kind",
        "tables is a loop: read one of them with tables[i]",
    ),
    "a parameter's default outside its bounds": (
        "main.bicep",
        "param alertSeverity int = 2",
        "param alertSeverity int = 5",
        "kind",
        "parameter alertSeverity's default: 5 is outside @maxValue(4)",
    ),
    "a property read that the type does not have": (
        "app/storage.bicep",
        "account.properties.primaryEndpoints.blob",
        "account.properties.primaryEndpoint.blob",
        "unknown-property",
        "account.properties.primaryEndpoint: Microsoft.Storage/storageAccounts@2023-05-01 has no such property",
    ),
    "a child under the wrong parent": (
        "app/function.bicep",
        "resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {\n  parent: site",
        "resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {\n  parent: plan",
        "parent",
        "is not a child type of its parent's Microsoft.Web/serverfarms",
    ),
    "a name never declared": (
        "app/storage.bicep",
        "output id string = account.id",
        "output id string = acount.id",
        "undeclared",
        "acount is not declared",
    ),
    "a hard-coded cloud URL (no-hardcoded-env-urls)": (
        "app/function.bicep",
        "param logAnalyticsEndpoint string = ''",
        "param logAnalyticsEndpoint string = 'https://api.loganalytics.io'",
        "no-hardcoded-env-urls",
        "api.loganalytics.io differs between Azure clouds",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_planted_fault_is_found(fault: str, tmp_path: Path, types: TypeData) -> None:
    file, old, new, code, phrase = FAULTS[fault]
    findings = check_infra(types, planted(tmp_path, file, old, new))
    matching = [f for f in findings if f.code == code and phrase in f.message]
    assert matching, f"{fault}: expected [{code}] {phrase!r} in\n{shown(findings)}"
    assert all(f.path == file for f in matching), shown(matching)


def test_a_conditional_module_asserted_with_an_exclamation_mark_is_the_author_s_word(
    tmp_path: Path, types: TypeData
) -> None:
    copy = planted(
        tmp_path,
        "app/events.bicep",
        "principalId: resourceWrites.?outputs.topicPrincipalId ?? ''",
        "principalId: resourceWrites!.outputs.topicPrincipalId",
    )
    findings = check_file(copy / "app" / "events.bicep", types, copy)
    assert findings == [], shown(findings)


def test_a_types_json_added_is_found_before_the_index_names_it(tmp_path: Path, types: TypeData) -> None:
    identity = "msi/microsoft.managedidentity/2023-01-31/types.json"
    index = json.loads((types.folder / "index-subset.json").read_text(encoding="utf-8"))
    del index["resources"]["microsoft.managedidentity/userassignedidentities@2023-01-31"]
    (tmp_path / "index-subset.json").write_text(json.dumps(index), encoding="utf-8")
    partial = TypeData(tmp_path)
    needed = partial.resource_type("Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31")
    assert isinstance(needed, Missing) and needed.code == "type-data"
    # No other type of the provider is held, so the service folder is not known: any will do.
    assert "add generated/*/microsoft.managedidentity/2023-01-31/types.json" in needed.reason
    (tmp_path / "generated" / identity).parent.mkdir(parents=True)
    shutil.copyfile(types.folder / "generated" / identity, tmp_path / "generated" / identity)
    found = partial.resource_type("Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31")
    assert (
        isinstance(found, AzType)
        and found.node["name"] == "Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31"
    )


def test_without_the_type_data_the_check_says_where_it_looks(tmp_path: Path) -> None:
    with pytest.raises(TypeDataMissing, match=re.escape(str(tmp_path / "bicep-types-az"))):
        load_type_data(tmp_path / "bicep-types-az")


# -- the findings fixed stay fixed ------------------------------------------------------------------


def test_log_alert_rules_wait_for_tables_a_fresh_workspace_lacks() -> None:
    rules = [
        r
        for r in parse(INFRA / "app" / "alerts.bicep").resources
        if r.type.startswith("Microsoft.Insights/scheduledQueryRules@")
    ]
    assert rules
    for rule in rules:
        body, _, _ = unwrap(rule.body)
        kind = body.get("kind")
        assert kind is not None and literal(kind.value) == "LogAlert"
        properties = body.get("properties")
        assert properties is not None and isinstance(properties.value, Object)
        skip = properties.value.get("skipQueryValidation")
        assert skip is not None and literal(skip.value) is True, (
            f"{rule.name}: ARM refuses a query naming a missing table"
        )


def test_the_log_analytics_endpoint_is_the_code_s_unless_a_sovereign_cloud_s_is_given() -> None:
    function = parse(INFRA / "app" / "function.bicep")
    default = function.params["logAnalyticsEndpoint"].default
    assert default is not None and literal(default) == ""
    # An empty endpoint reaches the code as the public cloud's.
    assert LogEvidence("workspace", credential=None, endpoint="").endpoint == DEFAULT_ENDPOINT  # type: ignore[arg-type]
    assert LogEvidence("workspace", credential=None, endpoint="https://api.loganalytics.us/").endpoint == (  # type: ignore[arg-type]
        "https://api.loganalytics.us"
    )


# -- the parser -------------------------------------------------------------------------------------


def value_of(text: str) -> object:
    document = parse_text(f"var x = {text}\n")
    return document.variables["x"].value


def test_the_parser_keeps_strings_and_references_apart() -> None:
    interpolated = value_of("'https://${name}.blob.${environment().suffixes.storage}'")
    assert isinstance(interpolated, String) and interpolated.literal is None
    assert [type(part).__name__ for part in interpolated.parts] == ["str", "Reference", "str", "Member"]
    plain = value_of("'it\\'s ${'$'}{x} \\u{41}'")
    assert isinstance(plain, String) and plain.parts[0] == "it's "
    assert isinstance(value_of("name"), Reference)
    multiline = value_of("'''\nline ${not} interpolated\n'''")
    assert isinstance(multiline, String) and multiline.literal == "line ${not} interpolated\n"


def test_the_parser_reads_operators_with_bicep_precedence() -> None:
    safe = value_of("module.?outputs.id ?? ''")
    assert isinstance(safe, Binary) and safe.operator == "??"
    assert isinstance(safe.left, Member) and safe.left.name == "id"
    assert isinstance(safe.left.target, Member) and safe.left.target.safe
    asserted = value_of("module!.outputs.id")
    assert isinstance(asserted, Member) and isinstance(asserted.target, Member)
    assert isinstance(asserted.target.target, NonNull)
    choice = value_of("a != b && !c ? 'x' : 'y'")
    assert isinstance(choice, Ternary) and isinstance(choice.condition, Binary)
    assert choice.condition.operator == "&&"
    call = value_of("az.resourceGroup(split(id, '/')[4])")
    assert isinstance(call, Call) and call.name == "resourceGroup"


def test_the_parser_reads_objects_loops_and_child_resources() -> None:
    document = parse_text(
        "resource a 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {\n"
        "  name: 'a'\n"
        "  resource b 'blobServices' existing = {\n"
        "    name: 'default'\n"
        "  }\n"
        "}\n"
        "var policy = { enabled: true, days: 7 }\n"
        "var names = [for (item, i) in ['x', 'y']: '${item}-${i}']\n"
    )
    assert [r.symbol for r in document.resources] == ["a", "a::b"]
    assert isinstance(document.variables["policy"].value, Object)
    assert [p.key for p in document.variables["policy"].value.properties] == ["enabled", "days"]


def test_the_parser_refuses_what_it_does_not_understand_naming_the_line() -> None:
    with pytest.raises(BicepSyntaxError, match=r":2: 'type' declarations are not understood"):
        parse_text("param a string\ntype b = string\n")
    with pytest.raises(BicepSyntaxError, match=r":1: a string is never closed"):
        parse_text("var a = 'open\n")
