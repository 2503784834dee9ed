"""Signals: every input that can wake the pipeline, read from Microsoft's own sample payloads.

The payloads are in tests/fixtures/events (provenance beside them) and are never edited: a test
that needs a batch, a second target or a _ResourceId dimension derives it from them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediators.resource_ids import InvalidResourceId, parse_resource_id
from remediators.signals import (
    SOURCE_ALERT,
    SOURCE_EVENT_GRID,
    SOURCE_RESOURCE_NOTIFICATIONS,
    Actor,
    AlertContext,
    Parsed,
    Rejected,
    Signal,
    parse_signals,
)
from tests.payloads import COSMOS_GET, FIXTURES, example

EVENTS = FIXTURES / "events"

STORAGE_ID = (
    "/subscriptions/{subscription-id}/resourcegroups/{resource-group}/providers/Microsoft.Storage/storageAccounts/"
    "{storage-name}"
)
PLACEHOLDER_USER = Actor(object_id="{ID}", app_id="{ID}", name="{user-name}", principal_type=None)
TEST_SUBSCRIPTION = "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
WORKSPACE = (
    f"{TEST_SUBSCRIPTION}/resourcegroups/test-RG/providers/microsoft.operationalinsights/workspaces/"
    "test-logAnalyticsWorkspace"
)


def fixture(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def parser_message(text: str) -> str:
    with pytest.raises(InvalidResourceId) as error:
        parse_resource_id(text)
    return str(error.value)


def only_signal(document: Any) -> Signal:
    parsed = parse_signals(document)
    assert parsed.rejected == ()
    assert len(parsed.signals) == 1
    return parsed.signals[0]


# --- ARM events from a subscription or resource group system topic -------------------------------


def test_resource_write_success_in_the_event_grid_schema() -> None:
    assert parse_signals(fixture("eventgrid-resource-write-success.json")) == Parsed(
        signals=(
            Signal(
                resource_id=STORAGE_ID,
                source=SOURCE_EVENT_GRID,
                event_id="4db48cba-50a2-455a-93b4-de41a3b5b7f6",
                event_type="Microsoft.Resources.ResourceWriteSuccess",
                event_time="2018-07-19T18:38:04.6117357Z",
                operation_name="Microsoft.Storage/storageAccounts/write",
                correlation_id="{ID}",
                actor=PLACEHOLDER_USER,  # the upn claim; Microsoft's sample holds placeholders only
            ),
        ),
        rejected=(),
    )


def test_cloud_events_and_event_grid_give_equal_signals_for_the_same_event() -> None:
    event_grid = parse_signals(fixture("eventgrid-resource-write-success.json"))
    assert parse_signals(fixture("cloudevents-resource-write-success.json")) == event_grid
    # The subscription page's CloudEvent says "topic" for "source" and specversion "`1.0": still read.
    assert parse_signals(fixture("cloudevents-subscription-resource-write-success.json")) == event_grid


def test_a_single_event_outside_an_array_reads_like_a_batch_of_one() -> None:
    (event,) = fixture("eventgrid-resource-write-success.json")
    assert parse_signals(event) == parse_signals([event])


def test_delete_and_action_events_are_signals_with_their_event_type() -> None:
    deleted = only_signal(fixture("eventgrid-resource-delete-success.json"))
    assert deleted.event_type == "Microsoft.Resources.ResourceDeleteSuccess"
    assert deleted.operation_name == "Microsoft.Storage/storageAccounts/delete"
    assert deleted.resource_id == STORAGE_ID.replace("resourcegroups", "resourceGroups")

    action = only_signal(fixture("eventgrid-resource-action-success.json"))
    assert action.event_type == "Microsoft.Resources.ResourceActionSuccess"
    assert action.operation_name == "Microsoft.EventHub/namespaces/AuthorizationRules/listKeys/action"
    assert action.resource_id == (
        "/subscriptions/{subscription-id}/resourceGroups/{resource-group}/providers/Microsoft.EventHub/namespaces/"
        "{namespace}/AuthorizationRules/RootManageSharedAccessKey"
    )
    # No upn or name claim: the app id is the readable name; the evidence gives the principal type.
    assert action.actor == Actor(object_id="{ID}", app_id="{ID}", name="{ID}", principal_type="ServicePrincipal")


@pytest.mark.parametrize(
    "event_type",
    [
        "Microsoft.Resources.ResourceWriteFailure",
        "Microsoft.Resources.ResourceWriteCancel",
        "Microsoft.Resources.ResourceDeleteFailure",
        "Microsoft.Resources.ResourceDeleteCancel",
        "Microsoft.Resources.ResourceActionFailure",
        "Microsoft.Resources.ResourceActionCancel",
        "microsoft.resources.resourcewritesuccess",
    ],
)
def test_every_arm_outcome_is_kept_for_the_pipeline_to_decide(event_type: str) -> None:
    (event,) = fixture("eventgrid-resource-write-success.json")
    event["eventType"] = event_type
    assert only_signal(event).event_type == event_type


def test_the_subject_names_the_resource_when_data_has_no_resource_uri() -> None:
    (event,) = fixture("eventgrid-resource-write-success.json")
    del event["data"]
    assert only_signal(event) == Signal(
        resource_id=STORAGE_ID,
        source=SOURCE_EVENT_GRID,
        event_id="4db48cba-50a2-455a-93b4-de41a3b5b7f6",
        event_type="Microsoft.Resources.ResourceWriteSuccess",
        event_time="2018-07-19T18:38:04.6117357Z",
    )


def test_actor_claims_in_their_short_forms() -> None:
    (event,) = fixture("eventgrid-resource-write-success.json")
    event["data"]["claims"] = {"oid": "o-1", "azp": "a-1", "unique_name": "ops@contoso.com", "idtyp": "user"}
    assert only_signal(event).actor == Actor("o-1", "a-1", "ops@contoso.com", "User")
    event["data"]["claims"] = {"oid": "o-2", "appid": "a-2", "idtyp": "app"}
    assert only_signal(event).actor == Actor("o-2", "a-2", "a-2", "ServicePrincipal")
    event["data"]["claims"] = "not claims"
    event["data"]["authorization"] = {}
    assert only_signal(event).actor is None


# --- Resource Notifications ----------------------------------------------------------------------


def test_resource_notifications_created_or_updated_keeps_the_body_as_given() -> None:
    document = fixture("resource-notifications-created-or-updated.eventgrid.json")
    signal = only_signal(document)
    assert signal == Signal(
        # data.resourceInfo.id, as Microsoft's sample spells it ("subcription", sic; the subject says
        # "subscription"): the pipeline re-reads whichever id the event names.
        resource_id=(
            "/subscriptions/{subcription-id}/resourceGroups/{rg-name}/providers/Microsoft.Storage/storageAccounts/"
            "{storageAccount-name}"
        ),
        source=SOURCE_RESOURCE_NOTIFICATIONS,
        event_id="4eef929a-a65c-47dd-93e2-46b8c17c6c17",
        event_type="Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
        event_time="2023-07-28T20:13:10.8418063Z",  # operationalInfo.resourceEventTime
        resource_body=document["data"]["resourceInfo"],
        resource_api_version="2019-06-01",
    )
    assert signal.resource_body is not None
    assert signal.resource_body["properties"]["allowSharedKeyAccess"] == 1  # not turned into True


def test_resource_notifications_in_both_schemas_give_equal_signals() -> None:
    assert parse_signals(fixture("resource-notifications-created-or-updated.cloudevents.json")) == parse_signals(
        fixture("resource-notifications-created-or-updated.eventgrid.json")
    )


def test_resource_notifications_deleted_carries_no_body() -> None:
    assert only_signal(fixture("resource-notifications-deleted.cloudevents.json")) == Signal(
        resource_id=(
            "/subscriptions/{subscription-id}/resourceGroups/{rg-name}/providers/Microsoft.Storage/storageAccounts/"
            "{storageAccount-name}"
        ),
        source=SOURCE_RESOURCE_NOTIFICATIONS,
        event_id="d4611260-d179-4f86-b196-3a9d4128be2d",
        event_type="Microsoft.ResourceNotifications.Resources.Deleted",
        event_time="2023-07-28T20:11:36.6347858Z",
    )


# --- The subscription validation handshake ------------------------------------------------------


def test_subscription_validation_is_answered_not_signalled() -> None:
    assert parse_signals(fixture("subscription-validation-event.json")) == Parsed(
        signals=(), rejected=(), validation_code="512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
    )


def test_validation_without_a_code_is_rejected() -> None:
    (event,) = fixture("subscription-validation-event.json")
    del event["data"]["validationCode"]
    assert parse_signals([event]) == Parsed(
        (), (Rejected(0, "the subscription validation event has no data.validationCode"),), None
    )


# --- Batches: a bad item costs only itself -------------------------------------------------------


def test_a_batch_with_bad_items_keeps_the_good_ones() -> None:
    (write,) = fixture("eventgrid-resource-write-success.json")
    (action,) = fixture("eventgrid-resource-action-success.json")
    not_an_id = copy.deepcopy(write)
    not_an_id["data"]["resourceUri"] = "storageAccounts/{storage-name}"
    blob = {"eventType": "Microsoft.Storage.BlobCreated", "subject": "/blobServices/default/containers/x"}
    parsed = parse_signals([write, 42, not_an_id, blob, action, []])
    assert [s.event_type for s in parsed.signals] == [
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceActionSuccess",
    ]
    assert parsed.rejected == (
        Rejected(1, "a batch item must be a JSON object, not a number"),
        Rejected(2, parser_message("storageAccounts/{storage-name}")),
        Rejected(
            3,
            "event type 'Microsoft.Storage.BlobCreated' is not one Foundry Guard acts on "
            "(Microsoft.Resources.Resource* events, Microsoft.ResourceNotifications.Resources.*, "
            "subscription validation)",
        ),
        Rejected(5, "a batch item must be a JSON object, not an array of 0 item(s)"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "storageAccounts/x",
        "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage",
        "/subscriptions/<subscription ID>/resourceGroups/rg",
        "/resourceGroups/rg",
    ],
)
def test_an_id_that_is_not_an_arm_id_is_rejected_with_the_parsers_reason(text: str) -> None:
    (event,) = fixture("eventgrid-resource-write-success.json")
    event["data"]["resourceUri"] = text
    event["subject"] = text
    assert parse_signals(event) == Parsed((), (Rejected(None, parser_message(text)),))


def test_an_event_that_names_no_resource_is_rejected() -> None:
    (event,) = fixture("eventgrid-resource-write-success.json")
    del event["subject"]
    del event["data"]["resourceUri"]
    assert parse_signals(event).rejected == (
        Rejected(
            None,
            "the Microsoft.Resources.ResourceWriteSuccess event has neither data.resourceUri nor a subject: "
            "it names no resource",
        ),
    )


# --- Azure Monitor alerts (common alert schema) -------------------------------------------------


def test_metric_alert_keeps_the_lower_cased_target_and_the_alert_context() -> None:
    assert only_signal(fixture("alert-test-metric-static-threshold.json")) == Signal(
        resource_id=f"{TEST_SUBSCRIPTION}/resourcegroups/test-RG/providers/microsoft.storage/storageaccounts/"
        "test-storageAccount",
        source=SOURCE_ALERT,
        event_id=f"{TEST_SUBSCRIPTION}/providers/Microsoft.AlertsManagement/alerts/eeeeeeee-4444-5555-6666-ffffffffffff",
        event_time="2025-04-15T18:17:12.851Z",
        alert=AlertContext(
            rule="test-metricAlertRule",
            rule_id=None,
            alert_id=f"{TEST_SUBSCRIPTION}/providers/Microsoft.AlertsManagement/alerts/"
            "eeeeeeee-4444-5555-6666-ffffffffffff",
            signal_type="Metric",
            monitoring_service="Platform",
            monitor_condition="Fired",
            severity="Sev4",
            fired_time="2025-04-15T18:17:12.851Z",
            resolved_time=None,
            condition_type="SingleResourceMultipleMetricCriteria",
            search_query=None,
            search_results_link=None,
            target_ids=(
                f"{TEST_SUBSCRIPTION}/resourcegroups/test-RG/providers/microsoft.storage/storageaccounts/"
                "test-storageAccount",
            ),
        ),
    )


def test_an_alert_naming_several_resources_gives_a_signal_for_each() -> None:
    payload = fixture("alert-test-metric-static-threshold.json")
    (storage,) = payload["data"]["essentials"]["alertTargetIDs"]
    vm = f"{TEST_SUBSCRIPTION}/resourcegroups/test-RG/providers/microsoft.compute/virtualmachines/test-VM"
    search = f"{TEST_SUBSCRIPTION}/resourceGroups/test-RG/providers/Microsoft.Search/searchServices/test-search"
    payload["data"]["essentials"]["alertTargetIDs"] = [storage, vm, storage.upper(), "not-an-id", search]
    parsed = parse_signals(payload)
    assert [s.resource_id for s in parsed.signals] == [storage, vm, search]  # the upper-cased copy is the same
    # Each signal carries the alert's context and only its own target, not all of them.
    assert [s.alert.target_ids for s in parsed.signals if s.alert] == [(storage,), (vm,), (search,)]
    assert len({dataclasses.replace(s.alert, target_ids=()) for s in parsed.signals if s.alert}) == 1
    assert parsed.rejected == (Rejected(None, parser_message("not-an-id")),)


def test_an_alert_naming_many_resources_queues_the_first_fifty_each_message_small() -> None:
    """Before: an alert naming N targets gave N signals each holding all N targets (N messages of
    N ids: 2,000 targets made 2,000 messages of 250 KB, each over the queue's 64 KB)."""
    from remediators.limits import MAX_RESOURCES_PER_ALERT
    from remediators.signals import signal_to_json

    payload = fixture("alert-test-metric-static-threshold.json")
    (storage,) = payload["data"]["essentials"]["alertTargetIDs"]
    payload["data"]["essentials"]["alertTargetIDs"] = [f"{storage}{n}" for n in range(2000)]
    parsed = parse_signals(payload)
    assert len(parsed.signals) == MAX_RESOURCES_PER_ALERT == 50
    [refusal] = parsed.rejected
    assert "the first 50 are queued" in refusal.reason
    assert max(len(json.dumps(signal_to_json(s))) for s in parsed.signals) < 2000
    capped = parse_signals([payload, payload], max_resources=60)
    assert len(capped.signals) == 60
    assert "40 more resource(s) left out" in capped.rejected[-1].reason


def test_every_text_a_signal_carries_is_cut_and_ids_longer_than_any_arm_id_are_refused() -> None:
    """Before: a 100 KB operationName or alert rule went whole into the queue message (over the
    queue's 64 KB: the message was refused and the event lost) and into the ledger's record."""
    from remediators.limits import MAX_SIGNAL_TEXT_CHARS
    from remediators.signals import signal_from_json, signal_to_json

    [event] = fixture("eventgrid-resource-write-success.json")
    event["data"]["operationName"] = "Microsoft.DocumentDB/databaseAccounts/write" + "x" * 100_000
    event["data"]["claims"] = {"upn": "\u00e9" * 50_000}  # each escapes to six characters of JSON
    signal = only_signal(event)
    assert signal.operation_name is not None and signal.operation_name.endswith("...")
    assert len(json.dumps(signal.operation_name)) <= MAX_SIGNAL_TEXT_CHARS + 2
    assert signal.actor is not None and len(json.dumps(signal.actor.name)) <= MAX_SIGNAL_TEXT_CHARS + 2
    message = json.dumps(signal_to_json(signal))
    assert len(message) < 8 * MAX_SIGNAL_TEXT_CHARS
    assert signal_from_json(json.loads(message)) == signal

    long_id = dict(event, subject="/subscriptions/x/" + "a" * 100_000)
    long_id["data"] = dict(event["data"], resourceUri=long_id["subject"])
    [refused] = parse_signals(long_id).rejected
    assert "longer than any ARM id" in refused.reason and len(refused.reason) < 300
    [refused] = parse_signals(dict(event, id="e" * 100_000)).rejected
    assert "longer than any Event Grid or alert id" in refused.reason


def test_log_alert_v2_without_resource_dimensions_signals_its_target_workspace() -> None:
    signal = only_signal(fixture("alert-test-log-v2.json"))
    assert signal.resource_id == WORKSPACE
    assert signal.alert is not None
    assert signal.alert.signal_type == "Log"
    assert signal.alert.search_query == "Heartbeat"
    assert signal.alert.search_results_link is not None
    assert signal.alert.search_results_link.startswith(
        "https://api.loganalytics.io/v1/workspaces/dddd3333-ee44-5555-66ff-777777aaaaaa/query?query=Heartbeat"
    )
    assert signal.alert.search_results_link.endswith(
        "%27test-computer%27&timespan=2021-11-16T10%3a17%3a39.0000000Z%2f2021-11-16T11%3a17%3a39.0000000Z"
    )


def test_log_alert_v2_prefers_the_resource_id_dimensions_over_the_workspace() -> None:
    payload = fixture("alert-test-log-v2.json")
    (condition,) = payload["data"]["alertContext"]["condition"]["allOf"]
    cosmos = f"{TEST_SUBSCRIPTION}/resourceGroups/azureml-rg-ws_1/providers/Microsoft.DocumentDB/databaseAccounts/db"
    search = f"{TEST_SUBSCRIPTION}/resourcegroups/azureml-rg-ws_1/providers/microsoft.search/searchservices/srch"
    condition["dimensions"] = [{"name": "_ResourceId", "value": cosmos}, {"name": "Computer", "value": "c"}]
    second = copy.deepcopy(condition)
    second["searchQuery"] = "AzureDiagnostics | where Category == 'OperationLogs'"
    second["linkToFilteredSearchResultsAPI"] = "https://api.loganalytics.io/v1/second"
    second["dimensions"] = [{"name": "_resourceid", "value": search}, {"name": "_ResourceId", "value": "junk"}]
    payload["data"]["alertContext"]["condition"]["allOf"] = [condition, second]

    parsed = parse_signals(payload)
    assert [s.resource_id for s in parsed.signals] == [cosmos, search]
    assert parsed.rejected == (Rejected(None, parser_message("junk")),)
    first_alert, second_alert = (s.alert for s in parsed.signals)
    assert first_alert is not None and second_alert is not None
    assert first_alert.search_query == "Heartbeat"
    assert (second_alert.search_query, second_alert.search_results_link) == (
        "AzureDiagnostics | where Category == 'OperationLogs'",
        "https://api.loganalytics.io/v1/second",
    )
    assert first_alert.target_ids == second_alert.target_ids == (WORKSPACE,)


def test_a_storage_blob_service_dimension_names_its_storage_account() -> None:
    # StorageBlobLogs rows carry the blob service's id; the guarded resource is the account.
    payload = fixture("alert-test-log-v2.json")
    (condition,) = payload["data"]["alertContext"]["condition"]["allOf"]
    account = f"{TEST_SUBSCRIPTION}/resourcegroups/azureml-rg-ws_1/providers/microsoft.storage/storageaccounts/st1"
    condition["dimensions"] = [
        {"name": "_ResourceId", "value": f"{account}/blobservices/default"},
        {"name": "_ResourceId", "value": account},  # the same account, named directly: one signal
    ]
    assert [s.resource_id for s in parse_signals(payload).signals] == [account]


def test_activity_log_alert_names_the_caller_and_the_operation() -> None:
    signal = only_signal(fixture("alert-test-activity-log.json"))
    assert signal.resource_id == (
        f"{TEST_SUBSCRIPTION}/resourcegroups/test-RG/providers/microsoft.compute/virtualmachines/test-VM"
    )
    assert signal.operation_name == "Microsoft.Compute/virtualMachines/restart/action"
    assert signal.correlation_id == "cccc2222-dd33-4444-55ee-666666ffffff"
    assert signal.event_time == "2025-04-15T11:26:21.386Z"
    assert signal.actor == Actor(object_id=None, app_id=None, name="user@contoso.com", principal_type=None)
    assert signal.alert is not None and signal.alert.signal_type == "Activity Log"


def test_activity_log_alert_claims_arrive_as_a_json_string() -> None:
    payload = fixture("alert-test-activity-log.json")
    payload["data"]["alertContext"] = fixture("alert-context-activity-log-administrative.json")["alertContext"]
    signal = only_signal(payload)
    assert signal.actor == Actor(
        object_id="22223333-cccc-4444-dddd-5555eeee6666",
        app_id="11112222-bbbb-3333-cccc-4444dddd5555",
        name="22223333-cccc-4444-dddd-5555eeee6666",  # the caller: a service principal has no upn
        principal_type=None,
    )
    assert signal.correlation_id == "aaaa0000-bb11-2222-33cc-444444dddddd"
    assert signal.event_time == "2019-03-22T13:56:31.2917159+00:00"  # when the change happened


def test_microsofts_sample_alert_has_placeholder_ids_that_are_not_arm_ids() -> None:
    target = (
        "/subscriptions/<subscription ID>/resourcegroups/pipelinealertrg/providers/microsoft.compute/"
        "virtualmachines/wcus-r2-gen2"
    )
    assert parse_signals(fixture("alert-sample-metric.json")) == Parsed((), (Rejected(None, parser_message(target)),))


def test_an_alert_without_targets_is_rejected() -> None:
    assert parse_signals(fixture("alert-test-budget.json")) == Parsed(
        (),
        (
            Rejected(
                None,
                "the alert names no resource: essentials.alertTargetIDs is empty "
                "and no condition has a _ResourceId dimension",
            ),
        ),
    )


def test_alert_payloads_not_in_the_common_schema_are_rejected() -> None:
    assert parse_signals({"schemaId": "AzureMonitorMetricAlert", "data": {}}).rejected == (
        Rejected(
            None,
            "schemaId 'AzureMonitorMetricAlert' is not the common alert schema (azureMonitorCommonAlertSchema): "
            "enable the common alert schema on the action group",
        ),
    )
    assert parse_signals({"schemaId": "azureMonitorCommonAlertSchema"}).rejected == (
        Rejected(None, "the common alert schema payload has no data.essentials object"),
    )


# --- Anything else ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (None, "null"),
        (3, "a number"),
        ("[]", "a string"),
        (True, "a boolean"),
    ],
)
def test_a_document_that_is_not_an_object_or_array_is_rejected(document: Any, reason: str) -> None:
    assert parse_signals(document) == Parsed(
        (),
        (
            Rejected(
                None,
                "expected an Event Grid event, a CloudEvent, an array of them or a common alert schema payload, "
                f"got {reason}",
            ),
        ),
    )


