"""The infrastructure (``infra/``, ``azure.yaml``) agrees with the code, grants no more than the code
uses, holds no secret, and passes checkov offline.

There is no Bicep compiler on a development machine or in CI, so the files are parsed with pycep
and checked here the way the compiler and a reviewer would: every module's parameters exist, every
file the Bicep loads exists and is the code's own output, every app setting is one the code or the
Functions host reads.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from remediators.baselines import TableBaselines
from remediators.deployment import derived_files, stale_files
from remediators.evidence import alert_query
from remediators.ledger import Ledger
from remediators.pipeline import SUBNET_JOIN_ACTION
from remediators.principal import APPROVE, AUTH_ENABLED, READ, ROLES
from remediators.registry import REMEDIATORS, guarded_types, write_operations
from remediators.role import SERVICE_READS, all_actions
from remediators.settings import SETTINGS
from remediators.work_queue import WorkQueue

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

# Built-in roles the deployment grants on the service's own resources, each on one resource.
BUILT_IN_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f4e5b1c0a3e": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "73c42c96-874c-492b-b04d-ab87d138a893": "Log Analytics Reader",
    "d5a91429-5739-47e2-a06b-3470a27159e7": "EventGrid Data Sender",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
}
# Settings the Functions host and its libraries read (not the code): identity-based storage for
# the host and the queue trigger's connection "AzureWebJobsStorage", and Application Insights
# with Entra ID authentication.
HOST_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
# What App Service sets by itself on every instance; the code may read these without the Bicep
# (and the Bicep must not set them: WEBSITE_AUTH_ENABLED is the platform's word that authentication is on).
PLATFORM_SETTINGS = {"WEBSITE_HOSTNAME", AUTH_ENABLED}
# What Azure services call with a function key alone, so App Service authentication lets them through.
KEY_ONLY_PATHS = ["/runtime/webhooks/eventgrid", "/api/alerts", "/api/health"]


@functools.cache
def parsed(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = BicepParser().parse(text=path.read_text(encoding="utf-8"))
    return document


def body(declaration: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's own body, under any loop (``[for ...]``) or condition (``if``)."""
    config: dict[str, Any] = declaration["config"]
    while "config" in config and ("loop_type" in config or "condition" in config):
        config = config["config"]
    return config


def resources(of_type: str | None = None) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    for path in BICEP_FILES:
        for name, declaration in parsed(path).get("resources", {}).items():
            if of_type is None or declaration["type"].casefold() == of_type.casefold():
                yield path, name, declaration


def loaded(node: Any, function: str) -> list[str]:
    """Every path given to ``function`` (load_json_content, load_text_content) anywhere in ``node``."""
    if isinstance(node, dict):
        if node.get("function", {}).get("type") == function if isinstance(node.get("function"), dict) else False:
            return [node["function"]["parameters"]["file_path"]]
        return [path for value in node.values() for path in loaded(value, function)]
    if isinstance(node, list):
        return [path for value in node for path in loaded(value, function)]
    return []


def load_json(path: Path, relative: str) -> Any:
    return json.loads((path.parent / relative).read_text(encoding="utf-8"))


# -- the files parse, and hang together as the compiler would check -------------------------------


def test_the_infrastructure_is_all_there() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert {"main.bicep", "rbac.bicep", "app/function.bicep", "app/storage.bicep", "app/events.bicep"} <= names
    assert (INFRA / "main.parameters.json").is_file()
    assert (ROOT / "azure.yaml").is_file()


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses(path: Path) -> None:
    document = parsed(path)
    assert document["resources"] or document["modules"], f"{path.name} declares nothing"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_module_is_given_exactly_parameters_it_declares(path: Path) -> None:
    for name, module in parsed(path).get("modules", {}).items():
        target = path.parent / module["detail"]["path"]
        assert target.is_file(), f"{path.name}: module {name} points at missing {target}"
        declared = parsed(target)["parameters"]
        given = set(body(module).get("params", {}))
        assert given <= set(declared), f"{path.name}: module {name} passes unknown {given - set(declared)}"
        required = {p for p, d in declared.items() if d.get("default") is None and not _nullable(d)}
        assert required <= given, f"{path.name}: module {name} misses {required - given}"


