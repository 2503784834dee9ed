"""Configuration: ``GUARD_*`` environment variables, each declared once here with its default.

``docs/configuration.md`` and the README document every setting; ``tests/test_docs.py`` checks
that they name exactly the settings declared here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .scope import InvalidScopePattern, ScopePattern, ScopeRules, parse_scope_patterns


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "GUARD_MANAGED_RESOURCE_GROUPS",
        "",
        "Comma-separated resource-group names or globs (ignoring ASCII case only) to treat as workspace "
        "managed resource groups without a workspace to prove them. Otherwise a group is managed only "
        "when a customer-managed-key workspace of its subscription names it as its own; a name alone "
        "proves nothing. An Azure ML registry's group is never managed, listed or not. A pattern of "
        "wildcards alone (`*`) is refused: it would aim fixes that turn security settings off at "
        "every group.",
    ),
    Setting(
        "GUARD_INCLUDE_SCOPES",
        "",
        "Comma-separated ARM scopes, globs allowed per segment, e.g. "
        "`/subscriptions/*/resourceGroups/prod-*`. When set, only resources under one of them are "
        "guarded. Empty: every scope.",
    ),
    Setting(
        "GUARD_EXCLUDE_SCOPES",
        "",
        "Comma-separated ARM scopes of the same form, never guarded. Exclude wins over include.",
    ),
    Setting(
        "GUARD_ARM_ENDPOINT",
        "https://management.azure.com",
        "Azure Resource Manager endpoint for every read and fix. Point it at the local twin (with "
        "`REQUESTS_CA_BUNDLE` naming the twin's CA) or at a sovereign cloud.",
    ),
    Setting(
        "GUARD_ARM_BUDGET_SECONDS",
        "25",
        "Time budget for one remediation: every ARM call in it (retries and long-running polls "
        "included) shares it, each request's connect and read timeouts coming from what is left. A "
        "throttle (`Retry-After`) longer than what is left is not slept through, a call unanswered "
        "at the end fails as a timeout, and a long-running fix still running is reported `pending`.",
    ),
    Setting(
        "GUARD_ARM_POLL_SECONDS",
        "5",
        "Seconds between polls of a long-running fix when ARM sends no `Retry-After` (the SDKs' "
        "own default, 30, outlasts the time budget).",
    ),
    Setting(
        "GUARD_IDENTITY_CLIENT_ID",
        "",
        "Client id of the user-assigned managed identity Foundry Guard runs as. Empty: the "
        "system-assigned identity, then the Azure CLI's login (for running it by hand).",
    ),
    Setting(
        "GUARD_IDENTITY_OBJECT_ID",
        "",
        "Object id of the identity Foundry Guard runs as: its own writes, coming back as events, are "
        "recognised by it and cost nothing (no remediation loops), and `scan` checks its role "
        "assignments against the groups workspaces prove managed.",
    ),
    Setting(
        "GUARD_STORAGE",
        "",
        "Where the ledger, baselines and work queue live: a storage account name (identity-based "
        "access with the managed identity; the deployment sets this) or a connection string "
        "(Azurite locally). Empty: the function app's triggers answer that storage is not configured.",
    ),
    Setting(
        "GUARD_WORK_QUEUE",
        "remediation-work",
        "The queue between the fast triggers and the work (the queue trigger listens on it).",
    ),
    Setting(
        "GUARD_MODES",
        "",
        "Per-kind overrides of the default modes, e.g. `outbound_allowlist_drift=apply,"
        "managed_rg_firewall_locked=propose`; modes are `apply`, `propose`, `observe`.",
    ),
    Setting(
        "GUARD_DRY_RUN",
        "false",
        "`true`: every fix is proposed, nothing is written to Azure.",
    ),
    Setting(
        "GUARD_SWEEP_SUBSCRIPTIONS",
        "",
        "Comma-separated subscription ids the timer sweeps: every guarded resource is queued for a "
        "check (catching missed events), and healthy AI accounts' allowlists are recorded as baselines.",
    ),
    Setting(
        "GUARD_SWEEP_SCHEDULE",
        "0 0 * * * *",
        "When the sweep runs (NCRONTAB, the Functions timer format). Default: hourly.",
    ),
    Setting(
        "GUARD_NOTIFY_EVENTGRID_ENDPOINT",
        "",
        "Event Grid custom topic endpoint that receives a CloudEvent per remediation worth knowing "
        "about (the identity needs EventGrid Data Sender on it). Empty: not used.",
    ),
    Setting(
        "GUARD_NOTIFY_TEAMS_WEBHOOK_URL",
        "",
        "Teams Workflows webhook URL for an Adaptive Card per remediation. A secret: keep it in Key "
        "Vault (a Key Vault reference in the app setting). Empty: not used.",
    ),
    Setting(
        "GUARD_APPROVAL_BASE_URL",
        "",
        "Base URL of the function app (e.g. `https://guard.contoso.com`) for the approve and reject "
        "links in notifications; approvers sign in with Entra ID. Empty: the app's own address "
        "(`WEBSITE_HOSTNAME`, which App Service sets), or no links when that is not set either.",
    ),
    Setting(
        "GUARD_LOG_ANALYTICS_WORKSPACE_ID",
        "",
        "Log Analytics workspace (its id) holding the guarded resources' diagnostic logs. The workspace's "
        "own requests refused there (403s signed with the resource's key) turn a suspected firewall finding "
        "into a confirmed one; other callers' refusals are only listed. Empty: no evidence.",
    ),
    Setting(
        "GUARD_LOG_ANALYTICS_ENDPOINT",
        "https://api.loganalytics.io",
        "Log Analytics query endpoint (the local twin serves one); empty is the public cloud's. A sovereign "
        "cloud names its own (e.g. `https://api.loganalytics.us`).",
    ),
    Setting(
        "GUARD_EVIDENCE_LOOKBACK_MINUTES",
        "60",
        "How far back diagnostic logs are searched for refused requests.",
    ),
    Setting(
        "GUARD_OPT_OUT_TAG",
        "foundry-guard",
        "Tag name (case-insensitive) whose value `off` (any case), on a resource, makes Foundry Guard leave it alone.",
    ),
)


class InvalidSettings(ValueError):
    """A GUARD_* variable holds a value that cannot be used; the message names it."""


def load_scope_rules(environ: Mapping[str, str] | None = None) -> ScopeRules:
    env = _with_defaults(os.environ if environ is None else environ)
    include = _scopes(env, "GUARD_INCLUDE_SCOPES")
    exclude = _scopes(env, "GUARD_EXCLUDE_SCOPES")
    opt_out_tag = env["GUARD_OPT_OUT_TAG"].strip()
    if not opt_out_tag:
        raise InvalidSettings("GUARD_OPT_OUT_TAG must name a tag")
    managed = tuple(name.strip() for name in env["GUARD_MANAGED_RESOURCE_GROUPS"].split(",") if name.strip())
    for pattern in managed:
        # Managed-group fixes turn security settings off: a pattern that names no group in
        # particular would aim them at every Cosmos DB, Search service and Storage account in scope.
        if not pattern.strip("*?[]"):
            raise InvalidSettings(
                f"GUARD_MANAGED_RESOURCE_GROUPS: {pattern!r} would treat every resource group as managed"
            )
    return ScopeRules(managed_resource_groups=managed, include=include, exclude=exclude, opt_out_tag=opt_out_tag)


def arm_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for :class:`remediators.arm.Arm` from the GUARD_ARM_* settings."""
    env = _with_defaults(os.environ if environ is None else environ)
    try:
        budget = float(env["GUARD_ARM_BUDGET_SECONDS"])
    except ValueError:
        raise InvalidSettings(
            f"GUARD_ARM_BUDGET_SECONDS: {env['GUARD_ARM_BUDGET_SECONDS']!r} is not a number"
        ) from None
    if not 0 < budget <= 600:
        raise InvalidSettings("GUARD_ARM_BUDGET_SECONDS must be more than 0 and at most 600")
    try:
        poll = float(env["GUARD_ARM_POLL_SECONDS"])
    except ValueError:
        raise InvalidSettings(f"GUARD_ARM_POLL_SECONDS: {env['GUARD_ARM_POLL_SECONDS']!r} is not a number") from None
    if not 0 <= poll <= budget:
        raise InvalidSettings("GUARD_ARM_POLL_SECONDS must be at least 0 and at most GUARD_ARM_BUDGET_SECONDS")
    endpoint = env["GUARD_ARM_ENDPOINT"].strip().rstrip("/")
    if not endpoint.startswith("https://"):
        raise InvalidSettings(
            f"GUARD_ARM_ENDPOINT: {endpoint!r} must be an https:// URL (bearer tokens never go over http)"
        )
    return {"endpoint": endpoint, "budget_seconds": budget, "polling_interval": poll}


