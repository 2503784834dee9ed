"""Baselines: what is recorded from a healthy resource, and the Table Storage store on a real Azurite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator import azurite
from remediators.baselines import Baseline, TableBaselines, baseline_of
from tests.payloads import SEARCH_AUTH_OPTIONS, ai_account, example, with_properties


@pytest.fixture(scope="module")
def storage() -> Iterator[azurite.Azurite]:
    with azurite.running() as running:
        yield running


def test_baseline_of_a_restricted_account_keeps_its_allowlist() -> None:
    baseline = baseline_of(ai_account("OpenAI"), recorded_at="2026-11-22T23:00:00Z", source="sweep")
    assert baseline.properties == {"properties.allowedFqdnList": ["microsoft.com"]}
    assert baseline.describe() == "baseline recorded 2026-11-22T23:00:00Z by sweep"


def test_an_unrestricted_accounts_list_is_no_baseline() -> None:
    account = with_properties(ai_account("OpenAI"), restrictOutboundNetworkAccess=False)
    assert baseline_of(account).properties == {}


def test_baseline_of_a_search_service_keeps_its_auth_options() -> None:
    search = example(SEARCH_AUTH_OPTIONS)
    assert baseline_of(search).properties == {
        "properties.authOptions": {"aadOrApiKey": {"aadAuthFailureMode": "http401WithBearerChallenge"}}
    }


def test_table_baselines_round_trip_case_insensitively_and_replace(storage: azurite.Azurite) -> None:
    store = TableBaselines.from_connection_string(storage.connection_string, "baselinesroundtrip")
    account = ai_account("OpenAI")
    store.record(baseline_of(account, recorded_at="2026-11-22T23:00:00Z", source="sweep"))
    found = store.baseline_for(account["id"].upper())
    assert found == Baseline(
        account["id"], {"properties.allowedFqdnList": ["microsoft.com"]}, "2026-11-22T23:00:00Z", "sweep"
    )
    store.record(Baseline(account["id"], {"properties.allowedFqdnList": ["a.example.com"]}))
    replaced = store.baseline_for(account["id"])
    assert replaced is not None
    assert replaced.get("properties.allowedFqdnList") == ["a.example.com"]
    assert replaced.recorded_at is None
    assert store.baseline_for(account["id"] + "-other") is None
