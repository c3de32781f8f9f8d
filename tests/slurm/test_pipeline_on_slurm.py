"""The embedded default through `snakemake --profile slurm` on a real Slurm cluster.

One scenario, run once: the embedded matrix plus two held test agents. While
it runs, one held agent's job is cancelled, the other hits its Slurm time
limit, and reference-sft's job is requeued mid-run. Then the same command is
run again. Each test checks one consequence.
"""

import copy
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.pipeline import REPO, SENTINEL_KEYS, executed_rules, repo_copy

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

EMBEDDED = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())
SCENARIO_LIMIT_SECONDS = 900


def scenario_config() -> dict:
    """The embedded default, with agents and evaluation on the test cluster's GPU partition."""
    config = copy.deepcopy(EMBEDDED)
    config["gpu_check"] = False  # the test cluster's GPUs are stand-in device files
    for agent in config["agents"].values():
        agent["num_gpus"] = 1
    config["agents"]["hold-cancel"] = {"scaffold": "test-hold", "num_gpus": 1}
    config["agents"]["hold-timeout"] = {"scaffold": "test-hold", "num_gpus": 0, "slurm": {"runtime_minutes": 1}}
    config["slurm"]["agent"]["partition"] = "gpu"
    config["slurm"]["evaluate"] |= {"partition": "gpu", "gpus": 1}
    config["slurm"]["cpu"]["partition"] = "cpu"
    return config


def cell(work, agent):
    return work / "results" / "runs" / agent / "tiny" / "arith" / "seed1"


def jobs_by_comment(cluster) -> dict[str, tuple[str, str]]:
    """comment (rule + wildcards) -> (job id, state) for every job in the queue."""
    out = cluster.squeue("-h", "-o", "%i|%T|%k", check=False).stdout
    jobs = {}
    for line in out.splitlines():
        job_id, state, comment = line.split("|", 2)
        jobs[comment] = (job_id, state)
    return jobs


def agent_job(jobs: dict, agent: str):
    # The Slurm executor comments each job with its rule and wildcard values.
    prefix = f"rule_run_agent_wildcards_{agent}_"
    return next(((jid, st) for c, (jid, st) in jobs.items() if c.startswith(prefix)), None)


@pytest.fixture(scope="module")
def scenario(slurm_cluster, tmp_path_factory):
    work = repo_copy(tmp_path_factory.mktemp("slurm") / "repo")
    (work / "scenario.yaml").write_text(yaml.safe_dump(scenario_config()))
    hold = work / "hold"
    hold.write_text("hold\n")
    command = [sys.executable, "-m", "snakemake", "--profile", "slurm", "--configfile", "scenario.yaml"]
    env = {**os.environ, **SENTINEL_KEYS, "PTB_HOLD_FILE": str(hold)}
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    events = {}
    while proc.poll() is None and time.monotonic() - started < SCENARIO_LIMIT_SECONDS:
        jobs = jobs_by_comment(slurm_cluster)
        cancel = agent_job(jobs, "hold-cancel")
        agent_started = (cell(work, "hold-cancel") / "trace.jsonl").exists()  # the agent itself is running
        if "cancelled" not in events and cancel and cancel[1] == "RUNNING" and agent_started:
            slurm_cluster.scancel(cancel[0])
            events["cancelled"] = cancel[0]
        sft = agent_job(jobs, "reference-sft")
        trace = cell(work, "reference-sft") / "trace.jsonl"
        if "requeued" not in events and sft and sft[1] == "RUNNING" and trace.exists():
            slurm_cluster.scontrol("requeue", sft[0])
            events["requeued"] = sft[0]
        timeout = agent_job(jobs, "hold-timeout")
        if timeout:
            events["timeout_job"] = timeout[0]
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
        pytest.fail(f"scenario did not finish in {SCENARIO_LIMIT_SECONDS} s")
    first_output = proc.stdout.read()
    first_seconds = time.monotonic() - started
    first_rc = proc.returncode
    finished_after_first = {a: (cell(work, a) / "run.json").exists() for a in ("hold-cancel", "hold-timeout")}

    hold.unlink()  # the held agents now finish at once
    second = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=SCENARIO_LIMIT_SECONDS)
    return {
        "work": work,
        "cluster": slurm_cluster,
        "events": events,
        "first": (first_rc, first_output, first_seconds),
        "finished_after_first": finished_after_first,
        "second": (second.returncode, second.stdout + second.stderr),
    }


