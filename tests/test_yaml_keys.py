"""Every YAML file of the repo declares each key once: a repeated key silently keeps only the last value."""

import subprocess

import pytest
import yaml

from workflow.config import REPO


class DuplicateKey(ValueError):
    pass


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping naming the same key twice."""


def _mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise DuplicateKey(f"key {key!r} at line {key_node.start_mark.line + 1} repeats line {seen[key]}")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def repo_yaml_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "*.yaml", "*.yml"], cwd=REPO, capture_output=True, text=True, check=True)
    return [f for f in out.stdout.split() if (REPO / f).exists()]


def test_the_strict_loader_catches_a_repeated_key():
    with pytest.raises(DuplicateKey, match="'datasets' at line 3 repeats line 1"):
        yaml.load("datasets: []\nname: x\ndatasets: []\n", Loader=StrictLoader)  # noqa: S506 (a SafeLoader)
    assert yaml.load("a: {b: 1, c: 2}\n", Loader=StrictLoader) == {"a": {"b": 1, "c": 2}}  # noqa: S506


def test_repo_has_yaml_files_to_check():
    files = repo_yaml_files()
    assert "config/config.yaml" in files and "tasks/gsm8k/meta.yaml" in files


@pytest.mark.parametrize("path", repo_yaml_files())
def test_no_yaml_file_repeats_a_key(path):
    yaml.load((REPO / path).read_text(), Loader=StrictLoader)  # noqa: S506 (a SafeLoader)
