"""`python -m workflow status`: the matrix from the results tree and Snakemake's state."""

import json
import os
import subprocess
import sys
import time
import types

import yaml
from snakemake.persistence.file import FilePersistence

from tests.report.synthetic import Tree, make_config
from workflow.agent.attempts import write_state
from workflow.config import REPO
from workflow.paths import AGENT_STATE
from workflow.report.status import collect, decode_marker, render

CONFIG = make_config({"a": {"hours": 2}, "b": {"num_gpus": 2}})


def snakemake_record_path(subject: str, output: str) -> str:
    """Where Snakemake's own code puts the marker or record of an output."""
    fake_self = types.SimpleNamespace(_fetch_max_len=lambda _: 255)
    return FilePersistence._record_path(fake_self, subject, output)


def mark(workdir, kind: str, output: str, content: dict | None = None) -> None:
    path = snakemake_record_path(str(workdir / ".snakemake" / kind), output)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(content or {}, f)


def lock(workdir) -> None:
    (workdir / ".snakemake" / "locks").mkdir(parents=True, exist_ok=True)
    (workdir / ".snakemake" / "locks" / "0.output.lock").write_text("results/leaderboard.md\n")


def build(tmp_path, locked=True):
    """Every kind of cell for agent a; agent b untouched (missing)."""
    tree = Tree(tmp_path, CONFIG)
    tree.cell("a", "m1", "b1", seconds=3600)  # done
    tree.cell("a", "m1", "b2", seconds=1800, flagged=True, reasons=["contamination: test questions"])
    tree.cell("a", "m2", "b1", seconds=7200, status="failed", reason="Traceback\nRuntimeError: vLLM crashed")
    # m2/b2: the agent job failed: Snakemake removed its outputs, its log stays.
    folder = tree.folder("a", "m2", "b2")
    folder.mkdir(parents=True)
    (folder / "agent.log").write_text("Traceback (most recent call last):\n  ...\nOSError: No space left on device\n")
    # b/m1/b1: the agent is running as Slurm job 4242, with a Slurm log. As on Slurm, the
    # job step's Snakemake has rewritten the markers without the id; the job beats its state file.
    running = tree.folder("b", "m1", "b1")
    (running / "job").mkdir(parents=True)
    (running / "agent.log").write_text("agent started\n")
    for name in ("job", "run.json", "trace.jsonl", "handout.json"):
        mark(tmp_path, "incomplete", f"results/runs/b/m1/b1/seed1/{name}", {"external_jobid": None})
    write_state(running, {"status": "running", "owner": {"slurm_job_id": "4242", "restarts": 0}})
    slurm = tmp_path / ".snakemake/slurm_logs/rule_run_agent/b_m1_b1_1"
    slurm.mkdir(parents=True)
    (slurm / "4242.log").write_text("srun: started\n")
    # b/m2/b1: agent done, waiting for the judge and the evaluation.
    tree.run("b", "m2", "b1", seconds=600)
    # b/m1/b2: evaluated, then its metrics were deleted by hand: Snakemake redoes it.
    tree.cell("b", "m1", "b2", seconds=60)
    (tree.folder("b", "m1", "b2") / "metrics.json").unlink()
    if locked:
        lock(tmp_path)
    return tree


def by_key(matrix):
    return {c.cell.key: c for c in matrix.cells}


def test_every_state(tmp_path):
    build(tmp_path)
    matrix = collect(CONFIG, tmp_path)
    cells = by_key(matrix)
    assert cells["a/m1/b1/seed1"].state == "done"
    flagged = cells["a/m1/b2/seed1"]
    assert flagged.state == "flagged" and "contamination" in flagged.detail
    failed_eval = cells["a/m2/b1/seed1"]
    assert failed_eval.state == "failed" and failed_eval.stage == "evaluate"
    assert "RuntimeError: vLLM crashed" in failed_eval.detail and failed_eval.log.endswith("evaluate.log")
    failed_agent = cells["a/m2/b2/seed1"]
    assert failed_agent.state == "failed" and failed_agent.stage == "run_agent"
    assert failed_agent.detail == "OSError: No space left on device" and failed_agent.log.endswith("agent.log")
    running = cells["b/m1/b1/seed1"]
    assert running.state == "running" and running.jobid == "4242"
    assert running.slurm_log.endswith("rule_run_agent/b_m1_b1_1/4242.log")
    assert (
        cells["b/m2/b1/seed1"].state == "missing" and "waiting for judge and evaluate" in cells["b/m2/b1/seed1"].detail
    )
    deleted = cells["b/m1/b2/seed1"]
    assert deleted.state == "missing" and "removed?" in deleted.detail
    assert cells["b/m2/b2/seed1"].state == "missing" and cells["b/m2/b2/seed1"].detail == "not run yet"
    assert matrix.counts() == {"done": 1, "running": 1, "failed": 2, "flagged": 1, "missing": 3}