def test_other_objects_are_rejected_naming_what_they_looked_like() -> None:
    assert parse_signals({"a": 1, "b": 2, "c": 3}).rejected == (
        Rejected(
            None, "an object with keys a, b, c is not an Event Grid event, CloudEvent or common alert schema payload"
        ),
    )
    assert parse_signals({}).rejected == (
        Rejected(None, "an empty object is not an Event Grid event, CloudEvent or common alert schema payload"),
    )
    (resource_reason,) = parse_signals(example(COSMOS_GET)).rejected
    assert resource_reason.reason.endswith("(it looks like an ARM resource body: classify takes those)")
    assert parse_signals([]).rejected == (Rejected(None, "an empty array holds no event"),)


# --- Properties ---------------------------------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
plausible_text = st.sampled_from(
    [
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
        "Microsoft.EventGrid.SubscriptionValidationEvent",
        "azureMonitorCommonAlertSchema",
        "_ResourceId",
        STORAGE_ID,
        "/subscriptions/s\n/resourceGroups/rg",
        "",
        "{}",
        '{"oid": 1}',
    ]
)
plausible = plausible_text | json_values
EVENT_KEYS = [
    "eventType", "type", "subject", "data", "id", "specversion", "schemaId", "essentials", "alertContext",
    "resourceUri", "resourceInfo", "claims", "authorization", "evidence", "validationCode", "alertTargetIDs",
    "condition", "allOf", "dimensions", "name", "value", "caller", "properties",
]  # fmt: skip
event_like = st.recursive(
    st.dictionaries(st.sampled_from(EVENT_KEYS), plausible, max_size=5),
    lambda inner: st.dictionaries(st.sampled_from(EVENT_KEYS), inner | plausible | st.lists(inner, max_size=3)),
    max_leaves=12,
)


