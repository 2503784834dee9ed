"""Nobody on the internet gets a managed firewall opened by making requests fail.

A closed firewall on a managed Cosmos DB or Storage account is only *suspected* broken until the
logs show it biting, and a *confirmed* lock is fixed by opening the firewall. When every 401/403
row counted, three unauthenticated requests from any address, then the log alert, were enough for
the guard to set ``publicNetworkAccess: Enabled``. These tests seed exactly that (Microsoft's own
sample records, sent with no credential from a documentation-range address) into the twin, ask the
evidence the way the function app does (``remediators.service._evidence``), and classify. The
last test is the control: the workspace's own key-signed requests refused do confirm.

Besides the workspace's identities (none here: the pipeline passes those of the workspace that
proves the group), only interfaces older than the fix are used, so the same checks show the hole
on the code before it: there the anonymous rows confirm the lock.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from emulator import TwinClock
from emulator.twin import Twin
from remediators.classify import classify
from remediators.findings import BreakageKind, Confidence, Finding
from remediators.scope import ScopeRules
from tests.log_rows import anonymous, anonymous_cosmos_row, cosmos_row, service_evidence, storage_row
from tests.payloads import COSMOS_GET, MANAGED_RG, STORAGE_GET, example, in_group, with_properties

LOCKED_COSMOS = with_properties(in_group(example(COSMOS_GET), MANAGED_RG), publicNetworkAccess="Disabled")
PROBED_COSMOS = {**LOCKED_COSMOS, "id": LOCKED_COSMOS["id"].replace("/ddb1", "/probed-ddb"), "name": "probed-ddb"}
LOCKED_STORAGE = with_properties(in_group(example(STORAGE_GET), MANAGED_RG), publicNetworkAccess="Disabled")
# The twin's clock stands still at NOW, so the rows "1 to 3 minutes ago" stay inside the lookback
# however long the suite takes to reach these tests.
NOW = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)


def at(minutes_ago: float) -> str:
    return (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    with Twin.start(clock=TwinClock(frozen_at=NOW)) as running, pytest.MonkeyPatch.context() as patch:
        for name, value in running.environment().items():
            patch.setenv(name, value)
        # Three requests with no credential, from the internet.
        running.add_log_rows(
            "CDBDataPlaneRequests", [anonymous_cosmos_row(at(minutes), LOCKED_COSMOS["id"]) for minutes in (1, 2, 3)]
        )
        running.add_log_rows(
            "StorageBlobLogs",
            [
                storage_row(at(minutes), f"{LOCKED_STORAGE['id']}/blobServices/default", "403", "AuthorizationFailure")
                | anonymous()
                for minutes in (1, 2, 3)
            ],
        )
        # The control: the workspace's own requests, signed with the account key, refused by the firewall.
        running.add_log_rows("CDBDataPlaneRequests", [cosmos_row(at(2), PROBED_COSMOS["id"], 403)])
        yield running


def refused_lines(twin: Twin, resource: dict[str, Any]) -> list[str]:
    """What the function app's pipeline is given as evidence for ``resource``."""
    refused = service_evidence(twin)
    return list(refused(resource["id"], resource["type"], frozenset()))


def firewall_finding(resource: dict[str, Any], lines: list[str]) -> Finding:
    result = classify(resource, ScopeRules(), access_denials=lines)
    (firewall,) = [f for f in result.findings if f.kind == BreakageKind.MANAGED_RG_FIREWALL_LOCKED]
    return firewall


@pytest.mark.parametrize("resource", [LOCKED_COSMOS, LOCKED_STORAGE], ids=["cosmos-db", "storage"])
def test_anonymous_403s_from_the_internet_do_not_confirm_a_firewall_lock(twin: Twin, resource: dict[str, Any]) -> None:
    lines = refused_lines(twin, resource)
    assert lines, "the refusals are read"
    firewall = firewall_finding(resource, lines)
    assert firewall.confidence is Confidence.SUSPECTED  # proposed to a person, never applied by itself
    # They stay in the evidence, marked as not counting.
    assert all(f"diagnostic log: {line}" in firewall.evidence for line in lines)
    assert all("counts for nothing" in line for line in lines)


def test_the_workspace_s_own_requests_refused_by_the_firewall_confirm_it(twin: Twin) -> None:
    firewall = firewall_finding(PROBED_COSMOS, refused_lines(twin, PROBED_COSMOS))
    assert firewall.confidence is Confidence.CONFIRMED
    assert firewall.plan.body == {"properties": {"publicNetworkAccess": "Enabled"}}
