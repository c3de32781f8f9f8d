import copy

import yaml

from tests.pipeline import REPO
from workflow.matrix import Cell, baseline_pairs, cells, enabled_agents

FULL = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def scaled(n_agents: int, seeds: list[int]) -> dict:
    config = copy.deepcopy(FULL)
    config["agents"] = {f"agent{i}": {"scaffold": "claude", "model": "m"} for i in range(n_agents)}
    config["seeds"] = seeds
    return config


def test_full_product():
    assert len(cells(scaled(16, [1, 2, 3]))) == 16 * 4 * 7 * 3 == 1344


def test_disabled_agents_are_left_out():
    enabled = enabled_agents(FULL)
    assert "claude-opus-4.6" in enabled and "noop" not in enabled
    assert {c.agent for c in cells(FULL)} == set(enabled)


def test_include_exclude_and_seed_override():
    config = scaled(1, [1])
    config["agents"]["agent0"] |= {
        "include": {"models": ["qwen3-4b", "gemma3-4b"]},
        "exclude": {"benchmarks": ["healthbench", "arenahardwriting"]},
        "seeds": [7, 8],
    }
    got = cells(config)
    assert len(got) == 2 * 5 * 2
    assert Cell("agent0", "gemma3-4b", "gsm8k", 8) in got
    assert not any(c.benchmark == "healthbench" or c.model == "qwen3-1.7b" for c in got)


def test_cells_are_unique_and_stable():
    config = scaled(3, [1, 2])
    assert cells(config) == cells(copy.deepcopy(config))
    assert len(set(cells(config))) == len(cells(config))


def test_baselines_cover_base_and_instruct():
    pairs = baseline_pairs(FULL)
    assert len(pairs) == 2 * 4 * 7
    assert ("instruct", "gemma3-4b", "bfcl") in pairs
