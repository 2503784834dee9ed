"""Seeding: ARM GET bodies found recursively, addressed by id; ``_twin.json`` configuring the twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator import Twin
from emulator.config import ConfigError
from emulator.store import SeedError

from .seeds import COSMOS, OPENAI, SEARCH, STORAGE, WORKSPACE, body


def test_every_json_file_at_any_depth_is_a_resource(twin: Twin) -> None:
    for resource_id in (COSMOS, SEARCH, STORAGE, OPENAI, WORKSPACE):
        stored = twin.resource(resource_id.lower())
        assert stored is not None and stored["id"] == resource_id


def test_a_file_may_hold_an_array_of_bodies(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps([body(COSMOS), body(SEARCH)]), encoding="utf-8")
    with Twin.start(tmp_path) as twin:
        assert twin.resource(COSMOS) is not None and twin.resource(SEARCH) is not None


def test_the_same_id_twice_is_refused_whatever_its_case(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(body(COSMOS)), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({**body(COSMOS), "id": COSMOS.upper()}), encoding="utf-8")
    with pytest.raises(SeedError, match="also seeded by"):
        Twin.launch(tmp_path)


@pytest.mark.parametrize("content", ['{"id": "not-an-arm-id"}', "[1, 2]", "{broken"])
def test_files_that_are_not_resources_are_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "odd.json").write_text(content, encoding="utf-8")
    with pytest.raises(SeedError, match=r"odd\.json"):
        Twin.launch(tmp_path)


def test_twin_json_configures_identity_lro_and_header(seed_dir: Path) -> None:
    config = {
        "tenantId": "aaaaaaaa-0000-0000-0000-000000000001",
        "identity": {"clientId": "c-1", "objectId": "o-1", "name": "guard"},
        "identityHeader": "fixed-secret",
        "lro": {"cosmosPolls": 0},
    }
    (seed_dir / "_twin.json").write_text(json.dumps(config), encoding="utf-8")
    with Twin.start(seed_dir) as twin:
        assert (twin.identity.client_id, twin.identity.object_id) == ("c-1", "o-1")
        assert twin.identity.tenant_id == config["tenantId"]
        assert twin.identity_header == "fixed-secret"
        assert twin.info()["identityHeader"] == "fixed-secret"
        status_url = twin.call("PATCH", COSMOS, {"tags": {}}).headers["Azure-AsyncOperation"]
        assert twin.call("GET", status_url.removeprefix(twin.arm), api_version=None).json()["status"] == "Succeeded"
        assert twin.call("GET", "/_twin/lro", api_version=None).json()["cosmosPolls"] == 0


def test_twin_json_with_unknown_fields_is_refused(seed_dir: Path) -> None:
    (seed_dir / "_twin.json").write_text('{"fualts": []}', encoding="utf-8")
    with pytest.raises(ConfigError, match="fualts"):
        Twin.launch(seed_dir)


def test_resources_and_config_can_be_given_without_a_directory() -> None:
    with Twin.start(resources=[body(STORAGE)], config={"identityHeader": "h"}) as twin:
        assert twin.call("GET", STORAGE).status == 200
        assert twin.identity_header == "h"
        assert twin.call("GET", STORAGE.rsplit("/providers/", 1)[0]).json()["location"] == "eastus2(stage)"
