"""An agent cell across jobs: what a new job does with what the last one left, resuming with
the budget that remains, and what the runner writes (keys redacted, nothing left running)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.pipeline import REPO
from workflow.agent.attempts import (
    FRESH,
    REPUBLISH,
    RESUME,
    RETIRE,
    JobLook,
    Owner,
    attempt_folders,
    plan_start,
    read_state,
    retire,
    write_state,
)
from workflow.paths import AGENT_STATE

ME = Owner(slurm_job_id="41", restarts=0, host=os.uname().nodename, pid=os.getpid())
COMMENT_OK = JobLook("RUNNING", True)


def state(status="running", job="40", used=120.0, **extra):
    owner = {"slurm_job_id": job, "restarts": 0, "host": "node1", "pid": 1}
    return {"owner": owner, "status": status, "budget_seconds": 3600, "used_seconds": used, "resumes": []} | extra


def cell_with(tmp_path, st=None, job=True) -> Path:
    cell = tmp_path / "cell"
    cell.mkdir()
    if job:
        (cell / "job").mkdir()
        (cell / "job" / "work.txt").write_text("the agent's work")
    if st is not None:
        write_state(cell, st)
    return cell


def never(job_id):
    raise AssertionError("Slurm was asked about a job although the plan did not need it")


def test_first_run_is_fresh(tmp_path):
    assert plan_start(cell_with(tmp_path, job=False), ME, never).action == FRESH


def test_a_finished_agent_is_never_run_again(tmp_path):
    cell = cell_with(tmp_path, state("complete", record={"status": "finished", "seconds": 5}))
    plan = plan_start(cell, ME, never)
    assert plan.action == REPUBLISH and plan.state["record"]["status"] == "finished"


def test_slurm_requeue_resumes_in_the_same_job(tmp_path):
    cell = cell_with(tmp_path, state("stopped", job="41"))
    plan = plan_start(cell, Owner("41", 1, "node2", 7), never)
    assert plan.action == RESUME and "requeued job 41" in plan.reason and not plan.take_over


def test_a_job_still_running_the_agent_is_taken_over(tmp_path):
    cell = cell_with(tmp_path, state("running", job="40"))
    plan = plan_start(cell, ME, lambda j: COMMENT_OK)
    assert plan.action == RESUME and plan.take_over == "40"


def test_a_dead_job_is_retired_and_a_reused_job_id_is_not_mistaken_for_it(tmp_path):
    cell = cell_with(tmp_path, state("running", job="40"))
    plan = plan_start(cell, ME, lambda j: JobLook("CANCELLED", True))
    assert plan.action == RETIRE and "Slurm job 40 ended mid-run (CANCELLED)" in plan.reason
    # Job id 40 now belongs to another cell's job (ids restart): ours is gone, not running.
    plan = plan_start(cell, ME, lambda j: JobLook("RUNNING", False))
    assert plan.action == RETIRE and "(gone)" in plan.reason


def test_checks_that_failed_before_the_clock_leave_nothing_to_keep(tmp_path):
    cell = cell_with(tmp_path, state("starting", used=0.0))
    plan = plan_start(cell, ME, never)
    assert plan.action == FRESH and plan.discard_handout


def test_a_job_folder_without_state_is_retired_not_deleted(tmp_path):
    assert plan_start(cell_with(tmp_path), ME, never).action == RETIRE


def test_local_runner_still_alive_is_stopped_and_taken_over(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        st = state("running", job=None) | {"owner": {"host": ME.host, "pid": sleeper.pid, "slurm_job_id": None}}
        plan = plan_start(cell_with(tmp_path, st), Owner(None, 0, ME.host, os.getpid()), never)
        assert plan.action == RESUME and plan.stop_pid == sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def test_retire_moves_the_attempt_aside_with_a_note(tmp_path):
    cell = cell_with(tmp_path, state("stopped"))
    for name in ("trace.jsonl", "monitor.jsonl", "handout.json", "agent.log"):
        (cell / name).write_text(name)
    (cell / "hf_overlay" / "upper" / "datasets").mkdir(parents=True)
    (cell / "slurm-agent-40.log").symlink_to("/nonexistent/40.log")
    first = retire(cell, "Slurm job 40 ended mid-run (TIMEOUT)")
    assert first == cell / "attempts" / "1"
    assert (first / "job" / "work.txt").read_text() == "the agent's work"
    assert {p.name for p in first.iterdir()} >= {"job", "trace.jsonl", "monitor.jsonl", AGENT_STATE, "hf_overlay_upper"}
    assert (first / "slurm-agent-40.log").is_symlink()
    note = json.loads((first / "attempt.json").read_text())
    assert note["reason"] == "Slurm job 40 ended mid-run (TIMEOUT)" and "job" in note["moved"]
    assert not (cell / "job").exists() and (cell / "agent.log").exists()  # the rule's log goes on
    (cell / "job").mkdir()
    assert retire(cell, "again") == cell / "attempts" / "2"
    assert [p.name for p in attempt_folders(cell)] == ["1", "2"]


# --- the runner in a process of its own, as a job runs it ---------------------------------

DRIVER = """
import json, os, sys
from pathlib import Path
from workflow.agent.attempts import BudgetClock, Owner, new_state, read_state, resumed_state, write_state
from workflow.agent.handout import write_timer
from workflow.agent.runner import AGENTS, AgentSpec, Stopped, agent_env, preemption_message, run_agent
import time

