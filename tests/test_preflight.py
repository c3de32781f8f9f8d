"""Preflight: before any job is submitted, and at the start of an agent job before its clock."""

import copy
from pathlib import Path

import yaml

from tests.pipeline import REPO, repo_copy, snakemake
from workflow.config import resolve_config
from workflow.environment.preflight import job_problems, submit_problems, submit_warnings

CONFIG = resolve_config(
    yaml.safe_load((REPO / "config" / "config.yaml").read_text())
)  # the suite's benchmarks filled in
EMBEDDED = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())
KEYS = {"ANTHROPIC_API_KEY": "a" * 12, "OPENAI_API_KEY": "o" * 12, "GEMINI_API_KEY": "g" * 12}


def config(**changes) -> dict:
    cfg = copy.deepcopy(CONFIG)
    cfg["container"] = {"runtime": "none", "local_images": {}}
    for key, value in changes.items():
        cfg[key] = value
    return cfg


def with_defaults(cfg: dict) -> dict:
    from snakemake.utils import validate

    from workflow.config import SCHEMA

    validate(cfg, str(SCHEMA), set_default=True)
    return cfg


def test_a_complete_setup_has_no_problem():
    assert submit_problems(with_defaults(config()), KEYS) == []


def test_each_missing_key_is_one_line_naming_it_and_where():
    problems = submit_problems(with_defaults(config()), {"GEMINI_API_KEY": "g" * 12})
    assert "agents.claude-opus-4.6: scaffold claude needs ANTHROPIC_API_KEY, which is not set where snakemake runs" in (
        problems
    )
    assert any(p.startswith("agents.codex-gpt-5.3-codex: scaffold codex needs OPENAI_API_KEY") for p in problems)
    graders = [p for p in problems if p.startswith("benchmarks.")]
    assert {p.split(":")[0] for p in graders} == {"benchmarks.arenahardwriting", "benchmarks.healthbench"}
    assert all("OPENAI_API_KEY" in p for p in graders)
    judged = with_defaults(config(judge={"model": "anthropic/claude-judge"}))
    assert "judge.model: anthropic/claude-judge needs ANTHROPIC_API_KEY" in " ".join(
        submit_problems(judged, {k: v for k, v in KEYS.items() if k != "ANTHROPIC_API_KEY"})
    )


def test_cli_agent_without_a_model_and_a_runtime_shorter_than_the_budget():
    cfg = config()
    cfg["agents"]["claude-opus-4.6"]["model"] = None
    cfg["agents"]["claude-opus-4.6"]["slurm"] = {"runtime_minutes": 300}
    problems = submit_problems(with_defaults(cfg), KEYS)
    assert "agents.claude-opus-4.6.model: scaffold claude drives a provider's model; name it" in problems[0]
    assert problems[1] == (
        "agents.claude-opus-4.6.slurm.runtime_minutes: 300 min is less than the budget + grace of "
        "claude-opus-4.6 (605 min); Slurm would stop the agent before its budget ends"
    )


def test_budgets_and_subscriptions():
    cfg = config()
    cfg["agents"]["claude-opus-4.6"]["hours"] = [1, 10]  # one run per budget
    cfg["agents"]["claude-opus-4.6"]["slurm"] = {"runtime_minutes": 100}
    cfg["agents"]["codex-gpt-5.3-codex"]["credential"] = "/secure/codex-auth.json"  # a subscription, no key
    problems = submit_problems(with_defaults(cfg), {"GEMINI_API_KEY": "g" * 12, "OPENAI_API_KEY": "o" * 12})
    assert [p for p in problems if "ANTHROPIC_API_KEY" in p] == [
        "agents.claude-opus-4.6: scaffold claude needs ANTHROPIC_API_KEY, which is not set where snakemake runs"
    ]
    assert [p.split(" (")[0] for p in problems if "runtime_minutes" in p] == [
        "agents.claude-opus-4.6.slurm.runtime_minutes: 100 min is less than the budget + grace of claude-opus-4.6@10h"
    ]
    assert not any("codex" in p for p in submit_problems(with_defaults(cfg), KEYS))


def test_container_runtime_and_network():
    cfg = with_defaults(config(container={"runtime": "bwrap"}, agent_internet=False))
    problems = submit_problems(cfg, KEYS, which=lambda tool: None)
    assert problems[0].startswith("container.runtime 'bwrap' needs bwrap and fuse-overlayfs on PATH")
    assert any("agent_internet is false and container.runtime bwrap gives the agent no network" in p for p in problems)
    # runtime none cannot cut the network: a warning when an agent would use it (not for offline agents).
    assert submit_warnings(with_defaults(copy.deepcopy(EMBEDDED))) == []
    online = with_defaults(copy.deepcopy(EMBEDDED))
    online["agents"]["claude"] = {"scaffold": "claude", "model": "m", "num_gpus": 0}
    assert submit_warnings(online)[0].startswith("agent_internet is false but container.runtime none cannot cut")


def test_agent_job_checks_fuse_and_disk(tmp_path):
    cfg = with_defaults(copy.deepcopy(EMBEDDED) | {"container": {"runtime": "bwrap"}})
    missing = job_problems(cfg, "noop", tmp_path / "job", which=lambda t: None, fuse_device=tmp_path / "fuse")
    assert f"{tmp_path / 'fuse'} is missing" in missing[0] and "fuse-overlayfs is not on PATH" in missing[1]
    full = job_problems(cfg, "noop", tmp_path / "job", which=lambda t: "/bin/x", free_bytes=lambda p: 2**28)
    assert full == [
        f"{tmp_path} has 0.2 GB free, less than the agent's disk_gb (1 GB, slurm.agent / agents.noop.slurm)"
    ]
    # /dev/null is a character device like /dev/fuse: the check passes.
    assert job_problems(cfg, "noop", tmp_path, which=lambda t: "/bin/x", fuse_device=Path("/dev/null")) == []


def test_a_real_run_stops_before_submitting_anything(tmp_path):
    work = repo_copy(tmp_path / "repo")
    cfg = copy.deepcopy(EMBEDDED)
    cfg["agents"]["claude"] = {"scaffold": "claude", "model": "claude-x", "num_gpus": 0}
    (work / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {"ANTHROPIC_API_KEY": ""}
    proc = snakemake(work, "--cores", "1", "--configfile", "c.yaml", env=env)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "preflight: nothing was submitted" in out
    assert "agents.claude: scaffold claude needs ANTHROPIC_API_KEY, which is not set where snakemake runs" in out
    assert not (work / "results").exists()  # not even the local model build ran
