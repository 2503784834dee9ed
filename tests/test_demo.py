"""``make demo`` tells the whole story, through the function app's own entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_demo_fixes_the_proven_group_proposes_the_drift_and_leaves_the_others_alone() -> None:
    done = subprocess.run([sys.executable, "-m", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "last night's sweep recorded contoso-openai's allowlist: [\"microsoft.com\"]" in out
    assert out.count(": verified\n") == 4
    assert out.count("verified by a fresh read") == 4
    assert "event by nightly-policy-automation -> remediation" in out
    assert "event by admin@contoso.com -> remediation" in out
    assert '"allowedFqdnList":["microsoft.com"]}}, verified by a fresh read' in out
    assert "left alone: resource group 'rg-contoso-prod'" in out
    assert 'proposed for a person: PATCH {"properties":{"allowedFqdnList":["microsoft.com"]}}' in out
    assert "oncall@contoso.com approves it" in out and "HTTP 200, verified" in out
    assert "proven by workspace workspaces/contoso-ws: it names the group, customer-managed key" in out
    assert "observed, nothing loosened: resource group 'azureml-rg-contoso-ws_0d1e2f3a" in out
    assert "databaseAccounts/team-db           disableLocalAuth true  (no workspace names its group" in out
    assert "On-call received 7 Teams cards; the ledger holds 6 remediations." in out
    assert "databaseAccounts/orders-db         disableLocalAuth true  (the owner's choice: left alone)" in out
    assert (
        'accounts/contoso-openai            restrictOutboundNetworkAccess true, allowedFqdnList ["microsoft.com"]'
        in out
    )
    assert "the twin and Azurite are stopped" in out
    assert done.stderr == ""