def _nullable(declaration: dict[str, Any]) -> bool:
    return bool(declaration.get("type", "").endswith("?"))


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_module_output_used_is_declared_and_every_parameter_is_used(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    modules = parsed(path).get("modules", {})
    for module, output in set(re.findall(r"\b(\w+)\.outputs\.(\w+)", text)):
        assert module in modules, f"{path.name}: {module} is not a module"
        declared = parsed(path.parent / modules[module]["detail"]["path"]).get("outputs", {})
        assert output in declared, f"{path.name}: module {module} has no output {output}"
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("//", "param ", "@")))
    for name in parsed(path)["parameters"]:
        assert re.search(rf"\b{name}\b", code), f"{path.name}: parameter {name} is never used"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_loaded_file_exists(path: Path) -> None:
    for function in ("load_json_content", "load_text_content"):
        for relative in loaded(parsed(path), function):
            assert (path.parent / relative).is_file(), f"{path.name} loads missing {relative}"


def test_resource_api_versions_are_pinned_and_stable() -> None:
    for path, name, declaration in resources():
        version = declaration["api_version"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", version), f"{path.name}: {name} @{version}"
        # Diagnostic settings have had no stable api-version since 2017; every other type is stable.
        if declaration["type"] != "Microsoft.Insights/diagnosticSettings":
            assert not version.endswith("-preview"), f"{path.name}: {name} uses a preview api-version"


def test_main_parameters_file_feeds_only_declared_parameters() -> None:
    declared = parsed(INFRA / "main.bicep")["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(given) <= set(declared)
    required = {p for p, d in declared.items() if d.get("default") is None}
    assert required <= set(given), f"main.parameters.json misses {required - set(given)}"
    assert "teamsWebhookUrl" in declared and "@secure" not in json.dumps(given)


# -- derived from the code --------------------------------------------------------------------------


def test_files_derived_from_the_code_are_current() -> None:
    assert stale_files() == [], "run: python -m remediators infra --write"
    assert set(derived_files()) >= {"roles/managed-rg.json", "roles/ai-account.json", "roles/reader.json"}


def test_stale_derived_files_are_noticed(tmp_path: Path) -> None:
    for path, content in derived_files().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content, encoding="utf-8")
    assert stale_files(tmp_path) == []
    role = tmp_path / "roles" / "managed-rg.json"
    role.write_text(role.read_text(encoding="utf-8").replace("/read", "/*"), encoding="utf-8")
    assert stale_files(tmp_path) == ["roles/managed-rg.json"]


def test_custom_roles_hold_exactly_the_actions_the_code_performs() -> None:
    rbac = INFRA / "rbac.bicep"
    loaded_roles = {relative: load_json(rbac, relative) for relative in loaded(parsed(rbac), "load_json_content")}
    assert set(loaded_roles) == {"roles/managed-rg.json", "roles/ai-account.json", "roles/reader.json"}
    deployed = {action for role in loaded_roles.values() for action in role["Actions"]}
    assert deployed == all_actions()
    declared = {action for r in REMEDIATORS for action in r.arm_actions}
    assert declared <= deployed and deployed - declared == set(SERVICE_READS)
    for role in loaded_roles.values():
        assert role["DataActions"] == role["NotDataActions"] == role["NotActions"] == []
        for action in role["Actions"]:
            assert "*" not in action
            # Reads and writes of a type, and the one join a Cosmos DB account's VNet rules demand.
            assert re.fullmatch(r"Microsoft\.\w+/\w+/(read|write)", action) or action == SUBNET_JOIN_ACTION, action
            # Reading its own role assignments is the most of RBAC the service may touch: it grants nothing.
            assert not action.startswith("Microsoft.Authorization/") or action.endswith("/read"), action
    # The role definitions take their permissions from those files and nothing else.
    for _, name, declaration in resources("Microsoft.Authorization/roleDefinitions"):
        (permissions,) = body(declaration)["properties"]["permissions"]
        variable = permissions["actions"]["operator"]["operands"]["operand_1"]
        assert permissions["actions"]["operator"]["operands"]["operand_2"] == "Actions", name
        assert loaded(parsed(rbac)["variables"][variable], "load_json_content"), name


def test_only_the_custom_roles_reach_the_guarded_scopes() -> None:
    """Assignments outside the service's own resource group are in rbac.bicep, with the custom roles."""
    rbac = parsed(INFRA / "rbac.bicep")
    custom = {name for _, name, _ in resources("Microsoft.Authorization/roleDefinitions")}
    for name, declaration in rbac["resources"].items():
        if declaration["type"] == "Microsoft.Authorization/roleAssignments":
            role = body(declaration)["properties"]["roleDefinitionId"]["operator"]["operands"]["operand_1"]
            assert role in custom, name
    for name, module in rbac["modules"].items():
        role = body(module)["params"]["roleDefinitionId"]["operator"]["operands"]["operand_1"]
        assert role in custom, name
        assert module["detail"]["path"] == "app/group-role.bicep"
    # No other file assigns a role above a single resource of the service's own.
    for path, name, declaration in resources("Microsoft.Authorization/roleAssignments"):
        if path.name in ("rbac.bicep", "group-role.bicep"):
            continue
        assert "scope" in body(declaration), f"{path.name}: {name} is not scoped to one resource"


def test_built_in_roles_are_the_data_roles_listed_and_never_owner_or_contributor() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in BICEP_FILES)
    guids = set(re.findall(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'", text))
    assert guids == set(BUILT_IN_ROLES)
    for forbidden in (
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
        "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    ):
        assert forbidden not in text


def test_role_assignment_names_are_idempotent_guids_of_scope_principal_and_role() -> None:
    count = 0
    for path, name, declaration in resources("Microsoft.Authorization/roleAssignments"):
        guid = body(declaration)["name"]["function"]
        assert guid["type"] == "guid", f"{path.name}: {name}"
        assert len(guid["parameters"]) == 3, f"{path.name}: {name} is not guid(scope, principal, role)"
        count += 1
    assert count >= 10


def test_event_subscription_lets_through_exactly_the_writes_the_remediators_handle() -> None:
    events = INFRA / "app" / "events.bicep"
    modules = {name: body(m)["params"] for name, m in parsed(events)["modules"].items()}
    writes = modules["resourceWrites"]
    assert writes["includedEventTypes"] == ["Microsoft.Resources.ResourceWriteSuccess"]
    assert writes["filterKey"] == "data.operationName"
    (source,) = loaded(writes["filterValues"], "load_json_content")
    assert load_json(events, source) == write_operations()
    assert set(write_operations()) == {f"{r.resource_type}/write" for r in REMEDIATORS}
    assert set(write_operations()) <= all_actions()  # the service may perform every write it listens for

    changes = modules["resourceChanges"]
    assert changes["includedEventTypes"] == ["Microsoft.ResourceNotifications.Resources.CreatedOrUpdated"]
    assert changes["filterKey"] == "data.resourceInfo.type"
    assert load_json(events, loaded(changes["filterValues"], "load_json_content")[0]) == guarded_types()

    # Both subscriptions are this one declaration: StringIn on the key, retries, dead-lettering.
    assert {m["detail"]["path"] for m in parsed(events)["modules"].values()} == {"event-subscription.bicep"}
    subscription = body(parsed(INFRA / "app" / "event-subscription.bicep")["resources"]["toFunction"])["properties"]
    (advanced,) = subscription["filter"]["advancedFilters"]
    assert advanced == {"operatorType": "StringIn", "key": "filterKey", "values": "filterValues"}
    assert subscription["destination"]["endpointType"] == "AzureFunction"
    assert subscription["retryPolicy"] == {
        "maxDeliveryAttempts": "maxDeliveryAttempts",
        "eventTimeToLiveInMinutes": "eventTimeToLiveInMinutes",
    }
    dead_letter = subscription["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"] == {"type": "SystemAssigned"}
    assert dead_letter["deadLetterDestination"]["endpointType"] == "StorageBlob"


def test_functions_the_infrastructure_calls_exist() -> None:
    names = set(re.findall(r'@app\.function_name\("(\w+)"\)', (ROOT / "function_app.py").read_text(encoding="utf-8")))
    subscription = body(parsed(INFRA / "app" / "event-subscription.bicep")["resources"]["toFunction"])
    assert subscription["properties"]["destination"]["properties"]["resourceId"].endswith(
        "/functions/on_resource_event"
    )
    assert "on_resource_event" in names
    (group,) = [body(d) for _, _, d in resources("Microsoft.Insights/actionGroups")]
    (receiver,) = group["properties"]["azureFunctionReceivers"]
    assert receiver["functionName"] == "alerts" and "alerts" in names
    assert receiver["useCommonAlertSchema"] is True
    assert re.search(r"route=\"alerts\"", (ROOT / "function_app.py").read_text(encoding="utf-8"))


def test_alert_rules_run_the_evidence_signatures() -> None:
    alerts = INFRA / "app" / "alerts.bicep"
    signatures = parsed(alerts)["variables"]["signatures"]["value"]
    queries = {s["name"]: (alerts.parent / loaded(s, "load_text_content")[0]).read_text() for s in signatures}
    expected = {
        r.name.replace("_", "-"): alert_query(r.resource_type)
        for r in REMEDIATORS
        if alert_query(r.resource_type) is not None
    }
    assert {name: query.rstrip("\n") for name, query in queries.items()} == {
        name: kql[1] for name, kql in expected.items() if kql is not None
    }
    (rule,) = [body(d) for _, _, d in resources("Microsoft.Insights/scheduledQueryRules")]
    (criterion,) = rule["properties"]["criteria"]["allOf"]
    assert criterion["dimensions"] == [{"name": "_ResourceId", "operator": "Include", "values": ["*"]}]
    assert criterion["metricMeasureColumn"] == "Refused"
    for query in queries.values():
        assert query.rstrip().endswith("| summarize Refused = count() by _ResourceId")


def test_diagnostic_settings_send_the_logs_the_evidence_reads() -> None:
    diagnostics = parsed(INFRA / "app" / "diagnostics.bicep")["resources"]
    categories = {
        name: [log.get("category") for log in body(d)["properties"]["logs"]]
        for name, d in diagnostics.items()
        if d["type"] == "Microsoft.Insights/diagnosticSettings"
    }
    assert categories == {
        "cosmosLogs": ["DataPlaneRequests"],  # -> CDBDataPlaneRequests (resource-specific)
        "searchLogs": ["OperationLogs"],  # -> AzureDiagnostics
        "storageLogs": ["StorageRead", "StorageWrite", "StorageDelete"],  # -> StorageBlobLogs
    }
    assert body(diagnostics["cosmosLogs"])["properties"]["logAnalyticsDestinationType"] == "Dedicated"
    assert body(diagnostics["storageLogs"])["scope"]["operator"]["operands"] == {
        "operand_1": "storage",
        "operand_2": "blobs",
    }
    allowed = parsed(INFRA / "app" / "diagnostics.bicep")["parameters"]["type"]["decorators"]
    (values,) = [d["argument"] for d in allowed if d["type"] == "allowed"]
    assert set(values) == {t.casefold() for t in guarded_types() if alert_query(t) is not None}, (
        "diagnostics cover exactly the types with a signature"
    )


# -- settings -------------------------------------------------------------------------------------


def app_settings() -> dict[str, Any]:
    site = parsed(INFRA / "app" / "function.bicep")["resources"]["site"]
    listed = body(site)["properties"]["siteConfig"]["appSettings"]
    names = [s["name"] for s in listed]
    assert len(names) == len(set(names)), "a setting is set twice"
    return {s["name"]: s["value"] for s in listed}


def settings_the_code_reads() -> set[str]:
    sources = [ROOT / "function_app.py", *(ROOT / "remediators").rglob("*.py")]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    return set(re.findall(r"\bGUARD_[A-Z_]+[A-Z]\b", text)) | (set(re.findall(r"\bWEBSITE_[A-Z_]+\b", text)))


def test_the_bicep_sets_every_setting_the_code_reads_and_nothing_else() -> None:
    settings = app_settings()
    declared = {s.name for s in SETTINGS}
    assert {name for name in settings if name.startswith("GUARD_")} == declared
    assert set(settings) - declared == HOST_SETTINGS
    assert settings_the_code_reads() - PLATFORM_SETTINGS == declared
    assert not PLATFORM_SETTINGS & set(settings), "the platform's own settings are never set by the Bicep"
    # Triggers name their settings with %...% and connections by prefix: all are set.
    function_app = (ROOT / "function_app.py").read_text(encoding="utf-8")
    for placeholder in re.findall(r'"%(\w+)%"', function_app):
        assert placeholder in settings, placeholder
    for connection in re.findall(r'connection="(\w+)"', function_app):
        assert f"{connection}__queueServiceUri" in settings and f"{connection}__credential" in settings
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"


def test_flex_consumption_app_runs_python_311_as_the_user_assigned_identity() -> None:
    resources_ = parsed(INFRA / "app" / "function.bicep")["resources"]
    plan, site = body(resources_["plan"]), body(resources_["site"])
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    assert site["identity"]["type"] == "UserAssigned"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    assert site["properties"]["httpsOnly"] is True
    # Flex Consumption refuses these as app settings (they live in functionAppConfig).
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"} & set(
        app_settings()
    )


def test_storage_declares_the_tables_and_queue_the_code_uses_and_no_shared_key() -> None:
    storage = parsed(INFRA / "app" / "storage.bicep")
    assert set(storage["variables"]["ledgerTables"]["value"]) == {
        Ledger.REMEDIATIONS,
        Ledger.INDEX,
        Ledger.EVENTS,
        Ledger.LEASES,
        TableBaselines.TABLE,
        WorkQueue.CLAIMS,
    }
    work_queue = next(s for s in SETTINGS if s.name == "GUARD_WORK_QUEUE")
    assert storage["parameters"]["workQueue"]["default"] == work_queue.default
    account = body(storage["resources"]["account"])["properties"]
    assert account["allowSharedKeyAccess"] is False and account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"


def test_monitoring_and_topics_have_local_auth_off() -> None:
    monitoring = parsed(INFRA / "app" / "monitoring.bicep")["resources"]
    assert body(monitoring["workspace"])["properties"]["features"]["disableLocalAuth"] is True
    assert body(monitoring["insights"])["properties"]["DisableLocalAuth"] is True
    topic = parsed(INFRA / "app" / "notifications.bicep")["resources"]["topic"]
    assert body(topic)["properties"]["disableLocalAuth"] is True


# -- no secrets -----------------------------------------------------------------------------------

# What a key, a SAS, a connection string with a key, or a webhook with its signature looks like.
SECRET_PATTERNS = {
    "storage or Event Grid key in a connection string": r"(?i)(AccountKey|SharedAccessKey|SharedAccessSignature)\s*=",
    "SAS signature": r"(?i)[?&]sig=[A-Za-z0-9%+/=]{10,}",
    "key listed at deployment": r"(?i)\blist(Keys|Secrets|ConnectionStrings|AccountSas|ServiceSas)\s*\(",
    "function key in a URL": r"(?i)[?&]code=[A-Za-z0-9_\-=]{10,}",
    "Teams or Logic Apps webhook": r"(?i)https://[\w.-]*(webhook\.office\.com|logic\.azure\.com)",
    "JSON web token": r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    "base64 key (64 bytes)": r"[A-Za-z0-9+/]{86}==",
    "instrumentation key": r"(?i)InstrumentationKey\s*=\s*[0-9a-f-]{36}",
}


def secrets_in(text: str) -> list[str]:
    return [what for what, pattern in SECRET_PATTERNS.items() if re.search(pattern, text)]


def infra_files() -> list[Path]:
    return [p for p in INFRA.rglob("*") if p.is_file()] + [ROOT / "azure.yaml"]


def test_no_secret_key_or_connection_string_with_a_key_anywhere_in_infra() -> None:
    found = {str(p.relative_to(ROOT)): secrets_in(p.read_text(encoding="utf-8")) for p in infra_files()}
    assert {path: what for path, what in found.items() if what} == {}


@pytest.mark.parametrize(
    "leak",
    [
        "value: 'DefaultEndpointsProtocol=https;AccountName=st;AccountKey=bm90IGEga2V5IGF0IGFsbA==;'",
        "value: storage.listKeys().keys[0].value",
        "url: 'https://func.azurewebsites.net/api/alerts?code=abcdefghijklmnop1234'",
        "url: 'https://contoso.webhook.office.com/webhookb2/abc'",
        "url: 'https://st.blob.core.windows.net/c?sv=2022-11-02&sig=abcdefghijklmnopqrstuv%3D'",
        "value: 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc'",
    ],
)
def test_the_secret_scan_would_catch_a_leak(leak: str) -> None:
    assert secrets_in(leak)


def test_secure_parameters_are_never_outputs_or_plain_settings() -> None:
    for path in BICEP_FILES:
        document = parsed(path)
        secure = {
            name for name, p in document["parameters"].items() if any(d["type"] == "secure" for d in p["decorators"])
        }
        for name in secure:
            assert name not in json.dumps(document.get("outputs", {})), f"{path.name} outputs {name}"
        for name in document["parameters"]:
            if re.search(
                r"(?i)(secret|password|webhook|(api|account|access|shared)key|(access|sas)token)", name
            ) and not name.endswith(("Uri", "Id")):
                assert name in secure, f"{path.name}: {name} holds a secret and is not @secure()"
    teams = app_settings()["GUARD_NOTIFY_TEAMS_WEBHOOK_URL"]
    assert "@Microsoft.KeyVault(SecretUri=" in json.dumps(teams)


# -- App Service authentication -------------------------------------------------------------------


def test_app_service_authentication_is_always_on_and_lets_through_only_what_azure_calls_with_a_key() -> None:
    declaration = parsed(INFRA / "app" / "function.bicep")["resources"]["auth"]
    assert "condition" not in declaration["config"], "authentication is not optional"
    settings = body(declaration)
    assert settings["name"] == "authsettingsV2"
    properties = settings["properties"]
    assert properties["platform"] == {"enabled": True}
    assert properties["globalValidation"] == {
        "requireAuthentication": True,
        "unauthenticatedClientAction": "Return401",
        "excludedPaths": KEY_ONLY_PATHS,
    }
    entra = properties["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "authClientId"
    audiences = json.dumps(entra["validation"]["allowedAudiences"])
    assert "api://${authClientId}" in audiences and '"authClientId"' in audiences
    # The client id is required: a deployment without the app registration stops, it does not open up.
    for path in (INFRA / "main.bicep", INFRA / "app" / "function.bicep"):
        declared = parsed(path)["parameters"]["authClientId"]
        assert declared["default"] is None
        assert {"type": "min_length", "argument": 1} in declared["decorators"], path.name
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["authClientId"]["value"] == "${AUTH_CLIENT_ID}"


def test_every_http_function_outside_the_excluded_paths_asks_for_a_signed_in_role() -> None:
    """The code and the platform agree: a path the platform lets through without a token asks for
    none; every other HTTP function asks for a signed-in person holding a role."""
    source = (ROOT / "function_app.py").read_text(encoding="utf-8")
    functions = {node.name: node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}

    def calls(function: ast.FunctionDef) -> set[str]:
        named = {n.func.id for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        return named | {c for name in named & set(functions) - {function.name} for c in calls(functions[name])}

    routes = {}
    for function in functions.values():
        for decorator in function.decorator_list:
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "route":
                (route,) = [k.value for k in decorator.keywords if k.arg == "route"]
                routes["/api/" + ast.literal_eval(route).split("/{")[0]] = function
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "event_grid_trigger":
                routes["/runtime/webhooks/eventgrid"] = function
    assert set(KEY_ONLY_PATHS) <= set(routes)
    for path, function in routes.items():
        asks = "_signed_in" in calls(function)
        assert asks is (path not in KEY_ONLY_PATHS), f"{function.name} ({path})"
    roles = re.findall(r"_signed_in\(req, (\w+)\)", source)
    assert set(roles) == {"READ", "APPROVE"}


def test_the_app_registration_declares_the_roles_the_code_checks() -> None:
    registration = json.loads((INFRA / "auth" / "app-registration.json").read_text(encoding="utf-8"))
    declared = {role["value"]: role for role in registration["appRoles"]}
    assert set(declared) == {READ, APPROVE}
    for role in ROLES:
        assert declared[role.value]["id"] == role.id and declared[role.value]["isEnabled"] is True
    assert declared[APPROVE]["allowedMemberTypes"] == ["User"], "approvals are made by people"
    clients = json.loads((INFRA / "auth" / "api-clients.json").read_text(encoding="utf-8"))["api"]
    assert clients["oauth2PermissionScopes"] == registration["api"]["oauth2PermissionScopes"]
    scope_ids = {scope["id"] for scope in clients["oauth2PermissionScopes"]}
    assert all(set(c["delegatedPermissionIds"]) <= scope_ids for c in clients["preAuthorizedApplications"])
    # v2.0 tokens: their issuer is the /v2.0 one the authentication settings name.
    assert registration["api"]["requestedAccessTokenVersion"] == 2
    auth = body(parsed(INFRA / "app" / "function.bicep")["resources"]["auth"])
    issuer = auth["properties"]["identityProviders"]["azureActiveDirectory"]["registration"]["openIdIssuer"]
    assert json.dumps(issuer).endswith('/v2.0"')


def test_the_preprovision_hook_keeps_the_app_registration_and_sets_its_client_id() -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    hook = project["hooks"]["preprovision"]
    for shell in ("posix", "windows"):
        text = (ROOT / hook[shell]["run"]).read_text(encoding="utf-8")
        for needed in (
            "applications(uniqueName='foundry-guard-",  # Graph's upsert: a second run updates the same one
            "create-if-missing",
            "infra/auth/app-registration.json",
            "infra/auth/api-clients.json",
            "identifierUris",
            "api://",
            "servicePrincipals(appId=",
            "appRoleAssignmentRequired",
            "azd env set AUTH_CLIENT_ID",
        ):
            assert needed in text, f"{hook[shell]['run']}: {needed}"
        # The role bodies are sent after the scope exists, the pre-authorization after that.
        assert text.index("app-registration.json") < text.index("api-clients.json")


# -- azd ------------------------------------------------------------------------------------------


def test_azure_yaml_deploys_the_function_app_and_creates_the_event_subscription_after() -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    (service,) = project["services"].values()
    assert service["host"] == "function" and service["language"] == "python"
    (name,) = project["services"]
    site_tags = json.dumps(body(parsed(INFRA / "main.bicep")["modules"]["functionApp"])["params"]["tags"])
    assert f'"\'azd-service-name\'": "{name}"' in site_tags
    hook = project["hooks"]["postdeploy"]
    for shell in ("posix", "windows"):
        script = ROOT / hook[shell]["run"]
        assert script.is_file(), script
        text = script.read_text(encoding="utf-8")
        assert "FUNCTIONS_DEPLOYED" in text and "azd provision" in text
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["functionsDeployed"]["value"] == "${FUNCTIONS_DEPLOYED=false}"


def test_the_package_leaves_out_what_the_function_app_does_not_run() -> None:
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (".venv", ".venv-checkov", "node_modules", "tests", "emulator", "bench", "demo", "infra"):
        assert f"{path}/" in ignored or path in ignored, path
    for needed in ("function_app.py", "host.json", "requirements.txt", "remediators"):
        assert needed not in ignored


# -- checkov --------------------------------------------------------------------------------------


@functools.cache
def checkov_report(directory: Path = INFRA) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: make test installs it in .venv-checkov (requirements-checkov.txt)")
    done = subprocess.run(
        [str(CHECKOV), "--directory", str(directory), "--framework", "bicep", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        # checkov resolves Bicep identifiers through sets, so a name two resources share could be
        # read differently from run to run (it once did); one hash seed makes every run the same.
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_checkov_scans_every_file_and_nothing_fails() -> None:
    report = checkov_report()
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, "checkov could not parse a file (its pycep is older: see the note in infra/)"
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"].get("failed_checks", [])
    ]
    assert failed == []
    assert summary["passed"] > 0
    scanned = {c["file_path"].lstrip("/") for k in ("passed_checks", "skipped_checks") for c in report["results"][k]}
    for must in ("app/function.bicep", "app/storage.bicep", "app/keyvault.bicep", "app/notifications.bicep"):
        assert must in scanned, must


def test_every_checkov_skip_carries_its_reason_in_the_file() -> None:
    comments = []
    for path in BICEP_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip" in line:
                match = re.fullmatch(r"\s*// checkov:skip=(CKV2?_AZURE_\d+): (.{20,})", line)
                assert match, f"{path.name}: a skip without its reason: {line.strip()}"
                comments.append((path.relative_to(INFRA).as_posix(), match.group(1)))
    skipped = {
        (c["file_path"].lstrip("/"), c["check_id"]) for c in checkov_report()["results"].get("skipped_checks", [])
    }
    for check in skipped:
        assert check in comments, f"skipped without a comment: {check}"
    for check in skipped:
        reason = next(
            c["check_result"].get("suppress_comment", "")
            for c in checkov_report()["results"]["skipped_checks"]
            if (c["file_path"].lstrip("/"), c["check_id"]) == check
        )
        assert len(reason.strip()) >= 20, check


def test_every_checkov_skip_hides_a_real_finding(tmp_path: Path) -> None:
    """Without the skip comments, checkov fails exactly the skipped checks: no skip is left over
    from a finding since fixed."""
    bare = tmp_path / "infra"
    for path in INFRA.rglob("*"):
        if path.is_file():
            target = bare / path.relative_to(INFRA)
            target.parent.mkdir(parents=True, exist_ok=True)
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            target.write_text("".join(line for line in lines if "checkov:skip" not in line), encoding="utf-8")
    unskipped = checkov_report(bare)
    failed = {(c["file_path"], c["check_id"], c["resource"]) for c in unskipped["results"].get("failed_checks", [])}
    skipped = {(c["file_path"], c["check_id"], c["resource"]) for c in checkov_report()["results"]["skipped_checks"]}
    assert failed == skipped
    assert unskipped["summary"]["parsing_errors"] == 0
