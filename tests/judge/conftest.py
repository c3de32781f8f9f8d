"""Fixtures for the judge's tests: tiny models and job directories built by real scaffolds."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from workflow.agent.handout import render_prompt, write_job_dir  # noqa: E402
from workflow.agent.runner import AGENTS  # noqa: E402
from workflow.environment.tiny_model import build_tiny_model  # noqa: E402
from workflow.judge.judgement import RunUnderReview  # noqa: E402

TRAIN = AGENTS / "reference-sft" / "train.py"
MODELS = {"tiny": {"base": "embedded:tiny-base", "instruct": "embedded:tiny-instruct"}}
# The settings of the judge's pipeline runs on a repo copy (add models, agents and judge):
# arith on 10 items, an agent budget of about two minutes, no container, no internet.
# The embedded default's job sizes: without them an agent job asks the default
# placement's 50 GB of free disk (preflight's node check), which a CI runner may lack.
PIPELINE_RUN = {
    "slurm": yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())["slurm"],
    "results": "results",
    "hf_home": "results/hf_home",
    "agent_internet": False,
    "container": {"runtime": "none"},
    "hours": 0.034,
    "grace_minutes": 0.5,
    "seeds": [1],
    "benchmarks": {"arith": {"weight": 1.0}},
    "evaluation": {"backend": "hf", "limit": 10},
}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-base")


@pytest.fixture(scope="session")
def tiny_instruct(tiny_base) -> Path:
    """The embedded instruct stand-in, built the way the pipeline builds it (workflow/models.py)."""
    out = tiny_base.parent / "tiny-instruct"
    cmd = [sys.executable, str(TRAIN), "--base-model", str(tiny_base), "--task-dir", str(REPO / "tasks" / "arith")]
    subprocess.run([*cmd, "--output", str(out), "--examples", "400", "--epochs", "1", "--seed", "7"], check=True)
    return out


def run_scaffold(scaffold: str, job_dir: Path, base: Path, args: str = "", hours: float = 0.05) -> RunUnderReview:
    """A job dir as run_agent prepares it, with the scaffold's solve.sh run in it; its stdout is the trace."""
    prompt = render_prompt("arith", str(base), hours, 0, internet=False)
    hashes = write_job_dir(job_dir, "arith", prompt, deadline=int(time.time() + hours * 3600))
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(job_dir),
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(job_dir.parent / "hf_home"),
        "PTB_BASE_MODEL": str(base),
        "PTB_AGENT_ARGS": args,
        "PTB_BENCHMARK": "arith",
    }
    proc = subprocess.run(
        ["bash", str(AGENTS / scaffold / "solve.sh")], cwd=job_dir, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{scaffold} failed:\n{proc.stderr[-3000:]}"
    trace = job_dir.parent / f"{job_dir.name}.trace.jsonl"
    trace.write_text("".join(json.dumps({"t": "0", "line": line}) + "\n" for line in proc.stdout.splitlines()))
    return RunUnderReview(
        job_dir=job_dir,
        trace=trace,
        handout_hashes=hashes,
        benchmark="arith",
        base_model=str(base),
        base_dir=base,
        instruct_dir=base.parent / "tiny-instruct",
        models=MODELS,
    )


def empty_run(tmp_path: Path, base: Path, instruct: Path | None = None) -> RunUnderReview:
    """A job dir as handed out, nothing done yet: tests add the files they need."""
    job = tmp_path / "job"
    hashes = write_job_dir(job, "arith", "prompt", deadline=int(time.time() + 60))
    trace = tmp_path / "trace.jsonl"
    trace.write_text("")
    return RunUnderReview(job, trace, hashes, "arith", str(base), base, instruct, MODELS)
