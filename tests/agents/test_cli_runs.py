"""The real CLIs, through the real solve.sh, against a scripted loopback model
(fake_providers.py), in a network namespace with only loopback."""

import json
from pathlib import Path

import pytest
import yaml
from agent_harness import REPO, make_job, require_clis, run_agent
from fake_providers import FINAL_TEXT, SHELL_COMMAND

from workflow.agent.traces import parse_trace
from workflow.matrix import enabled_agents

CLIS = ["claude", "codex", "gemini", "opencode"]
RESUME = "You have 1:30 hours left. Keep improving final_model."


def leaks(key: str, job: Path, *streams: str) -> list[str]:
    """Where the sentinel key (or its tail, which some CLIs store) shows up."""
    needles = [key.encode(), key[-16:].encode()]
    found = [f"stream {i}" for i, s in enumerate(streams) if any(n.decode() in s for n in needles)]
    for f in job.rglob("*"):
        if f.is_file() and not f.is_symlink() and any(n in f.read_bytes() for n in needles):
            found.append(str(f.relative_to(job)))
    return found


def check_run(cli, run, job):
    assert run.rc == 0, run.stderr[-3000:]
    assert run.requests and all(r["key_ok"] for r in run.requests if r["method"] == "POST")
    summary = parse_trace(cli, run.stdout.splitlines())
    assert summary.input_tokens > 0 and summary.output_tokens > 0
    assert FINAL_TEXT in summary.transcript
    assert not leaks(run.key, job, run.stdout, run.stderr)
    return summary


@pytest.mark.parametrize("cli", CLIS)
def test_cli_solves_offline(cli, tmp_path):
    require_clis()
    job = make_job(tmp_path / "job")
    run = run_agent(cli, job, tmp_path / "server.jsonl")
    summary = check_run(cli, run, job)
    assert (job / "final_model" / "done.txt").read_text().strip() == "done"
    assert summary.tool_calls >= 1
    assert f"$ {SHELL_COMMAND}" in summary.transcript
    # the task prompt reached the model
    assert "Post-train the model" in json.dumps(run.requests[-1]["body"])


@pytest.mark.parametrize("cli", CLIS)
def test_cli_resumes_session(cli, tmp_path):
    require_clis()
    job = make_job(tmp_path / "job")
    first = run_agent(cli, job, tmp_path / "server.jsonl")
    assert first.rc == 0, first.stderr[-3000:]
    run = run_agent(cli, job, tmp_path / "server.jsonl", resume=RESUME)
    check_run(cli, run, job)
    last = json.dumps(run.requests[-1]["body"])
    assert RESUME in last
    # the resumed conversation carries the first run's tool call
    assert "final_model/done.txt" in last


PRODUCTION = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
# Model ids a pinned CLI rewrites before calling its provider (seen here, not configured by us):
# the Gemini CLI resolves gemini-3-pro-preview to gemini-3.1-pro-preview.
CLI_MODEL_ALIASES = {"gemini-3-pro-preview": "gemini-3.1-pro-preview"}


def test_production_enables_cli_agents_with_args():
    # What the smoke test below covers: at least one enabled agent passes extra CLI args.
    agents = PRODUCTION["agents"]
    assert any(agents[name].get("args") for name in enabled_agents(PRODUCTION))


@pytest.mark.parametrize("name", enabled_agents(PRODUCTION))
def test_every_enabled_production_agent_starts_its_cli_with_its_args(name, tmp_path):
    """config/config.yaml's agents as configured (scaffold, model id, args), each a short real run."""
    require_clis()
    agent = PRODUCTION["agents"][name]
    job = make_job(tmp_path / "job")
    run = run_agent(agent["scaffold"], job, tmp_path / "server.jsonl", model=agent["model"], args=agent.get("args", []))
    check_run(agent["scaffold"], run, job)
    assert (job / "final_model" / "done.txt").exists()
    # The configured model id (or the CLI's own alias of it) is what the CLI asked the provider for.
    asked = {r["body"].get("model") for r in run.requests if r["method"] == "POST"} | {
        r["path"].split("/models/")[-1].split(":")[0] for r in run.requests if "/models/" in r["path"]
    }
    assert CLI_MODEL_ALIASES.get(agent["model"], agent["model"]) in asked, asked
