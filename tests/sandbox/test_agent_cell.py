"""Whole agent runs under bwrap through the real runner (workflow.agent.runner.run_agent).

The base model is a tiny model built here and placed in the shared cache;
the agent reaches it only through the copy-on-write overlay.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.sandbox.conftest import fuse_daemons_for, mounted, skip_reason, tree_digest
from workflow.agent.overlay import OverlayDirs
from workflow.agent.runner import AGENTS, AgentSpec, agent_env, run_agent
from workflow.agent.sandbox import OVERLAY_DIR, sandbox_session
from workflow.config import REPO
from workflow.environment.tiny_model import build_tiny_model

pytestmark = pytest.mark.usefixtures("sandbox_tools")
BASE = "ptb-tiny-base"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    if skip_reason():  # not built for tests that will be skipped anyway
        pytest.skip(skip_reason())
    return build_tiny_model(tmp_path_factory.mktemp("model") / BASE, hidden_size=32, layers=1)


@pytest.fixture
def cell(tmp_path, tiny_model):
    """A results tree with one cell and a shared cache holding the tiny model."""
    cache = tmp_path / "hf_home"
    shutil.copytree(tiny_model, cache / BASE)
    results = tmp_path / "results"
    cell_dir = results / "runs" / "noop" / "tiny" / "arith" / "seed1"
    (cell_dir / "job").mkdir(parents=True)
    cfg = {"container": {"runtime": "bwrap", "dir": str(results / "containers")}, "hf_home": str(cache)}
    cfg["agent_hf_home"] = str(cache)  # the agents' view is the cache itself here
    cfg["results"] = str(results)
    return cfg, cell_dir


def spec_for(scaffold: str, seconds: float, grace_seconds: float = 0) -> AgentSpec:
    return AgentSpec(
        name=scaffold, scaffold=scaffold, model=None, hours=seconds / 3600, grace_minutes=grace_seconds / 60, num_gpus=0
    )


def sandbox_pids(marker: str) -> list[int]:
    """Processes whose command line names `marker` (the bwrap line and what runs inside)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_noop_agent_cell_runs_in_bwrap_against_the_cached_model(cell):
    cfg, cell_dir = cell
    job = cell_dir / "job"
    cache = Path(cfg["hf_home"])
    before = tree_digest(cache)
    spec = spec_for("noop", seconds=120)
    started = time.monotonic()
    with sandbox_session(cfg, job, spec.num_gpus) as sandbox:
        env = agent_env(spec, job, cfg["hf_home"], internet=False)
        env.update(PTB_BASE_MODEL=str(sandbox.hf_home / BASE), PTB_BENCHMARK="arith", PTB_SEED="1")
        command = sandbox.wrap(["bash", str(AGENTS / "noop" / "solve.sh")])
        record = run_agent(spec, command, job, sandbox.environment(env), cell_dir / "trace.jsonl", cell_dir / "a.log")
    seconds = time.monotonic() - started
    assert record["status"] == "finished", (cell_dir / "a.log").read_text()
    assert record["final_model"] is True
    assert command[0] == "bwrap" and str(REPO / "agents" / "noop" / "solve.sh") in command
    submitted = job / "final_model"
    assert (submitted / "config.json").read_bytes() == (cache / BASE / "config.json").read_bytes()
    assert (submitted / "model.safetensors").read_bytes() == (cache / BASE / "model.safetensors").read_bytes()
    trace = [json.loads(line)["line"] for line in (cell_dir / "trace.jsonl").read_text().splitlines()]
    assert any("submitting the base model unchanged" in line for line in trace)
    assert tree_digest(cache) == before
    assert not mounted(sandbox.hf_home) and not fuse_daemons_for(sandbox.hf_home)
    assert seconds < 60


def test_timed_out_agent_is_stopped_and_the_overlay_unmounted(cell):
    cfg, cell_dir = cell
    job = cell_dir / "job"
    hold = job / "hold"
    hold.write_text("wait")
    spec = spec_for("test-hold", seconds=1, grace_seconds=2)
    with sandbox_session(cfg, job, spec.num_gpus) as sandbox:
        env = agent_env(spec, job, cfg["hf_home"], internet=False)
        env.update(PTB_BASE_MODEL=str(sandbox.hf_home / BASE), PTB_HOLD_FILE=str(hold))
        command = sandbox.wrap(["bash", str(AGENTS / "test-hold" / "solve.sh")])
        record = run_agent(spec, command, job, sandbox.environment(env), cell_dir / "trace.jsonl", cell_dir / "a.log")
        assert mounted(sandbox.hf_home)  # still up until the session ends
    assert record["status"] == "timeout"
    assert record["seconds"] < 20  # SIGTERM reached the sandbox; no wait for SIGKILL
    assert not (job / "final_model").exists()
    assert not mounted(sandbox.hf_home) and not fuse_daemons_for(sandbox.hf_home)
    assert sandbox_pids(str(AGENTS / "test-hold" / "solve.sh")) == []


RUNNER = """
import sys
from pathlib import Path
from workflow.agent.runner import AGENTS, AgentSpec, agent_env, run_agent
from workflow.agent.sandbox import sandbox_session

cfg, job, hold = {cfg!r}, Path({job!r}), {hold!r}
spec = AgentSpec(name="hold", scaffold="test-hold", model=None, hours=1, grace_minutes=0, num_gpus=0)
with sandbox_session(cfg, job, 0) as sandbox:
    env = agent_env(spec, job, cfg["hf_home"], internet=False)
    env.update(PTB_BASE_MODEL="unused", PTB_HOLD_FILE=hold)
    command = sandbox.wrap(["bash", str(AGENTS / "test-hold" / "solve.sh")])
    run_agent(spec, command, job, sandbox.environment(env), job.parent / "trace.jsonl", job.parent / "a.log")
"""


def test_runner_cancelled_with_sigterm_stops_the_agent_and_unmounts(cell):
    """What Slurm does on scancel or at the time limit: SIGTERM to the runner."""
    cfg, cell_dir = cell
    job = cell_dir / "job"
    hold = job / "hold"
    hold.write_text("wait")
    source = textwrap.dedent(RUNNER).format(cfg=cfg, job=str(job), hold=str(hold))
    runner = subprocess.Popen([sys.executable, "-c", source], env=dict(os.environ, PYTHONPATH=str(REPO)))
    trace = cell_dir / "trace.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "hold start" not in (trace.read_text() if trace.exists() else ""):
        time.sleep(0.2)
    merged = OverlayDirs(cell_dir / OVERLAY_DIR).merged
    assert mounted(merged) and sandbox_pids(str(AGENTS / "test-hold" / "solve.sh"))
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=60) == 143
    assert not mounted(merged) and not fuse_daemons_for(merged)
    assert sandbox_pids(str(AGENTS / "test-hold" / "solve.sh")) == []