def test_a_running_agent_job_is_named_by_the_marker_or_by_its_own_state_file(tmp_path):
    build(tmp_path)
    key, folder = "results/runs/b/m1/b1/seed1", tmp_path / "results/runs/b/m1/b1/seed1"
    # A marker that kept the id (the submitting Snakemake's, before the job started) names the job.
    mark(tmp_path, "incomplete", f"{key}/run.json", {"external_jobid": "4300"})
    assert by_key(collect(CONFIG, tmp_path))["b/m1/b1/seed1"].jobid == "4300"
    # Resubmitted and still pending: the state file is the earlier job's, older than the new marker.
    for name in ("job", "run.json", "trace.jsonl", "handout.json"):
        mark(tmp_path, "incomplete", f"{key}/{name}", {"external_jobid": None})
    os.utime(folder / AGENT_STATE, (time.time() - 60, time.time() - 60))
    pending = by_key(collect(CONFIG, tmp_path))["b/m1/b1/seed1"]
    assert pending.state == "running" and pending.jobid is None


def test_budget_counts_finished_and_running_agents(tmp_path):
    build(tmp_path)
    matrix = collect(CONFIG, tmp_path)
    finished = (3600 + 1800 + 7200) / 3600 + (600 + 60) / 3600
    running = matrix.agent_hours_used - finished
    assert 0 <= running < 0.1  # the running agent started moments ago
    assert matrix.agent_hours_budget == 4 * 2 + 4 * 10
    assert matrix.gpu_hours_used >= (3600 + 1800 + 7200) / 3600 + 2 * (600 + 60) / 3600


def test_without_a_lock_a_started_job_was_interrupted(tmp_path):
    build(tmp_path, locked=False)
    cell = by_key(collect(CONFIG, tmp_path))["b/m1/b1/seed1"]
    assert cell.state == "failed" and "--rerun-incomplete" in cell.detail


def test_render_lists_what_needs_attention(tmp_path):
    build(tmp_path)
    text = render(CONFIG, collect(CONFIG, tmp_path))
    assert "a (autonomous; 4 cells: 1 done, 2 failed, 1 flagged)" in text
    grid = text.split("a (autonomous")[1].splitlines()
    assert grid[2].split() == ["m1", "✓", "⚑"] and grid[3].split() == ["m2", "✗", "✗"]
    assert "OSError: No space left on device" in text and "results/runs/a/m2/b2/seed1/agent.log" in text
    assert "[Slurm job 4242]" in text and "slurm log:" in text
    assert "Agent time used:" in text and "of 48.0 h budgeted" in text


def test_decode_marker_reads_long_split_names():
    output = "results/runs/" + "x" * 400 + "/run.json"
    path = snakemake_record_path("/root", output)
    assert path.count("/@") >= 1  # Snakemake split it into folders
    assert decode_marker(os.path.relpath(path, "/root")) == output


def test_cli_text_json_and_bad_config(tmp_path):
    build(tmp_path)
    config = dict(CONFIG)
    config_file = tmp_path / "config.yaml"
    # The CLI checks the config like Snakemake does: benchmarks must exist under tasks/.
    config["benchmarks"] = {"arith": {"weight": 1.0}}
    config["agents"] = {"a": {"scaffold": "noop"}}
    config_file.write_text(yaml.safe_dump(config))
    tree = Tree(tmp_path, config)
    tree.cell("a", "m1", "arith")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "workflow", "status", "--config", str(config_file), "--directory", str(tmp_path)]
    text = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert "All 2 cells: 1 done, 0 running, 0 failed, 0 flagged, 1 missing" in text
    data = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, check=True).stdout)
    assert data["counts"]["done"] == 1 and {c["cell"] for c in data["cells"]} == {
        "a/m1/arith/seed1",
        "a/m2/arith/seed1",
    }
    config_file.write_text(yaml.safe_dump({**config, "benchmarks": {"nosuch": {"weight": 1.0}}}))
    bad = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "benchmarks.nosuch: unknown benchmark id" in bad.stderr
