"""Settings that are not scope: checked when read, with the variable named in the error."""

from __future__ import annotations

import pytest

from remediators.decide import Mode
from remediators.findings import BreakageKind
from remediators.settings import InvalidSettings, arm_options, service_options


def test_modes_and_dry_run_are_read() -> None:
    options = service_options({
        "GUARD_MODES": "outbound_allowlist_drift=apply, managed_rg_firewall_locked=observe",
        "GUARD_DRY_RUN": "TRUE",
        "GUARD_SWEEP_SUBSCRIPTIONS": " a , b ",
    })  # fmt: skip
    assert options["modes"] == {
        BreakageKind.OUTBOUND_ALLOWLIST_DRIFT: Mode.APPLY,
        BreakageKind.MANAGED_RG_FIREWALL_LOCKED: Mode.OBSERVE,
    }
    assert options["dry_run"] is True
    assert options["sweep_subscriptions"] == ["a", "b"]
    assert service_options({})["dry_run"] is False


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GUARD_MODES": "local_auth_disabled=fix"}, "GUARD_MODES"),
        ({"GUARD_MODES": "everything=apply"}, "GUARD_MODES"),
        ({"GUARD_DRY_RUN": "maybe"}, "GUARD_DRY_RUN"),
        ({"GUARD_EVIDENCE_LOOKBACK_MINUTES": "0"}, "GUARD_EVIDENCE_LOOKBACK_MINUTES"),
        ({"GUARD_EVIDENCE_LOOKBACK_MINUTES": "an hour"}, "GUARD_EVIDENCE_LOOKBACK_MINUTES"),
    ],
)
def test_service_settings_that_cannot_be_used_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidSettings, match=named):
        service_options(environ)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GUARD_ARM_ENDPOINT": "http://127.0.0.1:8443"}, "GUARD_ARM_ENDPOINT"),
        ({"GUARD_ARM_BUDGET_SECONDS": "soon"}, "GUARD_ARM_BUDGET_SECONDS"),
        ({"GUARD_ARM_BUDGET_SECONDS": "0"}, "GUARD_ARM_BUDGET_SECONDS"),
        ({"GUARD_ARM_POLL_SECONDS": "60"}, "GUARD_ARM_POLL_SECONDS"),
    ],
)
def test_arm_settings_that_cannot_be_used_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidSettings, match=named):
        arm_options(environ)


@pytest.mark.parametrize(
    ("environ", "links"),
    [
        ({}, ""),  # outside App Service, with nothing configured: no links
        ({"WEBSITE_HOSTNAME": "func-guard.azurewebsites.net"}, "https://func-guard.azurewebsites.net"),
        (
            {
                "WEBSITE_HOSTNAME": "func-guard.azurewebsites.net",
                "GUARD_APPROVAL_BASE_URL": "https://guard.contoso.com/",
            },
            "https://guard.contoso.com",
        ),
    ],
)
def test_approval_links_default_to_the_apps_own_address(environ: dict[str, str], links: str) -> None:
    assert service_options(environ)["approval_base_url"] == links
