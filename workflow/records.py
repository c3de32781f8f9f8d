"""JSON records that stages hand to each other."""

import json
import os
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    """Write atomically: a killed job never leaves a half-written record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
