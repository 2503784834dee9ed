"""Seed resources for the twin's tests: Microsoft's example GET bodies (tests/fixtures/arm), re-addressed.

Each body keeps everything Microsoft published except its id and name, which move into one
subscription and one managed resource group so the tests read like the product's situation.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ARM_EXAMPLES = Path(__file__).parents[1] / "fixtures" / "arm"

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
GROUP = "azureml-rg-contoso-ws_5a1f3c9e-2b7d-4e8a-9c0f-1d2e3f4a5b6c"
GROUP_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}"
COSMOS = f"{GROUP_ID}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-ws"
SEARCH = f"{GROUP_ID}/providers/Microsoft.Search/searchServices/search-ws"
STORAGE = f"{GROUP_ID}/providers/Microsoft.Storage/storageAccounts/storagews"
OPENAI = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/openai-prod"
)
WORKSPACE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.MachineLearningServices/workspaces/ws"
)

_SOURCES = {
    COSMOS: "cosmos-db/CosmosDBDatabaseAccountGet.json",
    SEARCH: "search/SearchGetService.json",
    STORAGE: "storage/StorageAccountGetProperties.json",
    OPENAI: "cognitive-services/GetAccount.json",
    WORKSPACE: "machine-learning/Workspace-get.json",
}


def body(resource_id: str) -> dict[str, Any]:
    """Microsoft's GET body for the resource's type, addressed as ``resource_id``."""
    document = json.loads((ARM_EXAMPLES / _SOURCES[resource_id]).read_text(encoding="utf-8"))
    resource: dict[str, Any] = copy.deepcopy(document["responses"]["200"]["body"])
    resource["id"] = resource_id
    resource["name"] = resource_id.rsplit("/", 1)[-1]
    return resource


def write_seed(directory: Path) -> Path:
    """A seed directory: one file per resource, in nested folders as a real seed might be."""
    for index, resource_id in enumerate(_SOURCES):
        folder = directory / ("managed" if GROUP in resource_id else "ai") / f"n{index}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{resource_id.rsplit('/', 1)[-1]}.json").write_text(json.dumps(body(resource_id)), encoding="utf-8")
    return directory
