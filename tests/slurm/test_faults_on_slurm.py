"""Injected faults on the real Slurm cluster, through `snakemake --profile slurm`, and a fault table.

The embedded default (tiny model, CPU) with one agent per fault. Three runs of
the same command, as a user would make them:

1. Faults are injected while it runs: `kill -9` of an agent, `scancel` of an
   agent job, `scontrol requeue` of a running agent, Slurm's time limit, an
   agent over its own budget, the kernel's OOM killer in an evaluation, a
   corrupt final_model, a node whose GPUs fail the check (every time).
2. Run again: while the cancelled cell's new attempt runs, Snakemake itself is
   killed with `kill -9`.
3. `snakemake --unlock` and run again.

A second, smaller scenario covers vLLM failing to start (the eval image lacks
vLLM), then the same run with a working image; a third, a grader's key
missing (nothing is submitted). Each test checks one row's facts; the last
writes the table (markdown, to $PTB_FAULT_TABLE or the test's folder) and
prints it.
"""

import copy
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.pipeline import REPO, SENTINEL_KEYS, executed_rules, repo_copy

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

EMBEDDED = yaml.safe_load((REPO / "config" / "embedded.yaml").read_text())
RUN_LIMIT_SECONDS = 600
HELD = ("kill9", "cancel", "requeue", "slurm-limit")
HOLD = {"scaffold": "test-hold", "num_gpus": 0}
ROWS: dict[str, dict] = {}  # fault -> the row, filled by the tests


def scenario_config() -> dict:
    config = copy.deepcopy(EMBEDDED)
    config.update(gpu_check=True, grace_minutes=0.25, kill_after_seconds=5, monitor_seconds=5)
    config["evaluation"]["limit"] = 10  # the faults, not the scores, are under test
    config["agents"] = {
        "careless": {"scaffold": "test-careless", "model": "m", "num_gpus": 0},
        **{name: dict(HOLD) for name in HELD},
        "overrun": {"scaffold": "test-overrun", "num_gpus": 0, "hours": 0.005},
        "corrupt": {"scaffold": "test-corrupt", "num_gpus": 0},
        "oom": {"scaffold": "noop", "num_gpus": 0},
        # The test cluster's GPUs are device files without CUDA: this cell fails its GPU check every time.
        "no-gpu": {"scaffold": "noop", "num_gpus": 1, "slurm": {"partition": "gpu"}},
    }
    for stage in ("agent", "evaluate", "cpu"):
        config["slurm"][stage] |= {"mem_gb": 1, "partition": "cpu"}
    return config


def cell(work: Path, agent: str) -> Path:
    return work / "results" / "runs" / agent / "tiny" / "arith" / "seed1"


def read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def jobs_by_comment(cluster) -> dict[str, tuple[str, str]]:
    """comment (rule + wildcards) -> (job id, state) for every job in the queue."""
    out = cluster.squeue("-h", "-o", "%i|%T|%k", check=False).stdout
    jobs = {}
    for line in out.splitlines():
        job_id, state, comment = line.split("|", 2)
        jobs[comment] = (job_id, state)
    return jobs


def agent_job(jobs: dict, agent: str):
    prefix = f"rule_run_agent_wildcards_{agent}_"
    return next(((jid, st) for c, (jid, st) in jobs.items() if c.startswith(prefix)), None)


def pids_where(*needles: str) -> list[int]:
    """Processes whose command line (and environment, for `env:` needles) contain every needle."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            environ = (
                (proc / "environ").read_bytes().decode(errors="replace")
                if any(n.startswith("env:") for n in needles)
                else ""
            )
        except OSError:
            continue
        if all((n[4:] in environ) if n.startswith("env:") else (n in cmdline) for n in needles):
            found.append(int(proc.name))
    return found


def jobs_per_agent(output: str) -> dict[str, list[str]]:
    """agent -> the rules Snakemake ran for its cell, from the run's log."""
    ran: dict[str, list[str]] = {}
    rule = None
    for line in output.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif rule and line.strip().startswith("wildcards:"):
            fields = dict(part.split("=", 1) for part in line.split(":", 1)[1].strip().split(", ") if "=" in part)
            # A failed job's log (shown in full) repeats its rule's block: count each rule once.
            if "agent" in fields and rule not in ran.setdefault(fields["agent"], []):
                ran[fields["agent"]].append(rule)
            rule = None
    return ran


