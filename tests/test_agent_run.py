"""The agent runner: clean environment, reprompting, multi-GPU cells."""

import json
import os
import sys

import yaml

from tests.pipeline import REPO
from workflow.agent.handout import render_prompt
from workflow.agent.runner import AgentSpec, agent_env, agent_spec, run_agent
from workflow.config import load_config
from workflow.resources import agent_job_resources

EMBEDDED = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())
KEYS = {"ANTHROPIC_API_KEY": "sk-ant-x", "OPENAI_API_KEY": "sk-o", "GEMINI_API_KEY": "g", "HF_TOKEN": "hf_x"}


def spec(**kw) -> AgentSpec:
    base = dict(name="a", scaffold="claude", model="m", hours=1.0, grace_minutes=0.1, num_gpus=1, kill_after_seconds=1)
    return AgentSpec(**(base | kw))


def test_agent_gets_only_its_own_providers_key(tmp_path):
    env = agent_env(spec(scaffold="claude"), tmp_path, str(tmp_path), internet=True, source_env=KEYS | {"PATH": "/bin"})
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-x"
    assert not {"OPENAI_API_KEY", "GEMINI_API_KEY", "HF_TOKEN"} & set(env)
    env = agent_env(spec(scaffold="codex"), tmp_path, str(tmp_path), internet=False, source_env=KEYS)
    assert env["OPENAI_API_KEY"] == "sk-o" and "ANTHROPIC_API_KEY" not in env
    assert env["HF_HUB_OFFLINE"] == "1" and env["HOME"] == str(tmp_path)


def test_reprompting_resumes_with_the_time_left_and_stops_at_the_cap(tmp_path):
    log = tmp_path / "calls.jsonl"
    script = f"import json, os; open({str(log)!r}, 'a').write(json.dumps(os.environ.get('PTB_RESUME_MESSAGE')) + '\\n')"
    agent = spec(reprompt=True, reprompt_min_minutes=5, max_reprompts=3)
    record = run_agent(
        agent, [sys.executable, "-c", script], tmp_path, dict(os.environ), tmp_path / "t", tmp_path / "l"
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0] is None  # the first run gets the prompt, not a resume message
    assert len(calls) == 4 and record["reprompts"] == 3 and record["mode"] == "reprompted"
    assert all("remain" in c and "timer.sh" in c for c in calls[1:])


def test_no_reprompt_when_little_time_is_left(tmp_path):
    agent = spec(reprompt=True, reprompt_min_minutes=120)  # budget 1 h < 2 h threshold
    record = run_agent(
        agent, [sys.executable, "-c", "pass"], tmp_path, dict(os.environ), tmp_path / "t", tmp_path / "l"
    )
    assert record["reprompts"] == 0 and record["status"] == "finished"


def test_multi_gpu_cell_reaches_resources_and_prompt():
    config = load_config(REPO / "config" / "config.yaml")
    config["agents"]["claude-opus-4.6"]["num_gpus"] = 8
    config["grace_minutes"], config["hours"] = 5, 10
    assert agent_job_resources(config, "claude-opus-4.6")["gpu"] == 8
    assert agent_spec(config, "claude-opus-4.6").num_gpus == 8
    assert "on 8 GPUs" in render_prompt("gsm8k", "Qwen/Qwen3-1.7B-Base", 10, 8, internet=True)
