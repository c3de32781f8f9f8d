import copy
from types import SimpleNamespace

import pytest

from tests.pipeline import REPO
from workflow.agent.runner import agent_spec
from workflow.config import load_config
from workflow.matrix import Cell, agent_cells, agent_entry, baseline_pairs, cells, enabled_agents
from workflow.paths import cell_dir
from workflow.resources import AGENT_SETUP_MINUTES, agent_job_resources, agent_resources

FULL = load_config(REPO / "config" / "config.yaml")  # the suite's benchmarks filled in


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


def test_budgets_are_an_axis():
    config = scaled(2, [1])
    config["agents"]["agent0"]["hours"] = [1, 3, 10]
    config["agents"]["agent1"]["hours"] = [2]  # one budget: the agent keeps its own name
    runs = enabled_agents(config)
    assert runs == ["agent0@1h", "agent0@3h", "agent0@10h", "agent1"]
    got = cells(config)
    assert len(got) == 4 * 4 * 7
    assert {c.agent for c in got} == set(runs)
    assert agent_entry(config, "agent0@3h")["hours"] == 3 and agent_entry(config, "agent0@3h")["agent"] == "agent0"
    assert agent_entry(config, "agent1")["hours"] == 2
    assert agent_cells(config, "agent0@10h")[0] == Cell("agent0@10h", "qwen3-1.7b", "aime2025", 1)


def test_single_budget_agents_keep_their_paths():
    config = scaled(1, [1])
    before = [cell_dir("results", c) for c in cells(config)]
    config["agents"]["agent0"]["hours"] = 4
    assert [cell_dir("results", c) for c in cells(config)] == before
    assert str(before[0]) == "results/runs/agent0/qwen3-1.7b/aime2025/seed1"
    config["agents"]["agent0"]["hours"] = [1, 4]
    assert str(cell_dir("results", cells(config)[0])) == "results/runs/agent0@1h/qwen3-1.7b/aime2025/seed1"


def test_each_budget_gets_its_own_runtime_and_spec():
    config = scaled(1, [1])
    config["agents"]["agent0"]["hours"] = [0.5, 10]
    config["grace_minutes"] = 5
    assert agent_job_resources(config, "agent0@0.5h")["runtime"] == 30 + 5 + AGENT_SETUP_MINUTES
    assert agent_job_resources(config, "agent0@10h")["runtime"] == 600 + 5 + AGENT_SETUP_MINUTES
    runtime = agent_resources(config)["runtime"]
    assert runtime(SimpleNamespace(agent="agent0@0.5h")) == 45 and runtime(SimpleNamespace(agent="agent0@10h")) == 615
    assert agent_spec(config, "agent0@0.5h").budget_seconds == 1800
    with pytest.raises(KeyError, match="no agent run 'agent0@2h'"):
        agent_entry(config, "agent0@2h")
