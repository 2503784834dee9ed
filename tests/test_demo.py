"""``make demo`` tells the whole story, as a person would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_demo_fixes_the_managed_group_and_the_openai_account_and_leaves_the_ordinary_cosmos_alone() -> None:
    done = subprocess.run([sys.executable, "-m", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("verified by a fresh read") == 4
    assert "event Microsoft.Resources.ResourceWriteSuccess by nightly-policy-automation" in out
    assert "event Microsoft.Resources.ResourceWriteSuccess by admin@contoso.com" in out
    assert (
        'fixed: PATCH {"properties":{"restrictOutboundNetworkAccess":true,"allowedFqdnList":["microsoft.com"]}}' in out
    )
    assert "not-guarded: resource group 'rg-contoso-prod'" in out
    assert "databaseAccounts/orders-db         disableLocalAuth true  (the owner's choice: left alone)" in out
    assert "databaseAccounts/ddb1              disableLocalAuth false" in out
    assert out.count("our own fix came back as an event: re-read, healthy") == 4
    assert "the twin and Azurite are stopped" in out
    assert done.stderr == ""
