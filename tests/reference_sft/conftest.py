import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "agents" / "reference-sft"
sys.path.insert(0, str(REPO))


def recipe_module(name: str):
    """A module of agents/reference-sft (a folder of scripts, not a package)."""
    if str(RECIPE) not in sys.path:
        sys.path.insert(0, str(RECIPE))
    return importlib.import_module(name)


@pytest.fixture(scope="session")
def tiny_family_models(tmp_path_factory) -> dict[str, Path]:
    from tests.reference_sft.tiny_families import FAMILIES, build_family_model

    root = tmp_path_factory.mktemp("families")
    return {family: build_family_model(family, root / family) for family in FAMILIES}