def assert_well_formed(parsed: Parsed) -> None:
    for signal in parsed.signals:
        assert parse_resource_id(signal.resource_id).text == signal.resource_id
    for rejected in parsed.rejected:
        assert rejected.reason and "\n" not in rejected.reason and "\r" not in rejected.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | event_like | st.lists(event_like, max_size=4))
def test_arbitrary_json_never_raises(document: Any) -> None:
    parsed = parse_signals(document)
    assert parsed.signals or parsed.rejected or parsed.validation_code is not None
    assert_well_formed(parsed)


@settings(max_examples=100)
@given(st.lists(st.booleans(), min_size=1, max_size=6), st.lists(json_values | event_like, min_size=6, max_size=6))
def test_a_batch_loses_no_good_event(good: list[bool], junk: list[Any]) -> None:
    (write,) = fixture("eventgrid-resource-write-success.json")
    batch = []
    for index, is_good in enumerate(good):
        event = copy.deepcopy(write)
        event["id"] = f"good-{index}"
        batch.append(event if is_good else junk[index])
    parsed = parse_signals(batch)
    assert [s.event_id for s in parsed.signals if (s.event_id or "").startswith("good-")] == [
        f"good-{index}" for index, is_good in enumerate(good) if is_good
    ]
    assert {r.index for r in parsed.rejected} <= {index for index, is_good in enumerate(good) if not is_good}
    assert_well_formed(parsed)


def test_a_signal_survives_the_work_queue() -> None:
    """What the trigger queues is what the worker reads back (the resource body, evidence only, stays behind)."""
    import dataclasses

    from remediators.signals import signal_from_json, signal_to_json

    documents = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EVENTS.glob("*.json"))
                 if p.name != "provenance.json"]  # fmt: skip
    signals = [signal for document in documents for signal in parse_signals(document).signals]
    assert any(s.alert for s in signals) and any(s.actor for s in signals)
    for signal in signals:
        message = json.loads(json.dumps(signal_to_json(signal)))
        expected = dataclasses.replace(signal, resource_body=None, resource_api_version=None)
        assert signal_from_json(message) == expected