class Run:
    """One `snakemake --profile slurm` run in the background, its output in a file."""

    def __init__(self, work: Path, env: dict, name: str, *extra: str):
        self.log = work / f"{name}.out"
        command = [sys.executable, "-m", "snakemake", "--profile", "slurm", "--configfile", "scenario.yaml", *extra]
        command += ["--slurm-init-seconds-before-status-checks", "5"]
        self.proc = subprocess.Popen(command, cwd=work, env=env, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        self.ended: float | None = None

    def running(self) -> bool:
        if time.monotonic() - self.started > RUN_LIMIT_SECONDS:
            self.proc.kill()
            pytest.fail(f"{self.log.name} did not finish in {RUN_LIMIT_SECONDS} s:\n{text(self.log)[-3000:]}")
        if self.proc.poll() is None:
            return True
        self.ended = self.ended or time.monotonic()
        return False

    @property
    def output(self) -> str:
        return text(self.log)

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


def status_json(work: Path, env: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "workflow", "status", "--config", "scenario.yaml", "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {c["cell"].split("/")[0]: c for c in json.loads(done.stdout)["cells"]}


def snapshot(work: Path) -> dict:
    """What each cell holds after a run."""
    facts = {}
    for agent in scenario_config()["agents"]:
        folder = cell(work, agent)
        facts[agent] = {
            "run": read(folder / "run.json"),
            "metrics": read(folder / "metrics.json"),
            "judgement": read(folder / "judgement.json"),
            "state": read(folder / "agent_state.json"),
            "job": (folder / "job").is_dir(),
            "final_model": (folder / "job" / "final_model").is_dir(),
            "attempts": sorted(p.name for p in (folder / "attempts").iterdir())
            if (folder / "attempts").is_dir()
            else [],
            "trace": text(folder / "trace.jsonl"),
            "agent_log": text(folder / "agent.log"),
            "evaluate_log": text(folder / "evaluate.log"),
        }
    return facts


@pytest.fixture(scope="module")
def scenario(slurm_cluster, tmp_path_factory):
    work = repo_copy(tmp_path_factory.mktemp("faults") / "repo")
    (work / "scenario.yaml").write_text(yaml.safe_dump(scenario_config()))
    hold = work / "hold"
    for agent in HELD:
        Path(f"{hold}.{agent}").write_text("hold\n")
    env = {**os.environ, **SENTINEL_KEYS, "PTB_HOLD_FILE": str(hold), "PYTHONPATH": str(REPO)}
    events: dict = {"oom_kills": 0}
    started = time.monotonic()

    # --- run 1: faults injected while it runs -----------------------------------------
    first = Run(work, env, "run1")
    while first.running():
        jobs = jobs_by_comment(slurm_cluster)
        traces = {a: text(cell(work, a) / "trace.jsonl") for a in HELD}
        if "kill9" not in events and "hold start" in traces["kill9"]:
            agent = pids_where("test-hold/solve.sh", "env:PTB_AGENT_NAME=kill9")
            if agent:
                runner = text(Path(f"/proc/{agent[0]}/stat")).rsplit(")", 1)[1].split()[1]  # its parent
                events["kill9_runner_env"] = text(Path(f"/proc/{runner}/environ"))
                os.kill(agent[0], signal.SIGKILL)
                events["kill9"] = agent[0]
        job = agent_job(jobs, "cancel")
        if "cancel" not in events and job and job[1] == "RUNNING" and "hold start" in traces["cancel"]:
            slurm_cluster.scancel(job[0])
            events["cancel"] = job[0]
        job = agent_job(jobs, "requeue")
        if "requeue" not in events and job and job[1] == "RUNNING" and "hold start" in traces["requeue"]:
            events.setdefault("requeue_seen", time.monotonic())
            if time.monotonic() - events["requeue_seen"] > 10:  # some budget used before the preemption
                slurm_cluster.scontrol("requeue", job[0])
                events["requeue"] = job[0]
        if "requeue" in events and "requeue_released" not in events and "hold resumed" in traces["requeue"]:
            Path(f"{hold}.requeue").unlink()
            events["requeue_released"] = True
        job = agent_job(jobs, "slurm-limit")
        if "slurm-limit" not in events and job and job[1] == "RUNNING" and "hold start" in traces["slurm-limit"]:
            slurm_cluster.scontrol("update", f"JobId={job[0]}", "TimeLimit=1")
            events["slurm-limit"] = job[0]
        for pid in pids_where(
            "/runs/oom/tiny/arith/seed1/eval/handout/evaluate.py"
        ):  # the kernel's OOM killer picks the evaluation
            try:
                os.kill(pid, signal.SIGKILL)
                events["oom_kills"] += 1
            except ProcessLookupError:
                pass
        time.sleep(0.3)
    one = {
        "rc": first.proc.returncode,
        "output": first.output,
        "seconds": first.seconds,
        "cells": snapshot(work),
        "status": status_json(work, env),
        "board": text(work / "results" / "leaderboard.md"),
        "cells_csv": text(work / "results" / "cells.csv"),
    }

    # --- run 2: the cancelled cell runs again; Snakemake is killed with kill -9 meanwhile ------------
    Path(f"{hold}.slurm-limit").unlink()
    Path(f"{hold}.kill9").unlink()
    second = Run(work, env, "run2")
    others_done = [cell(work, a) / name for a in ("slurm-limit", "oom") for name in ("metrics.json", "judgement.json")]
    quiet_since = None
    while second.running():
        jobs = jobs_by_comment(slurm_cluster)
        job = agent_job(jobs, "cancel")
        attempt_started = "hold start" in text(cell(work, "cancel") / "trace.jsonl")
        alone = (
            job and job[1] == "RUNNING" and attempt_started and len(jobs) == 1 and all(p.exists() for p in others_done)
        )
        quiet_since = (quiet_since or time.monotonic()) if alone else None
        if quiet_since and time.monotonic() - quiet_since > 5:  # nothing else left to submit either
            live_status = status_json(work, env)
            os.kill(second.proc.pid, signal.SIGKILL)  # the Snakemake process this test started, only it
            second.proc.wait()
            events["snakemake_killed"] = job[0]
            break
        time.sleep(0.3)
    assert "snakemake_killed" in events, second.output[-3000:]
    # What `python -m workflow status` says of the cell: while Snakemake ran it, once Snakemake was
    # killed (its lock stays), and after `--unlock`.
    two = {
        "output": second.output,
        "seconds": second.seconds,
        "cells": snapshot(work),
        "status": {"live": live_status, "killed": status_json(work, env)},
    }
    orphan_alive = agent_job(jobs_by_comment(slurm_cluster), "cancel")

    # --- run 3: unlock, run again -----------------------------------------------------------
    unlock = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "slurm", "--configfile", "scenario.yaml", "--unlock"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert unlock.returncode == 0, unlock.stderr
    two["status"]["unlocked"] = status_json(work, env)
    third = Run(work, env, "run3")
    while third.running():
        if "hold resumed" in text(cell(work, "cancel") / "trace.jsonl") and Path(f"{hold}.cancel").exists():
            Path(f"{hold}.cancel").unlink()
        time.sleep(0.3)
    three = {
        "rc": third.proc.returncode,
        "output": third.output,
        "seconds": third.seconds,
        "cells": snapshot(work),
        "status": status_json(work, env),
        "board": text(work / "results" / "leaderboard.md"),
        "cells_csv": text(work / "results" / "cells.csv"),
    }
    return {
        "work": work,
        "cluster": slurm_cluster,
        "env": env,
        "events": events,
        "orphan_alive": orphan_alive,
        "runs": [one, two, three],
        "seconds": time.monotonic() - started,
    }


def ran(scenario, index: int) -> dict[str, list[str]]:
    return jobs_per_agent(scenario["runs"][index]["output"])


def redone(scenario, agent: str) -> str:
    """What the later runs ran for the cell, e.g. 'run 2: run_agent, judge, evaluate'."""
    parts = []
    for i in (1, 2):
        rules = ran(scenario, i).get(agent)
        if rules:
            parts.append(f"run {i + 1}: {', '.join(rules)}")
    return "; ".join(parts) or "nothing"


def row(fault: str, injected: str, outcome: str, kept: str, rerun: str) -> None:
    ROWS[fault] = {"injected": injected, "outcome": outcome, "kept": kept, "rerun": rerun}


def slurm_part(detail: str) -> str:
    """What Slurm said, from a status detail ('own reason | Slurm: ...')."""
    return detail.split("Slurm: ", 1)[-1][:110]


def trace_notes(trace: str) -> list[str]:
    notes = []
    for line in trace.splitlines():
        event = json.loads(line)
        if "runner" in event:
            notes.append(f"[runner: {event['runner']['event']}]")
            continue
        try:
            notes.append(json.loads(event["line"]).get("text", ""))
        except (ValueError, AttributeError):
            continue
    return notes


# --- run 1 ----------------------------------------------------------------------------


def test_every_fault_was_injected(scenario):
    events = scenario["events"]
    assert {"kill9", "cancel", "requeue", "requeue_released", "slurm-limit"} <= set(events), events
    assert events["oom_kills"] >= 2  # every attempt of the evaluation, down the token ladder
    assert scenario["runs"][0]["rc"] != 0  # the cell that fails every time fails this run


def test_kill9_of_the_agent_is_a_completed_run_with_its_reason(scenario):
    one, three = scenario["runs"][0]["cells"]["kill9"], scenario["runs"][2]["cells"]["kill9"]
    assert one["run"]["status"] == "killed" and one["run"]["signal"] == "SIGKILL"
    assert one["job"] and "hold start" in one["trace"] and one["attempts"] == []
    assert one["metrics"]["status"] == "missing"  # no final_model: scored with the base model
    assert three["run"] == one["run"]  # not run again
    row(
        "`kill -9` of the agent mid-run",
        "SIGKILL to the agent's process (what the kernel's OOM killer sends)",
        f"run completed: `{one['run']['status']}` ({one['run']['signal']}); "
        f"evaluation `{one['metrics']['status']}` → base model's score",
        "job/, trace.jsonl (the agent's own ending, nothing moved)",
        redone(scenario, "kill9"),
    )


def test_scancel_keeps_the_job_folder_and_the_rerun_starts_a_new_attempt(scenario):
    one = scenario["runs"][0]["cells"]["cancel"]
    job_id = scenario["events"]["cancel"]
    assert one["run"] is None and one["job"] and "hold start" in one["trace"]  # nothing deleted
    assert one["state"]["status"] == "stopped" and "SIGTERM" in one["state"]["stop_reason"]
    status = scenario["runs"][0]["status"]["cancel"]
    assert status["state"] == "failed" and status["stage"] == "run_agent"
    assert "CANCELLED" in status["detail"], status
    assert status["slurm_log"] and "results/logs/slurm/rule_run_agent" in status["slurm_log"]
    assert f"SLURM-job '{job_id}' failed, SLURM status is: 'CANCELLED'" in scenario["runs"][0]["output"]
    # Run 2 moved the attempt aside (trace included) and started afresh.
    two = scenario["runs"][1]["cells"]["cancel"]
    assert two["attempts"] == ["1"]
    first_attempt = cell(scenario["work"], "cancel") / "attempts" / "1"
    assert (first_attempt / "job" / "prompt.md").exists() and "hold start" in text(first_attempt / "trace.jsonl")
    assert f"Slurm job {job_id} ended mid-run" in read(first_attempt / "attempt.json")["reason"]
    # The cancelled job's Slurm log went along with its attempt, and was kept (logs of failed jobs are).
    [link] = first_attempt.glob("slurm-agent-*.log")
    assert link.name == f"slurm-agent-{job_id}.log" and "CANCELLED" in text(link.resolve())
    row(
        "`scancel` of an agent job",
        f"`scancel {job_id}` while the agent held",
        f"job failed, SLURM status `CANCELLED`; status says: `{slurm_part(status['detail'])}`",
        "job/ and trace in place after run 1, then attempts/1/ (with attempt.json: why)",
        redone(scenario, "cancel") + " (run 2's new attempt is the one Snakemake's kill -9 interrupted)",
    )


def test_requeue_resumes_the_agent_with_the_budget_left(scenario):
    one = scenario["runs"][0]["cells"]["requeue"]
    run = one["run"]
    assert run["status"] == "finished" and run["final_model"] and one["attempts"] == []
    assert run["job"]["slurm_job_id"] == scenario["events"]["requeue"] and run["job"]["slurm_restarts"] == 1
    assert len(run["resumes"]) == 1 and "requeued" in run["resumes"][0]["reason"]
    notes = trace_notes(one["trace"])
    assert notes.count("hold start") == 1 and notes.count("hold resumed") == 1  # one trace, no second start
    assert notes.index("[runner: stopped]") < notes.index("[runner: resume]") < notes.index("hold resumed")
    # The timer the resumed agent saw: the budget minus what the first job used.
    used = run["resumes"][0]["used_seconds"]
    assert used >= 8  # the preemption came about 10 s into the run
    lines = [json.loads(json.loads(x)["line"]) for x in one["trace"].splitlines() if "hold resumed" in x]
    assert abs(lines[0]["timer_seconds"] - (run["budget_seconds"] - used)) <= 5
    assert run["seconds"] >= used
    assert one["metrics"]["status"] == "ok"
    assert not ran(scenario, 1).get("requeue") and not ran(scenario, 2).get("requeue")
    row(
        "`scontrol requeue` of a running agent",
        f"`scontrol requeue {scenario['events']['requeue']}`",
        f"same job resumed the session (restart 1): trace `{' → '.join(notes)}`; "
        f"timer showed {lines[0]['timer_seconds']} s = budget − {used:.0f} s used; "
        f"{run['seconds']:.0f} s counted in total",
        "job/, trace.jsonl, cache overlay (no attempts/)",
        redone(scenario, "requeue"),
    )


def test_slurm_time_limit_fails_the_job_keeps_the_work_and_the_rerun_retries(scenario):
    one = scenario["runs"][0]["cells"]["slurm-limit"]
    job_id = scenario["events"]["slurm-limit"]
    assert one["run"] is None and one["job"] and one["state"]["status"] == "stopped"
    assert f"SLURM-job '{job_id}' failed, SLURM status is: 'TIMEOUT'" in scenario["runs"][0]["output"]
    status = scenario["runs"][0]["status"]["slurm-limit"]
    assert status["state"] == "failed" and "TIME LIMIT" in status["detail"], status
    two = scenario["runs"][1]["cells"]["slurm-limit"]
    assert two["attempts"] == ["1"] and two["run"]["status"] == "finished" and two["metrics"]["status"] == "ok"
    assert ran(scenario, 1)["slurm-limit"] == ["run_agent", "judge", "evaluate"] or sorted(
        ran(scenario, 1)["slurm-limit"]
    ) == ["evaluate", "judge", "run_agent"]
    row(
        "Slurm's time limit",
        f"`scontrol update JobId={job_id} TimeLimit=1` while the agent held",
        f"job failed, SLURM status `TIMEOUT`; status says: `{slurm_part(status['detail'])}`",
        "job/ and trace, then attempts/1/",
        redone(scenario, "slurm-limit"),
    )


def test_agent_over_its_budget_is_stopped_and_still_evaluated(scenario):
    one = scenario["runs"][0]["cells"]["overrun"]
    run = one["run"]
    assert run["status"] == "timeout" and run["final_model"]
    assert run["seconds"] <= run["limit_seconds"] + 5 + 5  # stopped within budget + grace (+ SIGKILL wait)
    assert one["metrics"]["status"] == "ok"
    assert not ran(scenario, 1).get("overrun")
    row(
        "the agent's own time limit",
        "an agent that ignores SIGTERM, budget 18 s + grace 15 s",
        f"run completed: `timeout` after {run['seconds']:.0f} s (SIGTERM, then SIGKILL); its final_model "
        f"evaluated: `{one['metrics']['status']}`",
        "job/, trace.jsonl",
        redone(scenario, "overrun"),
    )


def test_oom_in_evaluation_writes_no_result_and_the_rerun_evaluates_again(scenario):
    one = scenario["runs"][0]["cells"]["oom"]
    assert one["run"]["status"] == "finished" and one["metrics"] is None  # nothing written, nothing to skip
    assert "InfrastructureFault: every attempt was killed by SIGKILL" in one["evaluate_log"]
    status = scenario["runs"][0]["status"]["oom"]
    assert status["state"] == "failed" and status["stage"] == "evaluate"
    assert "killed by SIGKILL" in status["detail"]
    assert "oom/tiny/arith/seed1" in scenario["runs"][0]["cells_csv"]
    two = scenario["runs"][1]["cells"]["oom"]
    assert two["metrics"]["status"] == "ok" and two["run"] == one["run"]
    assert ran(scenario, 1)["oom"] == ["evaluate"]
    row(
        "an OOM in evaluation",
        f"SIGKILL to each evaluation attempt ({scenario['events']['oom_kills']} attempts)",
        "evaluate job failed, no metrics.json: `InfrastructureFault: every attempt was killed by SIGKILL`",
        "run.json, job/, judgement (not redone); the attempts' logs in eval/",
        redone(scenario, "oom"),
    )


def test_corrupt_final_model_is_the_models_fault(scenario):
    one = scenario["runs"][0]["cells"]["corrupt"]
    metrics = one["metrics"]
    assert metrics["status"] == "failed" and metrics["fault"] == "model" and metrics["attempts"] == []
    assert "model.safetensors: truncated" in metrics["reason"]
    # The judge reads the same broken file: a finding (lineage `unreadable`, naming the file), not a crash.
    judgement = one["judgement"]
    assert judgement, f"no judgement after run 1: {scenario['runs'][0]['status']['corrupt']}"
    lineage = next(c for c in judgement["checks"] if c["check"] == "lineage")
    assert lineage["status"] == "unreadable" and not lineage["flag"], lineage
    assert "final_model/model.safetensors: cannot be read (SafetensorError" in lineage["reason"], lineage
    # Judged and evaluated once: the reruns redo nothing for the cell, and its records stay as they were.
    later = [ran(scenario, i).get("corrupt", []) for i in (1, 2)]
    assert later == [[], []], later
    for i in (1, 2):
        assert scenario["runs"][i]["cells"]["corrupt"]["judgement"] == judgement
        assert scenario["runs"][i]["cells"]["corrupt"]["metrics"] == metrics
    (scored,) = [r for r in csv.DictReader(io.StringIO(scenario["runs"][2]["cells_csv"])) if r["agent"] == "corrupt"]
    assert (scored["outcome"], scored["source"]) == ("failed", "base_fallback"), scored
    judged = lineage["reason"].split("final_model/", 1)[-1]
    row(
        "a corrupt `final_model`",
        "an agent that truncates model.safetensors",
        f"evaluation `failed` (fault: model, no attempt made) → base model's score: "
        f"`{metrics['reason'][:70]}`; judged once, lineage `unreadable`: `{judged[:70]}`",
        "job/ with the broken model, metrics.json, judgement.json",
        redone(scenario, "corrupt"),
    )


def test_a_cell_that_fails_every_time_never_blocks_the_leaderboard(scenario):
    for index in (0, 2):
        run = scenario["runs"][index]
        facts = run["cells"]["no-gpu"]
        assert facts["run"] is None and "1 GPU(s) requested but CUDA is not available" in facts["agent_log"]
        assert facts["trace"] == "" and facts["attempts"] == []  # failed before the agent's clock started
        board = run["board"]
        assert board, f"no leaderboard after run {index + 1}"
        line = next(x for x in board.splitlines() if x.startswith("| no-gpu/tiny/arith/seed1"))
        assert "failed in run_agent" in line and "CUDA is not available" in line
        assert "| requeue |" in board
    row(
        "a cell that fails every time",
        "an agent asking for 1 GPU on the test cluster (device files, no CUDA), GPU check on",
        "run_agent fails before the agent's clock: `GpuCheckError: 1 GPU(s) requested but CUDA is not available`",
        "leaderboard written after each run from the cells that are done; this cell listed "
        "`failed in run_agent: … (the next run retries it)`",
        redone(scenario, "no-gpu"),
    )


# --- runs 2 and 3 ---------------------------------------------------------------------


def test_kill9_of_snakemake_then_rerun_takes_over_the_running_agent(scenario):
    orphan = scenario["events"]["snakemake_killed"]
    assert scenario["orphan_alive"] and scenario["orphan_alive"][0] == orphan  # the job outlived Snakemake
    three = scenario["runs"][2]
    facts = three["cells"]["cancel"]
    run = facts["run"]
    assert run["status"] == "finished" and len(run["resumes"]) == 1
    assert f"Slurm job {orphan} still ran this agent" in run["resumes"][0]["reason"]
    assert scenario["cluster"].job_state(orphan) in ("CANCELLED", None)
    notes = trace_notes(facts["trace"])
    assert notes.count("hold start") == 1 and notes.count("hold resumed") == 1
    assert facts["attempts"] == ["1"]  # only the scancel's attempt: the interrupted one was resumed, not retired
    assert sorted(ran(scenario, 2)["cancel"]) == ["evaluate", "judge", "run_agent"]
    assert three["rc"] != 0 and three["board"]
    row(
        "`kill -9` of Snakemake, then rerun",
        f"SIGKILL to `snakemake` while agent job {orphan} ran; `snakemake --unlock`; same command again",
        f"the new job stopped orphan job {orphan} and resumed its session: `{' → '.join(notes)}`; "
        f"{run['resumes'][0]['used_seconds']:.0f} s used before, {run['seconds']:.0f} s in total",
        "job/ and trace in place; the orphan's budget counted",
        f"run 3: {', '.join(ran(scenario, 2)['cancel'])} for that cell (the agent resumed, not restarted)",
    )


def test_status_follows_the_cell_through_the_kill_and_the_unlock(scenario):
    """`python -m workflow status` on the real run: running while its job runs, still running once
    Snakemake is killed (the lock stays: it cannot tell either), interrupted after `--unlock`."""
    status = scenario["runs"][1]["status"]
    live, killed, unlocked = (status[when]["cancel"] for when in ("live", "killed", "unlocked"))
    orphan = scenario["events"]["snakemake_killed"]
    assert (live["state"], live["stage"], live["jobid"]) == ("running", "run_agent", orphan), live
    assert live["agent_seconds"] is not None and live["slurm_log"].endswith(f"{orphan}.log"), live
    assert (killed["state"], killed["stage"]) == ("running", "run_agent"), killed
    assert (unlocked["state"], unlocked["stage"]) == ("failed", "run_agent"), unlocked
    assert "interrupted" in unlocked["detail"] and "--rerun-incomplete" in unlocked["detail"], unlocked


def test_keys_never_written_and_only_where_needed(scenario):
    work = scenario["work"]
    careless = scenario["runs"][0]["cells"]["careless"]
    # The careless agent printed its key: the runner wrote it redacted.
    assert "my key is [redacted OPENAI_API_KEY]" in careless["trace"]
    assert "careless: my key is [redacted OPENAI_API_KEY]" in careless["agent_log"]
    # Its job held its own key and no other (sbatch would have exported the whole login environment).
    assert "runner holds: OPENAI_API_KEY" in trace_notes(careless["trace"])
    # A job that needs no key held none.
    environ = scenario["events"]["kill9_runner_env"]
    assert "PTB_HOLD_FILE=" in environ  # the login environment did travel, keys excepted
    assert not [k for k, v in SENTINEL_KEYS.items() if v in environ]
    files = [p for d in ("results", ".snakemake") for p in (work / d).rglob("*") if p.is_file()]
    assert any("logs/slurm" in str(p) for p in files), "no Slurm log was kept to check"
    for path in files:
        leaked = [k for k, v in SENTINEL_KEYS.items() if v.encode() in path.read_bytes()]
        assert not leaked, f"{leaked} leaked into {path}"
    assert not list((work / ".snakemake" / "ptb-secrets").glob("*.env"))  # key files removed after each run


# --- vLLM failing to start ------------------------------------------------------------


def vllm_config(eval_env: Path) -> dict:
    config = copy.deepcopy(EMBEDDED)
    config["models"]["tiny"]["instruct"] = None
    config["agents"] = {"noop": {"scaffold": "noop", "num_gpus": 0}}
    config["container"]["local_images"] = {"eval": str(eval_env)}
    config["evaluation"] = {
        "backend": "vllm",
        "max_connections": 4,
        "limit": 4,
        "vllm_args": {"gpu_memory_utilization": 0.05, "enforce_eager": True, "max_model_len": 512},
    }
    for stage in ("agent", "evaluate", "cpu"):
        config["slurm"][stage] |= {"mem_gb": 1, "partition": "cpu"}
    return config


@pytest.fixture(scope="module")
def vllm_scenario(slurm_cluster, tmp_path_factory):
    eval_env = REPO / ".venv-vllm"
    if not (eval_env / "bin" / "python").exists():
        pytest.fail(f"the eval environment is not installed at {eval_env} (make install-vllm)")
    work = repo_copy(tmp_path_factory.mktemp("vllm") / "repo")
    env = {**os.environ, **SENTINEL_KEYS, "PYTHONPATH": str(REPO)}
    # An eval image without vLLM (this project's own venv): the server cannot start, for no fault of the model.
    (work / "scenario.yaml").write_text(yaml.safe_dump(vllm_config(REPO / ".venv")))
    first = Run(work, env, "run1")
    while first.running():
        time.sleep(0.5)
    one = {"rc": first.proc.returncode, "output": first.output, "status": status_json(work, env)}
    one["metrics"] = read(cell(work, "noop") / "metrics.json")
    one["log"] = text(cell(work, "noop") / "evaluate.log")
    one["board"] = text(work / "results" / "leaderboard.md")
    # The image fixed: the same command again.
    (work / "scenario.yaml").write_text(yaml.safe_dump(vllm_config(eval_env)))
    second = Run(work, env, "run2")
    while second.running():
        time.sleep(0.5)
    two = {"rc": second.proc.returncode, "output": second.output, "metrics": read(cell(work, "noop") / "metrics.json")}
    return {"work": work, "runs": [one, two], "seconds": first.seconds + second.seconds}


def test_vllm_failing_to_start_is_the_clusters_fault(vllm_scenario):
    one, two = vllm_scenario["runs"]
    assert one["rc"] != 0 and one["metrics"] is None
    assert "InfrastructureFault: the evaluation image lacks a module" in one["log"] and "vllm" in one["log"]
    status = one["status"]["noop"]
    assert status["state"] == "failed" and status["stage"] == "evaluate" and "InfrastructureFault" in status["detail"]
    assert "failed in evaluate" in one["board"]  # the leaderboard was still written
    assert two["rc"] == 0 and two["metrics"]["status"] == "ok"
    rules = jobs_per_agent(two["output"]).get("noop")
    assert rules == ["evaluate"]
    everything = sorted(set(executed_rules(two["output"])))
    row(
        "vLLM failing to start",
        "the eval image without vLLM (`container.local_images.eval` → a venv lacking it)",
        f"evaluate job failed, no metrics.json: `{status['detail'][:230]}`",
        "run.json, job/, judgement (not redone); the failed attempt's logs in eval.previous/",
        f"run 2 (image fixed): {', '.join(everything)}; the cell's metric from vLLM: {two['metrics']['value']}",
    )


# --- a grader key missing -------------------------------------------------------------


def test_a_missing_grader_key_stops_the_run_before_any_job(slurm_cluster, tmp_path):
    work = repo_copy(tmp_path / "repo")
    config = copy.deepcopy(EMBEDDED)
    config["benchmarks"] = {"arith": {"weight": 0.5}, "healthbench": {"weight": 0.5}}
    (work / "scenario.yaml").write_text(yaml.safe_dump(config))
    before = set(jobs_by_comment(slurm_cluster).values())
    env = {**os.environ, **{k: v for k, v in SENTINEL_KEYS.items() if k != "OPENAI_API_KEY"}, "PYTHONPATH": str(REPO)}
    env.pop("OPENAI_API_KEY", None)
    run = Run(work, env, "run1")
    while run.running():
        time.sleep(0.2)
    out = run.output
    assert run.proc.returncode != 0
    line = "benchmarks.healthbench: its grader openai/gpt-5-mini (evaluation.judge_model) needs OPENAI_API_KEY"
    assert "preflight: nothing was submitted" in out and line in out
    assert set(jobs_by_comment(slurm_cluster).values()) <= before and "Submitted" not in out
    assert not (work / "results" / "logs" / "slurm").exists()
    row(
        "a grader key missing",
        "healthbench in the matrix, OPENAI_API_KEY not exported",
        f"refused before any job: `{line}, which is not set where snakemake runs`",
        "nothing was submitted (in a job, a missing key is an InfrastructureFault: no metrics, retried)",
        "—",
    )


def test_write_the_fault_table(scenario, vllm_scenario, tmp_path):
    order = [
        "`kill -9` of the agent mid-run",
        "`scancel` of an agent job",
        "`scontrol requeue` of a running agent",
        "the agent's own time limit",
        "Slurm's time limit",
        "`kill -9` of Snakemake, then rerun",
        "vLLM failing to start",
        "an OOM in evaluation",
        "a grader key missing",
        "a corrupt `final_model`",
        "a cell that fails every time",
    ]
    missing = [fault for fault in order if fault not in ROWS]
    assert not missing, f"rows not produced (their tests failed or did not run): {missing}"
    lines = [
        "| fault | injected | outcome (named) | kept | what the reruns redid |",
        "|---|---|---|---|---|",
    ]
    for fault in order:
        r = ROWS[fault]
        cells = [fault, r["injected"], r["outcome"], r["kept"], r["rerun"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    runs = "/".join(f"{r['seconds']:.0f}" for r in scenario["runs"])
    table = "\n".join(lines) + (
        f"\n\nWall time on the single-node test cluster: fault scenario {scenario['seconds']:.0f} s "
        f"(runs {runs} s), vLLM scenario {vllm_scenario['seconds']:.0f} s.\n"
    )
    out = Path(os.environ.get("PTB_FAULT_TABLE") or tmp_path / "fault_table.md")
    out.write_text(table)
    print(f"\nFault table ({out}):\n{table}")
