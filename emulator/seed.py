"""Reading a seed directory: ARM GET bodies, plus the twin's own ``_twin.json``.

Every ``*.json`` file under the directory, at any depth, holds one ARM GET body (or a JSON array
of them, as ``az resource list`` prints) addressed by its ``id``. Ids are compared
case-insensitively and kept as written. A file that is not a resource, or two files claiming the
same id, stop the twin: a seed that silently loses a resource would make a test lie.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ids
from .config import TwinConfig
from .store import SeedError

CONFIG_FILE = "_twin.json"


@dataclass
class Seed:
    resources: list[dict[str, Any]] = field(default_factory=list)
    config: TwinConfig = field(default_factory=TwinConfig)


def load(directory: str | os.PathLike[str]) -> Seed:
    root = Path(directory)
    if not root.is_dir():
        raise SeedError(f"seed directory {root} does not exist")
    seed = Seed()
    config_file = root / CONFIG_FILE
    if config_file.is_file():
        seed.config = TwinConfig.from_json(_read(config_file))
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*.json")):
        if path == config_file or not path.is_file():
            continue
        document = _read(path)
        bodies = document if isinstance(document, list) else [document]
        for body in bodies:
            _check(body, path)
            key = ids.key_of(body["id"])
            if key in seen:
                raise SeedError(f"{path}: id {body['id']} is also seeded by {seen[key]}")
            seen[key] = path
            seed.resources.append(body)
    return seed


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SeedError(f"{path}: not readable JSON ({error})") from error


def _check(body: Any, path: Path) -> None:
    if not isinstance(body, dict):
        raise SeedError(f"{path}: a seed file holds an ARM GET body (a JSON object) or an array of them")
    resource_id = body.get("id")
    if not isinstance(resource_id, str) or ids.parse(resource_id) is None:
        raise SeedError(f"{path}: not an ARM resource: its 'id' is {resource_id!r}")
