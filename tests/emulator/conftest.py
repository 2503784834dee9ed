"""Fixtures for the twin's tests: a running twin seeded with Microsoft's payloads, and SDK clients on it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from emulator import Twin, make_token

from .seeds import SUBSCRIPTION, write_seed

WRITER = {"upn": "nightly-automation@contoso.com", "oid": "3a4b5c6d-0000-4000-8000-00000000abcd", "tid": "t-1"}


class StaticCredential:
    """A TokenCredential that always hands out the same bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def sdk_client(twin: Twin, client_class: Any, claims: dict[str, Any] | None = None, **options: Any) -> Any:
    """A real azure-mgmt client pointed at the twin, writing as ``claims`` (default: WRITER)."""
    credential = StaticCredential(make_token(claims if claims is not None else WRITER))
    options.setdefault("polling_interval", 0)
    return client_class(credential, SUBSCRIPTION, base_url=twin.arm, connection_verify=twin.ca_path, **options)


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    return write_seed(tmp_path / "seed")


@pytest.fixture
def twin(seed_dir: Path) -> Iterator[Twin]:
    with Twin.start(seed_dir) as running:
        yield running