def service_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The function app's wiring: storage, queue, own identity, modes, dry run."""
    from .decide import Mode
    from .findings import BreakageKind

    env = _with_defaults(os.environ if environ is None else environ)
    modes: dict[BreakageKind, Mode] = {}
    for item in env["GUARD_MODES"].split(","):
        if not item.strip():
            continue
        kind, _, mode = item.partition("=")
        try:
            modes[BreakageKind(kind.strip())] = Mode(mode.strip())
        except ValueError:
            raise InvalidSettings(
                f"GUARD_MODES: {item.strip()!r} is not kind=mode with a kind of "
                f"{', '.join(BreakageKind)} and a mode of {', '.join(Mode)}"
            ) from None
    dry_run = env["GUARD_DRY_RUN"].strip().casefold()
    if dry_run not in ("true", "false", "1", "0", ""):
        raise InvalidSettings(f"GUARD_DRY_RUN: {env['GUARD_DRY_RUN']!r} is not true or false")
    return {
        "storage": env["GUARD_STORAGE"].strip(),
        "queue": env["GUARD_WORK_QUEUE"].strip() or "remediation-work",
        "own_object_id": env["GUARD_IDENTITY_OBJECT_ID"].strip(),
        "modes": modes,
        "dry_run": dry_run in ("true", "1"),
        "notify_eventgrid": env["GUARD_NOTIFY_EVENTGRID_ENDPOINT"].strip(),
        "notify_teams": env["GUARD_NOTIFY_TEAMS_WEBHOOK_URL"].strip(),
        "approval_base_url": _approval_base_url(env, environ if environ is not None else os.environ),
        "log_analytics_workspace": env["GUARD_LOG_ANALYTICS_WORKSPACE_ID"].strip(),
        "log_analytics_endpoint": env["GUARD_LOG_ANALYTICS_ENDPOINT"].strip().rstrip("/"),
        "evidence_lookback_minutes": _positive_int(env, "GUARD_EVIDENCE_LOOKBACK_MINUTES"),
        "sweep_subscriptions": [s.strip() for s in env["GUARD_SWEEP_SUBSCRIPTIONS"].split(",") if s.strip()],
    }


def _approval_base_url(env: Mapping[str, str], environ: Mapping[str, str]) -> str:
    configured = env["GUARD_APPROVAL_BASE_URL"].strip().rstrip("/")
    if configured:
        return configured
    # App Service sets WEBSITE_HOSTNAME to the app's own host name on every instance.
    host = environ.get("WEBSITE_HOSTNAME", "").strip()
    return f"https://{host}" if host else ""


def _positive_int(env: Mapping[str, str], name: str) -> int:
    try:
        value = int(env[name])
    except ValueError:
        raise InvalidSettings(f"{name}: {env[name]!r} is not a whole number") from None
    if value <= 0:
        raise InvalidSettings(f"{name} must be more than 0")
    return value


def identity_client_id(environ: Mapping[str, str] | None = None) -> str | None:
    env = _with_defaults(os.environ if environ is None else environ)
    return env["GUARD_IDENTITY_CLIENT_ID"].strip() or None


def _scopes(env: Mapping[str, str], name: str) -> tuple[ScopePattern, ...]:
    try:
        return parse_scope_patterns(env[name])
    except InvalidScopePattern as error:
        raise InvalidSettings(f"{name}: {error}") from error


def _with_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    return {s.name: environ.get(s.name, s.default) for s in SETTINGS}