cell, hold, resume = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "resume"
job = cell / "job"
job.mkdir(exist_ok=True)
spec = AgentSpec(name="hold", scaffold="test-hold", model=None, hours=0.5, grace_minutes=0, num_gpus=0,
                 kill_after_seconds=2)
me = Owner("77", int(resume), "node", os.getpid())
state = resumed_state(read_state(cell), me, "requeued") if resume else new_state(me, spec.budget_seconds)
write_state(cell, state)
clock = BudgetClock(cell, state, interval=0.5)
left = spec.budget_seconds - clock.used_before
write_timer(job, int(time.time() + left))
model = cell.parent / "model"
model.mkdir(exist_ok=True)
(model / "config.json").write_text("{}")
env = agent_env(spec, job, str(cell / "hf"), internet=False) | {"PTB_HOLD_FILE": hold, "PTB_BASE_MODEL": str(model)}
env["OPENAI_API_KEY"] = os.environ["OPENAI_API_KEY"]
try:
    record = run_agent(spec, ["bash", str(AGENTS / "test-hold" / "solve.sh")], job, env, cell / "trace.jsonl",
                       cell / "agent.log", clock=clock, resume=preemption_message(left) if resume else None)
except Stopped:
    sys.exit(143)
print(json.dumps(record))
"""


def start_driver(cell: Path, hold: Path, mode: str, key: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENAI_API_KEY": key}
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(cell), str(hold), mode],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def trace_events(cell: Path) -> list[dict]:
    return [json.loads(line) for line in (cell / "trace.jsonl").read_text().splitlines()]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_stopped_job_keeps_the_budget_used_and_the_next_resumes_the_session(tmp_path):
    cell = tmp_path / "cell"
    cell.mkdir()
    hold = tmp_path / "hold"
    hold.write_text("hold")
    first = start_driver(cell, hold, "fresh", "sk-test-0123456789abc")
    wait_for(lambda: (cell / "trace.jsonl").exists() and "hold start" in (cell / "trace.jsonl").read_text())
    time.sleep(2)
    first.send_signal(signal.SIGTERM)  # what Slurm sends on requeue, cancel or time limit
    assert first.wait(timeout=30) == 143
    stopped = read_state(cell)
    assert stopped["status"] == "stopped" and "SIGTERM" in stopped["stop_reason"]
    assert 2 <= stopped["used_seconds"] < 15

    hold.unlink()
    second = start_driver(cell, hold, "resume", "sk-test-0123456789abc")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["status"] == "finished" and len(record["resumes"]) == 1
    assert record["seconds"] >= stopped["used_seconds"]  # the budget counts both jobs
    events = trace_events(cell)
    notes = [json.loads(e["line"]) for e in events if "line" in e and e["line"].startswith("{")]
    runner = [e["runner"]["event"] for e in events if "runner" in e]
    assert [n["text"] for n in notes] == ["hold start", "hold resumed", "hold done"]  # one trace, one start
    assert runner == ["stopped", "resume"]
    # The resumed agent's timer shows what is left of the budget, not a fresh one.
    left = notes[1]["timer_seconds"]
    assert abs(left - (1800 - stopped["used_seconds"])) <= 3
    assert read_state(cell)["status"] == "complete"


def _running(marker: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                return True
        except OSError:
            continue
    return False


CARELESS = textwrap.dedent("""
    echo "my key is $OPENAI_API_KEY"
    echo "stderr too: $OPENAI_API_KEY" >&2
    sleep {marker} &
    echo started
    sleep {marker}
""")


def test_killed_agent_is_an_ending_its_keys_are_redacted_and_nothing_is_left_running(tmp_path):
    from workflow.agent.runner import AgentSpec, run_agent

    key = "sk-careless-5f2e9d1c0b"
    job = tmp_path / "job"
    job.mkdir()
    spec = AgentSpec(name="a", scaffold="test-hold", model=None, hours=1, grace_minutes=0, num_gpus=0)
    env = {"PATH": os.environ["PATH"], "OPENAI_API_KEY": key, "MARK": str(tmp_path)}
    script = tmp_path / "careless.sh"
    marker = f"300.{os.getpid()}{int(time.time()) % 1000}"  # a sleep no other process runs
    script.write_text(CARELESS.format(marker=marker))

    def kill_when_started():
        wait_for(lambda: (tmp_path / "trace.jsonl").exists() and "started" in (tmp_path / "trace.jsonl").read_text())
        pid = next(int(p.parent.name) for p in Path("/proc").glob("[0-9]*/cmdline")
                   if str(script) in p.read_bytes().decode(errors="replace"))  # fmt: skip
        os.kill(pid, signal.SIGKILL)  # the kernel's OOM killer, or an admin

    import threading

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    try:
        from workflow.secrets import Redactor

        record = run_agent(
            spec, ["bash", str(script)], job, env, tmp_path / "trace.jsonl", tmp_path / "agent.log",
            redact=Redactor(env),
        )  # fmt: skip
    finally:
        killer.join()
    assert record["status"] == "killed" and record["signal"] == "SIGKILL"
    for name in ("trace.jsonl", "agent.log"):
        text = (tmp_path / name).read_text()
        assert key not in text and "[redacted OPENAI_API_KEY]" in text, name
    assert not _running(f"sleep\0{marker}")  # the agent's background process went with it


@pytest.mark.parametrize("rc,expected", [(-9, "SIGKILL"), (137, "SIGKILL"), (143, "SIGTERM"), (1, None), (0, None)])
def test_signal_names(rc, expected):
    from workflow.agent.runner import signal_name

    assert signal_name(rc) == expected