def test_faults_were_injected(scenario):
    assert {"cancelled", "requeued", "timeout_job"} <= set(scenario["events"]), scenario["first"][1][-3000:]


def test_failed_cells_are_reported_with_reason(scenario):
    rc, output, _ = scenario["first"]
    assert rc != 0
    cancelled, timed_out = scenario["events"]["cancelled"], scenario["events"]["timeout_job"]
    assert f"SLURM-job '{cancelled}' failed, SLURM status is: 'CANCELLED'" in output
    assert f"SLURM-job '{timed_out}' failed, SLURM status is: 'TIMEOUT'" in output
    assert scenario["finished_after_first"] == {"hold-cancel": False, "hold-timeout": False}


def test_rest_of_matrix_completed(scenario):
    work = scenario["work"]
    for agent in ("noop", "reference-sft"):
        metrics = json.loads((cell(work, agent) / "metrics.json").read_text())
        assert metrics["status"] == "ok"
        assert (cell(work, agent) / "judgement.json").exists()


def test_gpu_jobs_receive_cuda_visible_devices(scenario):
    run = json.loads((cell(scenario["work"], "noop") / "run.json").read_text())
    assert run["job"]["slurm_job_id"]
    assert run["job"]["cuda_visible_devices"] in ("0", "1")


def test_failed_job_slurm_log_is_kept_and_linked(scenario):
    job_id = scenario["events"]["cancelled"]
    link = cell(scenario["work"], "hold-cancel") / f"slurm-agent-{job_id}.log"
    assert link.is_symlink()
    assert link.resolve().exists(), "the Slurm log of the cancelled job was not kept"
    assert "CANCELLED" in link.read_text()
    # Successful jobs leave no link (their logs are deleted by the executor).
    assert not list(cell(scenario["work"], "noop").glob("slurm-agent-*.log"))


def test_requeued_job_finished_once(scenario):
    work, cluster = scenario["work"], scenario["cluster"]
    job_id = scenario["events"]["requeued"]
    info = cluster.job_info(job_id) or {}
    if info:
        assert info.get("Restarts") == "1"
    run = json.loads((cell(work, "reference-sft") / "run.json").read_text())
    assert run["status"] == "finished" and run["final_model"]
    assert run["job"]["slurm_restarts"] == 1
    lines = [json.loads(x) for x in (cell(work, "reference-sft") / "trace.jsonl").read_text().splitlines()]
    assert sum("Time left" in x["line"] for x in lines) == 2, "trace holds more than one run"
    leftovers = [p for p in (work / "results").rglob("*.partial")]
    assert not leftovers


def test_rerun_completes_only_the_failed_cells(scenario):
    rc, output = scenario["second"]
    assert rc == 0, output[-3000:]
    ran = executed_rules(output)
    assert sorted(r for r in ran if r == "run_agent") == ["run_agent", "run_agent"]
    assert "build_embedded_model" not in ran and "evaluate_baselines" not in ran
    assert ran.count("evaluate") == 2 and ran.count("judge") == 2
    assert (scenario["work"] / "results" / "leaderboard.md").exists()
    board = (scenario["work"] / "results" / "leaderboard.md").read_text()
    assert "| hold-cancel |" in board and "| hold-timeout |" in board


def test_no_key_in_results_snakemake_or_slurm_logs(scenario):
    work = scenario["work"]
    slurm_logs = list((work / "results" / "logs" / "slurm").rglob("*.log"))
    assert slurm_logs, "no Slurm log was kept to check"
    files = [p for d in ("results", ".snakemake") for p in (work / d).rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        leaked = [k for k, v in SENTINEL_KEYS.items() if v.encode() in data]
        assert not leaked, f"{leaked} leaked into {path}"
    outputs = scenario["first"][1] + scenario["second"][1]
    assert not [k for k, v in SENTINEL_KEYS.items() if v in outputs]
